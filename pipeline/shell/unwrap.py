"""What a simple command really runs, seen through wrappers such as sudo, env, nice and xargs.

`sudo -u root env A=1 nice -n 5 /bin/rm -rf /` runs `rm -rf /`; `sh -c '...'`, `eval ...` and
`su -c ...` run shell text that must be parsed again; `find ... -exec rm {} ;` spawns a command;
`curl ... | sh` makes `sh` read its script from its input. This module knows those shapes (the
wrappers are data: configs/wrappers.toml); it knows nothing about danger.
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from pipeline.shell.finders import find_exec, find_paths, find_roots
from pipeline.shell.words import DYNAMIC, PROCSUB_MARK, is_dynamic

__all__ = ["INPUT_MARK", "INTERPRETERS", "MAX_WRAPPERS", "SHELLS", "Invocation", "Wrapper", "default_wrappers", "find_paths", "find_roots", "interpreter", "load_wrappers", "unwrap", "utility_name"]

INPUT_MARK = f"{DYNAMIC}$__CARO_INPUT{DYNAMIC}"  # arguments that xargs reads from its input
MAX_WRAPPERS = 16

SHELLS = frozenset({"sh", "bash", "rbash", "zsh", "dash", "ksh", "ksh93", "mksh", "pdksh", "oksh", "ash", "fish", "csh", "tcsh", "yash", "posh", "elvish", "nu", "xonsh"})
INTERPRETERS = frozenset({"python", "python2", "python3", "pypy", "pypy3", "perl", "ruby", "node", "nodejs", "deno", "bun", "php", "lua", "tclsh", "osascript", "jshell", "irb", "pwsh"})
_CODE_FLAGS = {"python": "-c", "pypy": "-c", "perl": "-e", "ruby": "-e", "node": "-e", "nodejs": "-e", "deno": "eval", "bun": "-e", "php": "-r", "lua": "-e", "osascript": "-e", "tclsh": "", "pwsh": "-c"}
_FAMILY = re.compile(r"(python|pypy|perl|ruby|nodejs|node|php|lua|bash|zsh|ksh|sh)[0-9][0-9.]*")
_INPUT_FILES = frozenset({"/dev/stdin", "-", "/dev/fd/0", "/proc/self/fd/0", "/proc/thread-self/fd/0"})
_SHELL_VALUE_OPTS = frozenset({"-o", "+o", "-O", "+O", "--rcfile", "--init-file"})
_SSH_VALUE = "bcDEeFIiJLlmOopQRSWwB"
WRAPPERS_FILE = Path(__file__).resolve().parents[2] / "configs" / "wrappers.toml"
_WRAPPER_KEYS = frozenset({"why", "short_value", "long_value", "assignments", "positional", "privileged", "command_option", "needs_command", "joins", "not_with", "stop_at"})


@dataclass(frozen=True)
class Wrapper:
    """How a wrapper takes its options and where its command is (one `[wrapper.NAME]` table)."""

    short_value: str = ""
    long_value: frozenset[str] = frozenset()
    assignments: bool = False
    positional: int = 0
    privileged: bool = False
    command_option: tuple[str, ...] = ()
    needs_command: bool = False
    joins: bool = False
    not_with: frozenset[str] = frozenset()
    stop_at: str | None = None


_XARGS = Wrapper("adEILnPs", frozenset({"--arg-file", "--delimiter", "--eof", "--replace", "--max-lines", "--max-args", "--max-procs", "--max-chars", "--process-slot-var"}))


def load_wrappers(path: Path) -> dict[str, Wrapper]:
    """The `[wrapper.NAME]` tables of one TOML file; ValueError with the file's name when malformed."""
    try:
        with path.open("rb") as handle:
            data = tomllib.load(handle)
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise ValueError(f"{path.name}: cannot read wrappers ({exc})") from None
    return wrappers_from(data.get("wrapper") or {}, path.name)


