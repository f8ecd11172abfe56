"""The typer app: `caro [run] REQUEST...`, `caro check`, `caro dag`, `caro config ...`.

Thin by design: each command parses options, calls the library, and renders. Heavy imports
(Hamilton, tree-sitter, graphviz) happen inside the command that needs them.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Container
from pathlib import Path
from typing import Annotated, Optional

import typer
import typer.core

from pipeline import __version__
from pipeline.cli._click import Context, HelpFormatter
from pipeline.errors import ExitCode
from pipeline.cli.options import ConfigOpt, OutputOpt, SafetyOpt, ShellOpt
from pipeline.integration import InitShell

DEFAULT_COMMAND = "run"


def help_route(args: list[str], commands: Container[str]) -> list[str] | None:
    """`caro help [COMMAND [SUBCOMMAND]]` as the arguments that show that help; None when `args` is not that.

    Only `help` alone or followed by a command's name: `caro help me find large files` stays a request.
    """
    if not args or args[0] != "help" or (len(args) > 1 and args[1] not in commands):
        return None
    return [*args[1:], "--help"]


def _nothing_piped() -> bool:
    """Whether stdin is a terminal (or absent): a request can only come from the arguments."""
    return sys.stdin is None or sys.stdin.isatty()


class RequestRoutingGroup(typer.core.TyperGroup):
    """A group whose first positional word picks a subcommand, or else is the start of a request.

    `caro list files` runs `run list files`, and so does `caro run list files`; `caro config
    show` runs the config command; `caro -- config show` forces a request. Options before a
    subcommand's name move after it, so `caro --output json check CMD` works like `caro check
    --output json CMD`. `caro help [COMMAND...]` is `caro [COMMAND...] --help`, and `caro` alone
    at a terminal (nothing piped in) prints the help on stderr and exits 2: there is no request.
    (`pipeline/cli/fast.py` routes the same way without typer; a test keeps the two in step.)
    """

    def parse_args(self, ctx: Context, args: list[str]) -> list[str]:
        if not args and _nothing_piped() and os.environ.get("CARO_OUTPUT", "").strip().lower() in ("", "plain"):
            sys.stderr.write(ctx.get_help() + "\n")
            ctx.exit(int(ExitCode.USAGE))
        args = help_route(args, self.commands) or args
        if args and args[0] in ("-h", "--help", "--version"):
            return super().parse_args(ctx, args)
        return super().parse_args(ctx, self._route(args))

    def _route(self, args: list[str]) -> list[str]:
        takes_value = self._options_with_values()
        index = 0
        while index < len(args):
            word = args[index]
            if word == "--":
                break
            if word.startswith("-") and len(word) > 1:
                index += 2 if word in takes_value else 1
                continue
            if word in self.commands:  # `run` too: `caro run REQUEST` is `caro REQUEST`
                return [word, *args[:index], *args[index + 1 :]]
            break
        return [DEFAULT_COMMAND, *args]

    def format_usage(self, ctx: Context, formatter: HelpFormatter) -> None:
        formatter.write_usage(ctx.command_path, "[OPTIONS] REQUEST...")
        formatter.write_usage(ctx.command_path, "COMMAND [ARGS]...", prefix="   or: ")

    def format_options(self, ctx: Context, formatter: HelpFormatter) -> None:
        """The options of a request first (they are what `caro REQUEST` takes), then caro's own and the commands."""
        run = self.commands[DEFAULT_COMMAND]
        rows = [
            record
            for param in run.get_params(ctx)
            if getattr(param, "param_type_name", "") == "option" and "--help" not in param.opts
            for record in (param.get_help_record(ctx),)
            if record is not None
        ]
        with formatter.section("Options of a request (caro [OPTIONS] REQUEST...)"):
            formatter.write_dl(rows)
        super().format_options(ctx, formatter)

    def _options_with_values(self) -> set[str]:
        run = self.commands[DEFAULT_COMMAND]
        names: set[str] = set()
        for param in run.params:
            if getattr(param, "param_type_name", "") == "option" and not param.is_flag and not param.count:
                names.update(param.opts)
        return names

app = typer.Typer(
    cls=RequestRoutingGroup,
    name="caro",
    help=(
        "Turn a plain-language request into a safe POSIX shell command.\n\n"
        'For example: caro "find python files modified last week". The request comes from the words,'
        " from -p, or from stdin when it is piped.\n\n"
        "A first word that names a command below runs that command (`caro run REQUEST` is `caro REQUEST`);"
        " `caro -- WORDS` forces a request. `caro help COMMAND` shows a command's help."
    ),
    add_completion=False,
    rich_markup_mode=None,
    pretty_exceptions_enable=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"caro {__version__}")
        raise typer.Exit(0)


@app.callback()
def _root(
    version: Annotated[
        bool, typer.Option("--version", help="Print caro's version and exit.", callback=_version, is_eager=True)
    ] = False,
) -> None:
    """caro: plain language in, a judged shell command out."""


@app.command("run")
def run(
    request: Annotated[
        Optional[list[str]], typer.Argument(help="The request in plain language (or read from stdin when piped).", show_default=False)
    ] = None,
    prompt: Annotated[
        Optional[str], typer.Option("--prompt", "-p", help="The request as one string, instead of words or stdin.")
    ] = None,
    output: OutputOpt = None,
    shell: ShellOpt = None,
    safety: SafetyOpt = None,
    execute: Annotated[bool, typer.Option("--execute", "-x", help="Run the command when it is allowed.")] = False,
    yes: Annotated[
        bool, typer.Option("--yes", "-y", help="Say yes to confirmation; with -x, runs confirm-level commands.")
    ] = False,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Show the command and its judgement; never run or ask.")] = False,
    verbose: Annotated[bool, typer.Option("--verbose", "-v", help="Explain where the command came from, on stderr.")] = False,
    count: Annotated[
        int,
        typer.Option(
            "--count", "-n", min=1, max=3,
            help="Up to N different commands (1 to 3), best first, each with its judgement; nothing is run (not with -x or -y).",
        ),
    ] = 1,
    config: ConfigOpt = None,
) -> int:
    """Turn a request into a command, judge it, and run it if asked (the default command)."""
    from pipeline.cli.run import run_request

    return run_request(
        words=request, prompt=prompt, output=output, shell=shell, safety=safety,
        execute=execute, yes=yes, dry_run=dry_run, verbose=verbose, config=config, count=count,
    )


@app.command("check")
def check(
    command: Annotated[
        Optional[list[str]], typer.Argument(help="The command to judge (quote it; or read from stdin when piped).", show_default=False)
    ] = None,
    output: OutputOpt = None,
    shell: ShellOpt = None,
    safety: SafetyOpt = None,
    config: ConfigOpt = None,
) -> int:
    """Judge a given command without generating anything; exit 0 allowed, 13 confirm, 10 blocked."""
    from pipeline.cli.run import check_command

    return check_command(words=command, output=output, shell=shell, safety=safety, config=config)


@app.command("explain", context_settings={"allow_interspersed_args": False})
def explain(
    command: Annotated[
        Optional[list[str]],
        typer.Argument(help="The command to explain (quote it; or read from stdin when piped).", show_default=False),
    ] = None,
    output: OutputOpt = None,
    shell: ShellOpt = None,
    safety: SafetyOpt = None,
    config: ConfigOpt = None,
) -> int:
    """Explain a command in plain words, step by step, with its safety verdict; nothing is run.

    Each simple command in order: its utility's one-line summary (whatis, else caro's table), each
    flag's meaning from the utility's own --help or man page, its arguments and redirections in
    words, and how it connects to the next (pipe, &&, ||, ;, &); then the verdict `caro check`
    gives. Only documentation is read: `whatis`, `man`, and `UTILITY --help` for the utilities
    configs/explain.toml marks as safe to ask. Exit 0 when explained, 2 for unusable input.
    """
    from pipeline.cli.explain import explain_command

    return explain_command(words=command, output=output, shell=shell, safety=safety, config=config)


@app.command("init")
def init(
    shell: Annotated[InitShell, typer.Argument(help="The shell to integrate with.", case_sensitive=False)],
    key: Annotated[
        Optional[str],
        typer.Option(
            "--key",
            "-k",
            metavar="<key>",
            help="Key to bind: alt-<key>, ctrl-<key> or ctrl-alt-<key> (default: the integration.key setting, alt-e).",
        ),
    ] = None,
    config: ConfigOpt = None,
) -> int:
    """Print the shell integration for bash, zsh or fish: a key that turns the typed request into a command on the line.

    Load it from your rc file: `eval "$(caro init bash)"` in ~/.bashrc, `eval "$(caro init zsh)"`
    in ~/.zshrc, `caro init fish | source` in ~/.config/fish/config.fish. The key (Alt-E unless
    set) sends the prompt line to `caro --dry-run --output plain --shell SHELL` on stdin and, when
    caro exits 0, replaces the line with the command on its stdout, cursor at the end; nothing
    runs until Enter. Any other exit leaves the line as it was; caro's messages (the reason for a
    block, a confirm warning) are printed above the prompt. See docs/shell.md.
    """
    from pipeline.cli.init import print_snippet

    return print_snippet(shell=shell, key=key, config=config)


@app.command("dag")
def dag(
    output: Annotated[
        Optional[Path],
        typer.Option("--output", "-o", help="File to write: .png, .svg or .dot (default: DOT source on stdout)."),
    ] = None,
    execution: Annotated[
        Optional[str],
        typer.Option(
            "--execution",
            "-e",
            metavar="<request>",
            help=(
                "Draw the path this request takes instead: each node's status and run time, the path to the result"
                " highlighted. Nothing is run or recorded; the picture holds no request text or command."
                " '-' reads the request from stdin."
            ),
        ),
    ] = None,
    config: ConfigOpt = None,
) -> int:
    """Draw the request DAG (graphviz), or one request's path through it, as DOT, SVG or PNG."""
    from pipeline.cli.dag import draw_dag

    return draw_dag(output=output, config=config, execution=execution)


@app.command("eval")
def eval_(
    suites: Annotated[list[Path], typer.Argument(help="JSON-lines suites, e.g. ../shared/cases/beta_test_cases.jsonl.")],
    mode: Annotated[
        str, typer.Option("--mode", help="pipeline (everything caro does) or model (the bare model, as a baseline).")
    ] = "pipeline",
    limit: Annotated[Optional[int], typer.Option("--limit", min=1, help="Only the first N cases.")] = None,
    failures: Annotated[bool, typer.Option("--failures", help="List every failing case.")] = False,
    fixtures: Annotated[
        Optional[Path],
        typer.Option(
            "--fixtures",
            metavar="<path>",
            help=(
                "Fixture builder module (e.g. bench/devset/fixtures.py): cases with an execution judge run,"
                " confined, in copies of the fixtures it builds. Without it, equivalence decides."
            ),
        ),
    ] = None,
    sample_size: Annotated[
        Optional[int],
        typer.Option("--sample", min=1, help="An evenly spread sample of N cases (each category keeps its share)."),
    ] = None,
    needs_model: Annotated[
        bool,
        typer.Option(
            "--model-path",
            help="Only the cases the static table and passthrough do not answer: what the model is asked (before --sample).",
        ),
    ] = False,
    output: OutputOpt = None,
    config: ConfigOpt = None,
) -> int:
    """Run request suites through the pipeline and report pass rates per category and source."""
    from pipeline.cli.evaluate import run_eval

    if mode not in ("pipeline", "model"):
        from pipeline.errors import usage_error

        raise usage_error("--mode must be pipeline or model")
    return run_eval(
        suites=suites, mode=mode, limit=limit, show_failures=failures, output=output, config=config,
        fixtures=fixtures, sample_size=sample_size, needs_model=needs_model,
    )


@app.command("serve")
def serve(
    status: Annotated[bool, typer.Option("--status", help="Say whether the service runs, and what it holds.")] = False,
    stop: Annotated[bool, typer.Option("--stop", help="Stop the service (it finishes the requests it has).")] = False,
    foreground: Annotated[
        bool, typer.Option("--foreground", help="Run the service in this terminal until it is idle or stopped (Ctrl-C).")
    ] = False,
    output: OutputOpt = None,
) -> int:
    """Start the resident caro service (requests start it on their own); or show its status, or stop it."""
    from pipeline.cli.serve import serve_command

    return serve_command(status=status, stop=stop, foreground=foreground, output=output)


from pipeline.cli.config import config_app  # noqa: E402  (registered after the commands above)
from pipeline.cli.model import model_app  # noqa: E402
from pipeline.cli.telemetry import telemetry_app  # noqa: E402

app.add_typer(config_app, name="config")
app.add_typer(model_app, name="model")
app.add_typer(telemetry_app, name="telemetry")
