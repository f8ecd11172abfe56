"""The request path without typer: `caro [OPTIONS] REQUEST...` and `caro check [OPTIONS] CMD`.

Importing typer costs more than the whole answer of a warm service, so the console script
parses these two commands by hand, with the same options and the same routing as the typer
app (`pipeline/cli/app.py`, still the one definition of every option and its help; a test
compares the tables below with it). Whenever this parser is not sure that it reads argv the
way click would (--help, an unknown or clustered option, a value that looks like an option,
a bad choice, a subcommand), `parse` returns None and typer handles the whole command line,
so every error message is typer's own.

Light on purpose: os and sys, the light client, and nothing else until a fallback needs it.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping

TYPE_CHECKING = False  # typing's own flag, without importing typing (2 ms) on the request path
if TYPE_CHECKING:
    from typing import Any

# The typer app's command names: a first positional word among them is not a request.
COMMANDS = ("run", "check", "explain", "init", "dag", "eval", "serve", "config", "model", "telemetry")

CHOICES = {
    "output": ("plain", "json", "yaml"),
    "shell": ("sh", "bash", "zsh", "dash", "ksh"),
    "safety": ("strict", "moderate", "permissive"),
}
# option string -> (parameter, kind): "flag", "text", or "choice" (one of CHOICES[parameter]).
RUN_OPTIONS: dict[str, tuple[str, str]] = {
    "--prompt": ("prompt", "text"), "-p": ("prompt", "text"),
    "--output": ("output", "choice"), "-o": ("output", "choice"),
    "--shell": ("shell", "choice"),
    "--safety": ("safety", "choice"),
    "--execute": ("execute", "flag"), "-x": ("execute", "flag"),
    "--yes": ("yes", "flag"), "-y": ("yes", "flag"),
    "--dry-run": ("dry_run", "flag"),
    "--verbose": ("verbose", "flag"), "-v": ("verbose", "flag"),
    "--count": ("count", "count"), "-n": ("count", "count"),
    "--config": ("config", "text"),
}
CHECK_OPTIONS: dict[str, tuple[str, str]] = {
    flag: spec for flag, spec in RUN_OPTIONS.items() if spec[0] in ("output", "shell", "safety", "config")
}
_RUN_DEFAULTS = {"prompt": None, "output": None, "shell": None, "safety": None, "execute": False, "yes": False,
                 "dry_run": False, "verbose": False, "config": None, "count": 1}
COUNTS = ("1", "2", "3")  # -n's range (typer's IntRange(1, 3) in app.py): anything else is typer's to report


def parse(argv: list[str]) -> dict[str, Any] | None:
    """The command ("run", "check" or "version") and its parameters, as typer would parse them; None: let typer do it."""
    if argv == ["--version"]:
        return {"command": "version"}
    if argv and argv[0] in ("-h", "--help", "--version"):
        return None
    if not argv and (sys.stdin is None or sys.stdin.isatty()):
        return None  # `caro` alone at a terminal: typer prints the usage
    if argv[:1] == ["help"] and (len(argv) == 1 or argv[1] in COMMANDS):
        return None  # `caro help [COMMAND]` (`caro help me find ...` is a request)
    index = 0
    while index < len(argv):  # the routing of RequestRoutingGroup._route
        word = argv[index]
        if word == "--":
            break
        if word.startswith("-") and len(word) > 1:
            index += 2 if RUN_OPTIONS.get(word, ("", "flag"))[1] != "flag" else 1
            continue
        if word in ("run", "check"):  # `caro run REQUEST` is `caro REQUEST`
            return _parse_command(word, [*argv[:index], *argv[index + 1 :]], RUN_OPTIONS if word == "run" else CHECK_OPTIONS)
        if word in COMMANDS:
            return None
        break
    return _parse_command("run", argv, RUN_OPTIONS)


def _parse_command(command: str, args: list[str], options: dict[str, tuple[str, str]]) -> dict[str, Any] | None:
    params: dict[str, Any] = {name: _RUN_DEFAULTS[name] for name, _ in options.values()}
    words: list[str] = []
    rest = iter(args)
    for token in rest:
        if token == "--":
            words.extend(rest)
            break
        if not token.startswith("-") or token == "-":
            words.append(token)
            continue
        name, equals, value = token.partition("=") if token.startswith("--") else (token, "", "")
        spec = options.get(name)
        if spec is None:  # --help, -h, an unknown option, a cluster such as -xy: typer's to judge
            return None
        parameter, kind = spec
        if kind == "flag":
            if equals:
                return None
            params[parameter] = True
            continue
        if not equals:
            value = next(rest, None)
            if value is None or value.startswith("-"):
                return None
        if kind == "choice":
            value = value.lower()
            if value not in CHOICES[parameter]:
                return None
        if kind == "count":
            if value.strip() not in COUNTS:
                return None
            value = int(value)
        params[parameter] = value
    return {"command": command, "words": words, **params}


def service_wanted(environ: Mapping[str, str], config: str | None) -> bool | None:
    """Whether `serve.enabled` is on, read cheaply: None when only the full settings can tell."""
    value = environ.get("CARO_SERVE_ENABLED")
    if value:
        text = value.strip().lower()
        return True if text in ("1", "true", "yes", "on") else False if text in ("0", "false", "no", "off") else None
    path = config or environ.get("CARO_CONFIG") or default_config_file(environ)
    if path is None:
        return None
    try:
        with open(path, "rb") as handle:
            data = handle.read()
    except (FileNotFoundError, NotADirectoryError):
        return True
    except OSError:
        return None
    # Only a config file that mentions the service needs reading as TOML.
    return True if b"serve" not in data else None


def default_config_file(environ: Mapping[str, str]) -> str | None:
    """The user config file `pipeline/paths.py` finds, where it is easy to know without platformdirs."""
    home = environ.get("CARO_HOME")
    if home:
        return os.path.join(os.path.expanduser(home), "config.toml")
    if sys.platform.startswith("linux"):
        base = environ.get("XDG_CONFIG_HOME", "").strip() or os.path.expanduser("~/.config")
        return os.path.join(base, "caro", "config.toml")
    return None


def run_parsed(parsed: dict[str, Any]) -> int:
    """Answer a parsed request or check through the service; in this process when it cannot."""
    from pipeline.cli.text import read_text, stdin_has_text

    if parsed["command"] == "version":  # what typer's eager --version prints
        from pipeline import __version__

        sys.stdout.write(f"caro {__version__}\n")
        return 0
    command, words = parsed["command"], parsed["words"] or None
    prompt = parsed.get("prompt")
    several_run = parsed.get("count", 1) > 1 and (parsed.get("execute") or parsed.get("yes"))
    if several_run or (prompt is not None and words) or (prompt is None and not words and not stdin_has_text()):
        # A usage error, said in this process's order (a broken config file is reported first).
        return _here(parsed, words, prompt, service=False)
    wanted = service_wanted(os.environ, parsed["config"])
    if wanted is None:  # the settings must be read in full to know: the typer command's path does
        return _here(parsed, words, prompt, service=True)
    if not wanted:
        return _here(parsed, words, prompt, service=False)
    text = read_text(words, prompt, what="request" if command == "run" else "command")
    flags = {k: v for k, v in parsed.items() if k not in ("command", "words", "prompt")}
    if flags["config"] is not None:
        flags["config"] = os.path.abspath(flags["config"])
    from pipeline.cli.remote import ask_service
    from pipeline.serve.endpoint import Unavailable

    try:
        return ask_service(command, text, flags, verbose=bool(parsed.get("verbose")))
    except Unavailable as gone:
        if parsed.get("verbose"):
            sys.stderr.write(f"caro: answering in this process: {gone.reason}\n")
        return _here(parsed, None, text, service=False)


def _here(parsed: dict[str, Any], words: list[str] | None, prompt: str | None, *, service: bool) -> int:
    """Run the typer command's own function (text already read comes as -p, or as the check's words)."""
    from pathlib import Path

    from pipeline.cli.run import check_command, run_request
    from pipeline.settings import OutputFormat
    from pipeline.values import SafetyLevel, Shell

    common = {
        "output": OutputFormat(parsed["output"]) if parsed["output"] else None,
        "shell": Shell(parsed["shell"]) if parsed["shell"] else None,
        "safety": SafetyLevel(parsed["safety"]) if parsed["safety"] else None,
        "config": Path(parsed["config"]) if parsed["config"] is not None else None,
        "service": service,
    }
    if parsed["command"] == "check":
        return check_command(words=words if prompt is None else [prompt], **common)
    return run_request(
        words=words, prompt=prompt, execute=parsed["execute"], yes=parsed["yes"], dry_run=parsed["dry_run"],
        verbose=parsed["verbose"], count=parsed["count"], **common,
    )
