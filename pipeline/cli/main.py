"""The `caro` entry point: a light fast path for requests and checks, typer for everything else.

`caro REQUEST` and `caro check CMD` are parsed by `pipeline/cli/fast.py` and answered by the
caro service, so the client imports no typer, Hamilton, pandas or parser. Anything the fast
path is not sure of (a subcommand, --help, an unusual option) goes to the typer app, which
stays the one definition of the commands and their options. Either way every error becomes
one line here.
"""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Callable, Sequence

from pipeline.errors import CaroError, ExitCode

_STARTED = time.perf_counter()


def started() -> float:
    """When this caro invocation began (perf_counter): its session's duration counts from here."""
    return _STARTED


def _wants_json(argv: Sequence[str]) -> bool:
    for i, word in enumerate(argv):
        if word == "--":
            break
        if word in ("--output", "-o") and i + 1 < len(argv):
            return argv[i + 1] == "json"
        if word == "--output=json":
            return True
    return os.environ.get("CARO_OUTPUT") == "json"


def _report(error: CaroError, as_json: bool) -> None:
    if as_json:
        import json

        sys.stdout.write(json.dumps({"error": error.as_dict()}) + "\n")
        return
    hint = f" (hint: {error.hint})" if error.hint else ""
    sys.stderr.write(f"caro: error: {error.message}{hint}\n")


def guarded(args: Sequence[str], command: Callable[[], int]) -> int:
    """Run a command; every error becomes one line (or a JSON error object) and its exit code."""
    try:
        return command()
    except CaroError as error:
        _report(error, _wants_json(args))
        return int(error.exit_code)
    except KeyboardInterrupt:  # Ctrl-C: one line, or the JSON error object
        if _wants_json(args):
            sys.stdout.write('{"error": {"code": "interrupted", "message": "interrupted", "hint": null, "exit_code": 130}}\n')
        else:
            sys.stderr.write("caro: interrupted\n")
        return 130
    except BrokenPipeError:
        # The reader went away (`caro ... | head`); nothing left to say to it.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return int(ExitCode.ERROR)
    except Exception as error:  # a bug: say so in one line, without the message (it may hold user data)
        if os.environ.get("CARO_DEBUG"):
            raise
        sys.stderr.write(f"caro: internal error ({type(error).__name__}); rerun with CARO_DEBUG=1 to see the traceback\n")
        return int(ExitCode.ERROR)


def _typer(args: list[str]) -> int:
    """Run the typer app; click's own errors become CaroErrors."""
    import typer.main

    from pipeline.cli._click import Abort, ClickException, Exit, UsageError
    from pipeline.cli.app import app

    command = typer.main.get_command(app)
    try:
        return int(command.main(args=args, prog_name="caro", standalone_mode=False) or 0)
    except UsageError as error:
        message = error.format_message().strip().splitlines()[0]
        raise CaroError(message, code="usage", exit_code=ExitCode.USAGE, hint="caro --help") from None
    except ClickException as error:  # e.g. a file option that cannot be opened
        raise CaroError(error.format_message(), code="error", exit_code=ExitCode.ERROR) from None
    except Exit as stop:
        return int(stop.exit_code)
    except Abort:
        raise KeyboardInterrupt from None


def main(argv: Sequence[str] | None = None) -> int:
    """Run the CLI through typer and return its exit code (a program or a test calling caro)."""
    args = list(sys.argv[1:] if argv is None else argv)
    return guarded(args, lambda: _typer(args))


# True only in the console script, which ends the process right after the command: only
# then may a request's telemetry be left to a forked child (a program that calls `main`, a
# test for one, goes on running, and is never forked), and only then is the caro service
# used (a program calling `main` gets its answers from its own process).
_CONSOLE = False


def ends_process() -> bool:
    """Whether the process ends as soon as this command returns (the `caro` console script)."""
    return _CONSOLE


def uses_service() -> bool:
    """Whether requests go to the caro service (the `caro` console script), rather than run here."""
    return _CONSOLE


def entry() -> None:
    """Console-script entry point: run, flush the output, and leave without interpreter teardown.

    Tearing down an interpreter that has loaded Hamilton, pandas and the parsers took 0.3-0.5 s
    on the developer machine, longer than answering a static request; nothing caro needs
    happens in it (files and databases are closed where they are used, output is flushed
    here), so the process ends at once with `os._exit`.
    """
    global _CONSOLE
    _CONSOLE = True
    args = sys.argv[1:]
    from pipeline.cli.fast import parse, run_parsed

    parsed = parse(args)
    code = guarded(args, lambda: run_parsed(parsed)) if parsed is not None else main(args)
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError):  # a closed pipe (`caro ... | head`): nothing left to say
            pass
    os._exit(code)
