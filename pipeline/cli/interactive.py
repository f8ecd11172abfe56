"""The interactive prompt: what a person at the terminal can do with the command caro shows.

When caro answers a request at a terminal (stdin and stderr), in plain output, without `-x`,
`-y` or `--dry-run`, it shows the command and its judgement, then waits for one key (`KEYS`):
run it, edit it, revise it in plain words, explain it, copy it, or quit. Nothing runs without
the run key. An edited or revised command is judged again and shown, and the prompt asks
again: a blocked one offers only edit, revise, explain and quit, and never runs. A template
(`cat <file>`, pipeline/slots.py) never runs either: the prompt says what to fill in and offers
edit, which is how it is filled in; what the user types is then judged as shell.

The prompt runs in the client, in the user's terminal. Revising, judging an edit and
explaining need the pipeline: `Menu` asks its `answers`, which are the pipeline's own in
process (`pipeline/cli/session.py`), or the caro service on the request's connection
(`ServiceAnswers`). The choices made, as names only, go to the request's telemetry (`taken`).

Light on purpose: the client imports it to show the prompt; the line editor (readline) and
termios are imported when used, and the pipeline only where a fallback needs it.
"""

from __future__ import annotations

import os
import sys
import time

from pipeline.cli.perform import Script, write

TYPE_CHECKING = False  # typing's own flag, without importing typing (2 ms) on the request path
if TYPE_CHECKING:
    from typing import Any

# One key per action, the action's name (its telemetry category), and what it does: docs/cli.md
# and docs/shell.md show this table.
KEYS: tuple[tuple[str, str, str], ...] = (
    ("y", "run", "Run the command (never offered for a blocked command or a template)."),
    ("e", "edit", "Edit the command in a line editor, pre-filled; the edit is judged again and shown."),
    ("r", "revise", 'Say in plain words what to change ("now only the top 5"); the new command is judged and shown.'),
    ("x", "explain", "Explain the command step by step, with its verdict (what `caro explain` prints)."),
    ("c", "copy", "Copy the command to the clipboard through the terminal (OSC 52); not offered for a blocked command."),
    ("q", "quit", "Run nothing and leave; so do Enter and Ctrl-D."),
)
_ACTION = {key: action for key, action, _ in KEYS}
_NOT_WHEN_BLOCKED = frozenset({"run", "copy"})
_NOT_FOR_A_TEMPLATE = frozenset({"run"})  # copying it is fine: the user fills it in elsewhere
_ENTER, _EOF, _ESCAPE = ("\r", "\n"), ("", "\x04"), "\x1b"
# Terminals cap an OSC 52 payload (xterm: about 100 KB); a longer command is not sent.
_MAX_COPY_BYTES = 64 * 1024


class Shown:
    """The command on screen: its text, target shell, judgement (allowed, confirm, blocked), the
    slots a template leaves to fill in, and exit code if left."""

    __slots__ = ("action", "command", "exit_code", "shell", "slots")

    def __init__(self, script: Script) -> None:
        self.command: str = script["command"]
        self.shell: str = script["shell"]
        self.action: str = script.get("action") or "blocked"
        self.exit_code: int = int(script["exit_code"])
        self.slots: tuple[str, ...] = tuple(script.get("slots") or ())

    def withheld(self) -> frozenset[str]:
        """The actions not offered for this command."""
        if self.action == "blocked":
            return _NOT_WHEN_BLOCKED
        return _NOT_FOR_A_TEMPLATE if self.slots else frozenset()

    def lead(self) -> str:
        """What the menu line starts with: what stands between the command and running it."""
        if self.action == "blocked":
            return "blocked: "
        if self.slots:
            from pipeline.slots import fill_in_text

            return f"fill in {fill_in_text(self.slots)}: "
        return "needs confirmation: " if self.action == "confirm" else ""

    def why_not(self, action: str) -> str:
        """Why a withheld action was not taken, and what to do instead."""
        if self.action != "blocked":
            from pipeline.slots import fill_in_text

            return f"caro: a template never runs as it stands; edit it to fill in {fill_in_text(self.slots)}"
        if action == "run":
            return "caro: a blocked command never runs; edit or revise it"
        return "caro: a blocked command is not copied; edit or revise it"


