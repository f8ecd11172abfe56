"""The `caro` entry point: routes `caro REQUEST...` to `run`, and turns every error into one line.

This module imports only typer/click; each command imports the machinery it needs when it
runs, so `caro --help` and `caro config path` stay instant.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Sequence

from pipeline.cli._click import Abort, ClickException, Context, Exit, UsageError
import typer.core

from pipeline.errors import CaroError, ExitCode

DEFAULT_COMMAND = "run"


class RequestRoutingGroup(typer.core.TyperGroup):
    """A group whose first positional word picks a subcommand, or else is the start of a request.

    `caro list files` runs `run list files`; `caro config show` runs the config command;
    `caro -- config show` forces a request. Options before a subcommand's name move after it,
    so `caro --output json check CMD` works like `caro check --output json CMD`.
    """

    def parse_args(self, ctx: Context, args: list[str]) -> list[str]:
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
            if word in self.commands and word != DEFAULT_COMMAND:
                return [word, *args[:index], *args[index + 1 :]]
            break
        return [DEFAULT_COMMAND, *args]

    def _options_with_values(self) -> set[str]:
        run = self.commands[DEFAULT_COMMAND]
        names: set[str] = set()
        for param in run.params:
            if getattr(param, "param_type_name", "") == "option" and not param.is_flag and not param.count:
                names.update(param.opts)
        return names


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


def main(argv: Sequence[str] | None = None) -> int:
    """Run the CLI and return its exit code (the console script exits with it)."""
    from pipeline.cli.app import app

    args = list(sys.argv[1:] if argv is None else argv)
    command = typer.main.get_command(app)
    try:
        code = command.main(args=args, prog_name="caro", standalone_mode=False)
    except CaroError as error:
        _report(error, _wants_json(args))
        return int(error.exit_code)
    except UsageError as error:
        message = error.format_message().strip().splitlines()[0]
        _report(CaroError(message, code="usage", exit_code=ExitCode.USAGE, hint="caro --help"), _wants_json(args))
        return int(ExitCode.USAGE)
    except ClickException as error:  # e.g. a file option that cannot be opened
        _report(CaroError(error.format_message(), code="error", exit_code=ExitCode.ERROR), _wants_json(args))
        return int(ExitCode.ERROR)
    except Exit as stop:
        return int(stop.exit_code)
    except (Abort, KeyboardInterrupt):
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
    return int(code or 0)


# True only in the console script, which ends the process right after the command: only
# then may a request's telemetry be left to a forked child (a program that calls `main`, a
# test for one, goes on running, and is never forked).
_ENDS_PROCESS = False


def ends_process() -> bool:
    """Whether the process ends as soon as this command returns (the `caro` console script)."""
    return _ENDS_PROCESS


def entry() -> None:
    """Console-script entry point: run, flush the output, and leave without interpreter teardown.

    Tearing down an interpreter that has loaded Hamilton, pandas and the parsers took 0.3-0.5 s
    on the developer machine, longer than answering a static request; nothing caro needs
    happens in it (files and databases are closed where they are used, output is flushed
    here), so the process ends at once with `os._exit`.
    """
    global _ENDS_PROCESS
    _ENDS_PROCESS = True
    code = main()
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError):  # a closed pipe (`caro ... | head`): nothing left to say
            pass
    os._exit(code)