def wrappers_from(tables: object, source: str) -> dict[str, Wrapper]:
    """Wrappers from parsed `[wrapper.NAME]` tables."""
    if not isinstance(tables, dict):
        raise ValueError(f"{source}: `wrapper` must be a table of tables")
    found: dict[str, Wrapper] = {}
    for name, table in tables.items():
        if not isinstance(table, dict) or set(table) - _WRAPPER_KEYS or not isinstance(table.get("why"), str):
            raise ValueError(f"{source}: wrapper {name!r} needs a `why` and only the keys {sorted(_WRAPPER_KEYS)}")
        found[name.lower()] = Wrapper(
            short_value=str(table.get("short_value", "")),
            long_value=frozenset(table.get("long_value", [])),
            assignments=bool(table.get("assignments", False)),
            positional=int(table.get("positional", 0)),
            privileged=bool(table.get("privileged", False)),
            command_option=tuple(table.get("command_option", [])),
            needs_command=bool(table.get("needs_command", False)),
            joins=bool(table.get("joins", False)),
            not_with=frozenset(table.get("not_with", [])),
            stop_at=table.get("stop_at"),
        )
    return found


@cache
def default_wrappers() -> Mapping[str, Wrapper]:
    """The wrappers shipped in configs/wrappers.toml (read once per process)."""
    return load_wrappers(WRAPPERS_FILE)


@dataclass(frozen=True)
class Invocation:
    """The command a simple command actually runs, and how it was reached."""

    argv: tuple[str, ...]  # argv[0] is the utility's basename in lower case
    wrappers: tuple[str, ...] = ()  # wrappers seen through, outermost first
    privileged: bool = False  # reached through sudo, doas, su, pkexec or run0
    scripts: tuple[str, ...] = ()  # shell text it runs (sh -c, eval, su -c, watch, ssh, env -S)
    script_input: bool = False  # runs code from its input, a `<(...)` file, or text built at run time
    code: str | None = None  # inline interpreter code (python -c, perl -e ...)
    spawned: tuple[tuple[str, ...], ...] = ()  # commands it starts itself (find -exec)
    too_deep: bool = False  # more wrappers than MAX_WRAPPERS
    script_file: str | None = None  # the script file a shell or interpreter runs (`bash x.sh`)
    program: str | None = None  # the command word as written when it is a path (`./x`, `/usr/bin/ls`)
    module: str | None = None  # the module `python -m MODULE` runs

    @property
    def name(self) -> str:
        """The utility's name, or '' when there is none."""
        return self.argv[0] if self.argv else ""


def utility_name(word: str) -> str:
    """The name a command word runs: basename, lower case (macOS file systems ignore case)."""
    return word.rsplit("/", 1)[-1].lower() if "/" in word and not is_dynamic(word) else word.lower()


def interpreter(name: str) -> str:
    """The family of a versioned name (`python3.11` -> `python`, `bash5.2` -> `bash`), else the name."""
    match = _FAMILY.fullmatch(name)
    if match is None:
        return name
    return {"nodejs": "node"}.get(match.group(1), match.group(1))


def unwrap(
    argv: Sequence[str], *, xargs_input: Sequence[str] = (INPUT_MARK,), wrappers: Mapping[str, Wrapper] | None = None
) -> Invocation:
    """See through wrappers to the command that runs; `xargs_input` stands for what xargs reads."""
    table = default_wrappers() if wrappers is None else wrappers
    args = list(argv)
    seen: list[str] = []
    privileged = False
    scripts: list[str] = []
    for _ in range(MAX_WRAPPERS):
        if not args:
            break
        name = utility_name(args[0])
        if name == "xargs":
            args = _xargs(args, xargs_input)
            seen.append(name)
            continue
        spec = table.get(name)
        if spec is None:
            break
        own = args[1 : len(args) - len(_after_options(args, spec))] if spec.not_with else []
        if any(w in spec.not_with for w in own):  # `sudo -l`, `command -v rm`: its own options, not the command's
            break
        if name == "env":
            split = _value_of(args[1:], "-S", "--split-string")
            if split is not None:
                scripts.append(split)
        if spec.command_option:
            command = next((v for opt in spec.command_option if (v := _value_of(args[1:], opt, opt)) is not None), None)
            if command is not None:
                seen.append(name)
                return _finish([name], seen, privileged or spec.privileged, scripts + [command])
            if spec.needs_command:
                break
        elif spec.needs_command:
            break
        rest = _after_options(args, spec)
        if not rest:
            break  # `sudo -i`, `env` alone: the wrapper itself is the command
        seen.append(name)
        privileged = privileged or spec.privileged
        if spec.joins and "-x" not in args and "--exec" not in args:
            return _finish([name], seen, privileged, scripts + [" ".join(rest)])
        if spec.stop_at is not None and spec.stop_at in rest:
            cut = rest.index(spec.stop_at)
            command_words, values = rest[:cut], [w for w in rest[cut + 1 :] if w != spec.stop_at]
            if len(command_words) == 1 and " " in command_words[0]:
                text = command_words[0]
                text = text.replace("{}", values[0]) if "{}" in text and values else f"{text} {' '.join(values)}"
                return _finish([name], seen, privileged, scripts + [text])
            rest = command_words + values
        args = rest
    else:
        return _finish(args, seen, privileged, scripts, too_deep=True)
    return _finish(args, seen, privileged, scripts)


