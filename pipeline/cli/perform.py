"""Carrying out an answer in the user's terminal: write what it says, ask, run the command.

An answer to `caro REQUEST` or `caro check` is a *script*, a plain dict made by
`pipeline/cli/run.py` in whichever process ran the pipeline (the service, or this one):

- `out`: `[fd, text]` pairs to write first, to stdout (1) or stderr (2);
- `plan`: `show` (nothing more), `ask` (ask `question`, then run on a yes), `run`, or `menu`
  (the interactive prompt; `action` is the command's: allowed, confirm or blocked);
- `command` and `shell`: what to run, with the shell's name; `stdout`: where the command's
  own output goes (2 when stdout carries one JSON or YAML object);
- `slots`: the slots of a template (`cat <file>`), which never runs as it stands: its plan is
  never `ask` or `run`, and the prompt offers edit instead of run;
- `exit_code`: caro's exit code when nothing runs (not asked to, refused, or declined);
- `data`: the output format when the data object can only be written after the command ran
  (it holds the command's exit code).

Only the client performs it: a command runs in the user's terminal, working directory and
environment, never in the service. Light on purpose: the request path imports it.
"""

from __future__ import annotations

import sys

TYPE_CHECKING = False  # typing's own flag, without importing typing (2 ms) on the request path
if TYPE_CHECKING:
    from collections.abc import Callable

# A plain dict (see above); typing is not imported on the request path (2 ms).
Script = dict


def write(fd: int, text: str) -> None:
    """Write to stdout (1) or stderr (2) at once, so the two interleave in the order they were said."""
    stream = sys.stdout if fd == 1 else sys.stderr
    stream.write(text)
    stream.flush()


def _ask(question: str) -> bool:
    sys.stderr.write(f"{question} [y/N] ")
    sys.stderr.flush()
    answer = sys.stdin.readline()
    if answer.strip().lower() in ("y", "yes"):
        return True
    # One line says that nothing ran (after Ctrl-D the cursor is still on the question's line).
    sys.stderr.write(("" if answer.endswith("\n") else "\n") + "caro: not run\n")
    return False


def perform(script: Script, menu: Callable[[Script], tuple[bool, int]] | None = None) -> tuple[bool, int]:
    """Write, ask and run as the script says; whether the command ran, and the exit code.

    `menu` carries out the interactive prompt (plan `menu`, see `pipeline/cli/interactive.py`);
    without it, that plan asks the plain yes/no question instead (and a blocked command nothing).
    """
    for fd, text in script["out"]:
        write(fd, text)
    plan = script["plan"]
    if plan == "menu":
        if menu is not None:
            return menu(script)
        plan = "ask" if script["question"] else "show"
    if plan == "ask":
        if not _ask(script["question"]):
            return False, script["exit_code"]
    elif plan != "run":
        return False, script["exit_code"]
    from pipeline.execute import run_command

    return True, run_command(script["command"], script["shell"], stdout=sys.stderr if script["stdout"] == 2 else None)