class Menu:
    """The prompt for one request: call it with the request's `menu` script; whether a command ran, and the exit code."""

    def __init__(self, answers: Any, request: str) -> None:
        self.answers = answers  # revise(text, request, command), judge(command), explain(command)
        self.requests = [request]  # the request, then each follow-up that changed the command
        self.taken: list[tuple[str, float]] = []  # (action, when): the telemetry's prompt_action events

    def __call__(self, script: Script) -> tuple[bool, int]:
        shown = Shown(script)
        while True:
            action = self._choose(shown)
            self.taken.append((action, time.time()))
            if action == "quit":
                return False, shown.exit_code
            if action == "run":
                from pipeline.execute import run_command

                return True, run_command(shown.command, shown.shell)
            if action == "copy":
                _say(copy_to_clipboard(shown.command, os.environ))
            elif action == "explain":
                write(2, self.answers.explain(shown.command))
            elif action == "edit":
                edited = _edited(shown.command)
                if edited is not None:
                    shown = self._show(self.answers.judge(edited), shown)
            elif action == "revise":
                words = _line("revise: what should change? ")
                if words is not None and words.strip():
                    revised = self._show(self.answers.revise(words.strip(), "\n".join(self.requests), shown.command), shown)
                    if revised is not shown:
                        self.requests.append(words.strip())
                        shown = revised

    def _choose(self, shown: Shown) -> str:
        """The action for the next key pressed (one the command allows)."""
        withheld = shown.withheld()
        offered = [(key, action) for key, action, _ in KEYS if action not in withheld]
        menu = shown.lead() + "  ".join(f"[{key}] {action}" for key, action in offered) + " > "
        while True:
            write(2, menu)
            key = _read_key()
            if key in _ENTER or key in _EOF:
                write(2, "quit\n")
                return "quit"
            action = _ACTION.get(key.lower())
            if action is not None and (key.lower(), action) in offered:
                write(2, action + "\n")
                return action
            write(2, "\n")
            if action in withheld:
                _say(shown.why_not(action))
            else:
                _say(f"caro: press one of {', '.join(key for key, _ in offered)}")

    @staticmethod
    def _show(script: Script, before: Shown) -> Shown:
        """Write a new answer; the command it shows, or `before` when it has none (no command, unusable input)."""
        for fd, text in script["out"]:
            write(fd, text)
        if script["plan"] == "menu":
            return Shown(script)
        from pipeline.terminal import printable

        _say(f"caro: still: {printable(before.command)}")
        return before


def _say(message: str) -> None:
    write(2, message + "\n")


def _read_key() -> str:
    """One key from the terminal, without waiting for Enter ("" at the end of input)."""
    fd = sys.stdin.fileno()
    try:
        import termios
        import tty
    except ImportError:  # no terminal control here: read a line instead
        return _key_of_line()
    try:
        saved = termios.tcgetattr(fd)
    except (OSError, termios.error):
        return _key_of_line()
    try:
        tty.setcbreak(fd)  # keys arrive one by one; Ctrl-C still interrupts
        data = os.read(fd, 1)
        if data[:1] == b"\x1b" or (data and data[0] >= 0x80):
            _drain(fd)  # the rest of an arrow key's sequence, or of a multi-byte character: not a choice
    finally:
        termios.tcsetattr(fd, termios.TCSADRAIN, saved)
    return data.decode("latin-1")


def _key_of_line() -> str:
    line = sys.stdin.readline()
    return line.strip()[:1] if line.strip() else ("\n" if line else "")


def _drain(fd: int) -> None:
    import select

    while select.select([fd], [], [], 0.05)[0]:
        if not os.read(fd, 64):
            return


def _edited(command: str) -> str | None:
    """The command as the user edited it on a pre-filled line; None when left unchanged or cancelled."""
    from pipeline.terminal import printable

    if "\n" in command:
        _say("caro: a command of several lines cannot be edited on one line; revise it, or copy it")
        return None
    if printable(command) != command:
        # Pre-filled, these characters would show as something else on the line being edited.
        _say("caro: the command holds control or invisible characters and cannot be edited on the line; revise it")
        return None
    edited = _line("edit: ", prefill=command)
    if edited is None or not edited.strip() or edited.strip() == command.strip():
        _say("caro: unchanged")
        return None
    return edited.strip()


def _line(prompt: str, prefill: str = "") -> str | None:
    """A line typed at the terminal, `prefill` ready to edit; None on Ctrl-C or Ctrl-D (back to the menu)."""
    try:
        import readline
    except ImportError:  # Python built without a line editor: show the text, read a plain line
        readline = None
    try:
        if readline is None:
            if prefill:
                _say(f"  {prefill}")
                prompt = "the new command (Enter keeps it): "
            write(2, prompt)
            line = sys.stdin.readline()
            return line.rstrip("\n") if line else None
        return _readline(readline, prompt, prefill)
    except (KeyboardInterrupt, EOFError):
        write(2, "\n")
        return None


