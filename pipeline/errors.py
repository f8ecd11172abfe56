"""The one project error type and the documented exit codes.

Every expected failure the CLI can meet becomes a `CaroError`; the CLI catches it in one place
and prints one line. Messages never quote a request, a command, a path, a host or user name,
or an environment value: they say what is wrong and how to fix it.
"""

from __future__ import annotations

from enum import IntEnum


class ExitCode(IntEnum):
    """caro's exit codes. When caro runs a command, that command's own exit code is returned instead."""

    SUCCESS = 0  # the command was produced (and, if asked, ran and succeeded)
    ERROR = 1  # an environment or internal error (unreadable config, I/O)
    USAGE = 2  # bad options or unusable input (empty, too long, NUL bytes, invalid UTF-8)
    BLOCKED = 10  # the safety validator blocked the command; it was not run
    DECLINED = 11  # the command needed confirmation that was refused or could not be asked
    NO_COMMAND = 12  # nothing could produce a command (no static match, no model)
    NEEDS_CONFIRMATION = 13  # `caro check` only: the command would need confirmation


class CaroError(Exception):
    """An expected failure with a one-line message, an optional hint and an exit code."""

    def __init__(self, message: str, *, code: str, exit_code: ExitCode = ExitCode.ERROR, hint: str | None = None):
        super().__init__(message)
        self.message = message
        self.code = code
        self.exit_code = exit_code
        self.hint = hint

    def as_dict(self) -> dict[str, object]:
        return {"code": self.code, "message": self.message, "hint": self.hint, "exit_code": int(self.exit_code)}


def usage_error(message: str, hint: str | None = None) -> CaroError:
    """A CaroError for bad options or input (exit code 2)."""
    return CaroError(message, code="usage", exit_code=ExitCode.USAGE, hint=hint)
