"""Deciding whether a judged command runs, and running it in the target shell.

Light on purpose (the pipeline's values are imported by `decide` when it runs): the `caro`
client imports `run_command` to run a command the service judged, in the user's own terminal
and working directory.
"""

from __future__ import annotations

import sys
from enum import Enum
from typing import IO, TYPE_CHECKING, NamedTuple

from pipeline.errors import ExitCode

if TYPE_CHECKING:
    from pipeline.values import Result, Shell


class Plan(str, Enum):
    """What to do with a result."""

    SHOW = "show"  # print it, run nothing
    RUN = "run"  # run it now
    ASK = "ask"  # ask the user at the terminal
    REFUSE = "refuse"  # never run: blocked, confirmation impossible, or a template to fill in first
    MENU = "menu"  # the interactive prompt: run, edit, revise, explain, copy, quit (pipeline/cli/interactive.py)


class Decision(NamedTuple):
    plan: Plan
    exit_code: ExitCode  # caro's exit code when the command does not run
    reason: str = ""


def decide(result: Result, *, execute: bool, yes: bool, dry_run: bool, interactive: bool) -> Decision:
    """Whether `result`'s command may run, given the flags and whether a person can be asked.

    Blocked commands never run. Confirm-level commands need a yes: `-y`, or an answer at the
    terminal. Allowed commands run with `-x`, or after a yes at the terminal. A template
    (`cat <file>`) never runs as it stands: see `_template`.
    """
    from pipeline.values import Action, Outcome

    if result.outcome is Outcome.BAD_INPUT:
        return Decision(Plan.SHOW, ExitCode.USAGE)
    if result.outcome is Outcome.REFUSED:
        return Decision(Plan.SHOW, ExitCode.BLOCKED, "refused")
    if result.outcome is Outcome.NO_COMMAND or result.command is None:
        return Decision(Plan.SHOW, ExitCode.NO_COMMAND)
    if result.action is Action.BLOCKED:
        return Decision(Plan.REFUSE, ExitCode.BLOCKED, "blocked by the safety validator")
    if result.slots:
        return _template(result.slots, execute=execute, dry_run=dry_run, interactive=interactive)
    if dry_run:
        return Decision(Plan.SHOW, ExitCode.SUCCESS)
    if result.action is Action.CONFIRM:
        if execute and yes:
            return Decision(Plan.RUN, ExitCode.SUCCESS)
        if interactive:
            return Decision(Plan.ASK, ExitCode.DECLINED)
        if execute:
            return Decision(Plan.REFUSE, ExitCode.DECLINED, "needs confirmation: pass -y or run it at a terminal")
        return Decision(Plan.SHOW, ExitCode.SUCCESS)
    if execute:
        return Decision(Plan.RUN, ExitCode.SUCCESS)
    if interactive:
        return Decision(Plan.ASK, ExitCode.SUCCESS)
    return Decision(Plan.SHOW, ExitCode.SUCCESS)


def _template(names: tuple[str, ...], *, execute: bool, dry_run: bool, interactive: bool) -> Decision:
    """What happens to a template: shown wherever a command would only be shown (exit 0), refused
    with FILL_IN wherever one would run or be asked about (`-x`, `-y` or the prompt at a terminal).

    In shell syntax `<file>` is two redirections (`cat <file> notes.txt` would empty notes.txt),
    so a template never gets a yes; shown, it goes to stdout, so that the shell key binding puts
    it on the prompt line for the user to fill in. At the terminal without `-x` or `-y` the
    prompt still shows it, offering edit but not run (pipeline/cli/interactive.py).
    """
    from pipeline.slots import fill_in_text

    if dry_run or not (execute or interactive):
        return Decision(Plan.SHOW, ExitCode.SUCCESS)
    return Decision(Plan.REFUSE, ExitCode.FILL_IN, f"a template: fill in {fill_in_text(names)} first, then run it")


def shell_executable(shell: Shell | str) -> str:
    """The path of the target shell, falling back to /bin/sh when it is not installed."""
    import shutil

    return shutil.which(getattr(shell, "value", shell)) or "/bin/sh"


def run_command(command: str, shell: Shell | str, *, stdout: IO[str] | None = None) -> int:
    """Run `command` with `shell -c` in the current directory; its exit status, shell-style for signals."""
    import subprocess

    completed = subprocess.run([shell_executable(shell), "-c", command], stdout=stdout or sys.stdout, check=False)
    code = completed.returncode
    if code < 0:  # killed by a signal: report it the way a shell does
        return 128 + abs(code)
    return code