def _readline(readline: Any, prompt: str, prefill: str) -> str:
    """`input` with readline's editing, drawn on the terminal even when stdout is redirected.

    Python edits with readline only when stdin and stdout are both the terminal, and draws the
    prompt and the line on stdout; stdout carries the command's output (or is a pipe), so fd 1
    points at the terminal (stderr's) while the line is typed, and back afterwards.
    """
    if prefill:
        readline.set_startup_hook(lambda: readline.insert_text(prefill))
    sys.stdout.flush()
    saved = None if os.isatty(1) else os.dup(1)
    if saved is not None:
        os.dup2(2, 1)
    try:
        return input(prompt)
    finally:
        readline.set_startup_hook(None)
        if saved is not None:
            sys.stdout.flush()
            os.dup2(saved, 1)
            os.close(saved)


def copy_to_clipboard(command: str, environ: Any) -> str:
    """Send the command to the terminal's clipboard (OSC 52) on stderr; what to tell the user."""
    import base64

    term = environ.get("TERM", "")
    # Terminals known to drop OSC 52: the Linux console, dumb ones, Apple's Terminal, and those
    # built on VTE (GNOME Terminal, Tilix, Terminator...).
    if term in ("", "dumb", "linux") or environ.get("TERM_PROGRAM") == "Apple_Terminal" or environ.get("VTE_VERSION"):
        return "caro: this terminal cannot take a copy (OSC 52); select the command above to copy it"
    payload = base64.b64encode(command.encode("utf-8", "surrogateescape")).decode("ascii")
    if len(payload) > _MAX_COPY_BYTES:
        return "caro: the command is too long to copy through the terminal; select it above"
    sequence = f"{_ESCAPE}]52;c;{payload}\a"
    if environ.get("TMUX"):  # tmux passes it on with `set-clipboard on`, or wrapped with `allow-passthrough on`
        sequence += f"{_ESCAPE}Ptmux;{sequence.replace(_ESCAPE, _ESCAPE * 2)}{_ESCAPE}\\"
    elif term.startswith("screen") and environ.get("STY"):  # GNU screen passes on what its DCS wraps, in short pieces
        sequence = "".join(f"{_ESCAPE}P{sequence[i:i + 500]}{_ESCAPE}\\" for i in range(0, len(sequence), 500))
    write(2, sequence)
    return "caro: copied through the terminal (OSC 52); a terminal that does not allow it ignores it: see docs/shell.md"


class ServiceAnswers:
    """The prompt's questions sent to the caro service on the request's connection.

    Should the service go away (it never ran anything), the questions are answered by a
    pipeline loaded in this process from then on.
    """

    def __init__(self, service: Any, flags: dict[str, Any], verbose: bool) -> None:
        self.service = service
        self.flags = flags
        self.verbose = verbose
        self._local: Any = None

    def revise(self, text: str, request: str, command: str) -> Script:
        message = {"op": "revise", "text": text, "follow_up": {"request": request, "command": command}}
        return self._ask(message, lambda local: local.revise(text, request, command))["script"]

    def judge(self, command: str) -> Script:
        return self._ask({"op": "judge", "text": command}, lambda local: local.judge(command))["script"]

    def explain(self, command: str) -> str:
        return self._ask({"op": "explain", "text": command}, lambda local: local.explain(command))["text"]

    def _ask(self, message: dict[str, Any], here: Any) -> dict[str, Any]:
        from pipeline.serve.endpoint import Unavailable

        if self._local is None:
            try:
                reply = self.service.ask(message, first=False)
                if reply.get("pull"):  # the model is missing: download it here, with its progress bar
                    from pipeline.cli.remote import _pull

                    _pull(self.flags, self.verbose)
                    reply = self.service.ask(message, first=False)
                return reply
            except Unavailable as gone:
                if self.verbose:
                    _say(f"caro: answering in this process: {gone.reason}")
                self._local = _session_here(self.flags, self.verbose)
        answer = here(self._local)
        return {"text": answer} if isinstance(answer, str) else {"script": answer}


def _session_here(flags: dict[str, Any], verbose: bool) -> Any:
    """A session on a pipeline loaded in this process, with the request's own settings."""
    from pathlib import Path

    from pipeline.cli import run as cli
    from pipeline.cli.common import settings_from
    from pipeline.cli.session import Session
    from pipeline.service import Caro

    config = flags.get("config")
    settings = settings_from(
        Path(config) if config else None, output=flags.get("output"), shell=flags.get("shell"), safety=flags.get("safety")
    )
    return Session(Caro.from_settings(settings), settings, cli.platform_for(settings, os.environ), verbose=verbose)