def _xargs(args: list[str], xargs_input: Sequence[str]) -> list[str]:
    rest = _after_options(args, _XARGS)
    replace = _xargs_replace(args[1 : len(args) - len(rest)])
    rest = rest or ["echo"]
    if replace is None:
        return rest + list(xargs_input)
    rest = [rest[0]] + [w.replace(replace, xargs_input[0]) if replace in w else w for w in rest[1:]]
    return rest if any(xargs_input[0] in w for w in rest[1:]) else rest + list(xargs_input)


def _finish(args: list[str], wrappers: list[str], privileged: bool, scripts: list[str], *, too_deep: bool = False) -> Invocation:
    """Work out what the innermost command runs: shell text, its input, interpreter code, -exec."""
    name = utility_name(args[0]) if args else ""
    program = args[0] if args and "/" in args[0] and not is_dynamic(args[0]) else None
    argv = (name, *args[1:]) if args else ()
    family = interpreter(name)
    module = _module(argv) if family in ("python", "pypy") else None
    if module == "pip":  # `python3 -m pip install x` is pip
        at = argv.index("-m")
        argv, family, name, module = ("pip", *argv[at + 2 :]), "pip", "pip", None
    script_input = False
    code: str | None = None
    spawned: tuple[tuple[str, ...], ...] = ()
    script_file: str | None = None
    if family in SHELLS:
        text, reads_input, script_file = _shell_script(argv)
        if text is not None:
            scripts.append(text)
            script_input = is_dynamic(text)
        script_input = script_input or reads_input
    elif name == "eval":
        text = " ".join(argv[1:])
        scripts.append(text)
        script_input = is_dynamic(text)
    elif name in ("source", "."):
        script_input = len(argv) > 1 and _is_input_file(argv[1])
        script_file = argv[1] if len(argv) > 1 and not script_input else None
    elif family in INTERPRETERS:
        code, script_input, script_file = _interpreter(argv, family)
    elif name in ("at", "batch"):  # runs the shell text it reads, later
        script_file = _value_of(argv[1:], "-f", "--file")
        script_input = script_file is None and not any(w in ("-l", "-r", "-d", "-c", "-q") for w in argv[1:2])
    elif name == "ssh":
        remote = _ssh_command(argv)
        if remote:
            scripts.append(remote)
    elif name == "find":
        spawned = find_exec(argv)
    return Invocation(
        argv=argv,
        wrappers=tuple(wrappers),
        privileged=privileged,
        scripts=tuple(scripts),
        script_input=script_input,
        code=code,
        spawned=spawned,
        too_deep=too_deep,
        script_file=script_file,
        program=program,
        module=module,
    )


def _module(argv: Sequence[str]) -> str | None:
    for i, word in enumerate(argv[1:-1], start=1):
        if word == "-m":
            return argv[i + 1]
        if not word.startswith("-") or word == "-c":
            return None
    return None


def _after_options(args: list[str], opts: Wrapper) -> list[str]:
    """The words after a wrapper's own options, assignments and positional operands."""
    i, n = 1, len(args)
    while i < n:
        word = args[i]
        if word == "--":
            i += 1
            break
        if word.startswith("--"):
            key = word.split("=", 1)[0]
            i += 2 if key in opts.long_value and "=" not in word else 1
            continue
        if word.startswith("-") and len(word) > 1:
            i += 1
            for pos, letter in enumerate(word[1:], start=1):
                if letter in opts.short_value:
                    if pos == len(word) - 1:
                        i += 1  # the value is the next word
                    break
            continue
        if opts.assignments and "=" in word and not word.startswith("=") and word.split("=", 1)[0].replace("_", "a").isalnum():
            i += 1
            continue
        break
    i += opts.positional
    return args[i:] if i < n else []


