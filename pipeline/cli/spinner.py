"""A sign of life on stderr while caro waits for a model (or for the caro service to start).

One line, redrawn in place: a turning mark, what caro waits for, and the seconds it has waited
(`⠹ caro: asking the model... 4 s`). Only on a terminal, only for plain output (never with
`--output json|yaml`, never on stdout), only after a short delay (an answer that comes at once
shows nothing), and cleared before anything else is written: the answer, a question, an error.

Light on purpose (sys and time): the request path imports it. It draws when `tick` is called,
from the loop that waits (the client's read of the socket, the wait for a contained child), so
it needs no thread.
"""

from __future__ import annotations

import sys
import time

TYPE_CHECKING = False  # typing's own flag, without importing typing (2 ms) on the request path
if TYPE_CHECKING:
    from collections.abc import Mapping

# What the waiting is for, by the phase a backend reports (pipeline/backends/clock.py) or the client knows.
LABELS = {
    "starting": "starting the caro service",
    "loading": "loading the model",
    "generating": "asking the model",
}
_FRAMES_UTF8 = "⠋⠙⠹⠸⠼⠴⠦⠧⠇⠏"
_FRAMES_ASCII = "|/-\\"


def wanted(output: str | None) -> bool:
    """Whether a spinner may be drawn for this output format: plain output, stderr a terminal."""
    return (output or "plain") == "plain" and sys.stderr is not None and sys.stderr.isatty()


def output_known_plain(flags_output: str | None, environ: Mapping[str, str], config: str | None) -> bool:
    """Whether the output is surely plain, judged cheaply (flags, CARO_OUTPUT, a config file that never says `output`)."""
    chosen = flags_output or environ.get("CARO_OUTPUT", "").strip().lower() or None
    if chosen is not None:
        return chosen == "plain"
    if config is None:
        return False
    try:
        with open(config, "rb") as handle:
            return b"output" not in handle.read()
    except FileNotFoundError:
        return True
    except OSError:
        return False


class Spinner:
    """The sign of life: `phase` says what caro waits for (None: nothing to show yet), `tick` redraws, `clear` erases."""

    def __init__(self, enabled: bool, delay_s: float = 0.3) -> None:
        self.enabled = enabled
        self.delay_s = delay_s
        self.since = time.monotonic()
        self.label: str | None = None
        self.shown = False
        self._drawn_at = 0.0
        self._turn = 0
        encoding = (getattr(sys.stderr, "encoding", None) or "").lower().replace("-", "")
        self._frames = _FRAMES_UTF8 if encoding == "utf8" else _FRAMES_ASCII

    def phase(self, phase: str | None) -> None:
        """What caro waits for now (a key of LABELS); None or an unknown phase keeps the current one."""
        if phase in LABELS:
            self.label = LABELS[phase]

    def tick(self) -> None:
        """Redraw, at most ten times a second, once the delay has passed and there is something to say."""
        if not self.enabled or self.label is None:
            return
        now = time.monotonic()
        if now - self.since < self.delay_s or now - self._drawn_at < 0.1:
            return
        self._drawn_at = now
        self._turn += 1
        frame = self._frames[self._turn % len(self._frames)]
        self._write(f"\r{frame} caro: {self.label}... {now - self.since:.0f} s\x1b[K")
        self.shown = True

    def rest(self) -> None:
        """Nothing to wait for until the next phase: erase the line."""
        self.label = None
        self.clear()

    def clear(self) -> None:
        """Erase the line, so that what comes next starts on a clean one."""
        if self.shown:
            self._write("\r\x1b[K")
            self.shown = False

    def _write(self, text: str) -> None:
        try:
            sys.stderr.write(text)
            sys.stderr.flush()
        except (OSError, ValueError):  # stderr closed under us: nothing to show
            self.enabled = False