def _value_of(args: Sequence[str], short: str, long: str) -> str | None:
    """The value of an option given as `-c VALUE`, `-cVALUE`, `--long VALUE` or `--long=VALUE`."""
    for i, word in enumerate(args):
        if word in (short, long):
            return args[i + 1] if i + 1 < len(args) else None
        if long.startswith("--") and word.startswith(long + "="):
            return word[len(long) + 1 :]
        if not short.startswith("--") and word.startswith(short) and len(word) > len(short) and not word.startswith("--"):
            return word[len(short) :]
        if len(short) == 2 and word.startswith("-") and not word.startswith("--") and word.endswith(short[1]) and word[1:].isalpha():
            return args[i + 1] if i + 1 < len(args) else None  # `-qc CMD`: clustered with other flags
    return None


def _xargs_replace(options: Sequence[str]) -> str | None:
    for i, word in enumerate(options):
        if word == "-I" and i + 1 < len(options):
            return options[i + 1]
        if word.startswith("-I") and len(word) > 2:
            return word[2:]
        if word.startswith("--replace"):
            return word.split("=", 1)[1] if "=" in word else "{}"
        if word == "-i":
            return "{}"
    return None


def _shell_script(argv: Sequence[str]) -> tuple[str | None, bool, str | None]:
    """For `sh [options] [-c text | file]`: the text it runs, whether it reads code from input, its file."""
    if len(argv) > 1 and all(w in _INFO_FLAGS for w in argv[1:]):
        return None, False, None  # `bash --version` runs no code
    i, n = 1, len(argv)
    command_mode = False
    stdin_mode = False
    while i < n:
        word = argv[i]
        if word in ("--", "-"):
            i += 1
            stdin_mode = stdin_mode or word == "-"
            break
        if word in _SHELL_VALUE_OPTS:
            i += 2
            continue
        if word.startswith("--"):
            i += 1
            continue
        if (word.startswith("-") or word.startswith("+")) and len(word) > 1:
            command_mode = command_mode or "c" in word[1:]
            stdin_mode = stdin_mode or "s" in word[1:]
            i += 1
            continue
        break
    if command_mode:
        return (argv[i] if i < n else ""), False, None
    if i >= n or stdin_mode:
        return None, True, None
    reads = _is_input_file(argv[i])
    return None, reads or is_dynamic(argv[i]), None if reads else argv[i]


def _is_input_file(word: str) -> bool:
    return word in _INPUT_FILES or word == PROCSUB_MARK or word.startswith(PROCSUB_MARK)


_INFO_FLAGS = frozenset({"--version", "-V", "-v", "--help", "-h", "-version", "-help"})


def _interpreter(argv: Sequence[str], family: str) -> tuple[str | None, bool, str | None]:
    """Inline code of `python -c`, `perl -e` ..., whether the interpreter reads code from input, its file."""
    if len(argv) > 1 and all(w in _INFO_FLAGS for w in argv[1:]):
        return None, False, None  # `python3 --version` runs no code
    flag = _CODE_FLAGS.get(family, "-e")
    for i, word in enumerate(argv[1:], start=1):
        clustered = flag.startswith("-") and word.startswith("-") and not word.startswith("--") and word.endswith(flag[1]) and word[1:].isalpha()
        if flag and (word == flag or clustered):
            code = argv[i + 1] if i + 1 < len(argv) else ""
            return code, is_dynamic(code), None
        if word == "-m":
            return None, False, None
        if word == "-":
            return None, True, None
        if not word.startswith("-"):
            reads = _is_input_file(word)
            return None, reads or is_dynamic(word), None if reads else word
    return None, True, None


def _ssh_command(argv: Sequence[str]) -> str | None:
    """The remote command of `ssh [options] host command...`, joined as the remote shell reads it."""
    i, n = 1, len(argv)
    while i < n:
        word = argv[i]
        if word == "--":
            i += 1
            break
        if word.startswith("-") and len(word) > 1:
            i += 2 if word[-1] in _SSH_VALUE and len(word) == 2 else 1
            continue
        break
    return " ".join(argv[i + 1 :]) if i + 1 < n else None
