"""The one project error type and the documented exit codes.

Every expected failure the CLI can meet becomes a `CaroError`; the CLI catches it in one place
and prints one line. Messages never quote a request, a command, a path, a host or user name,
or an environment value: they say what is wrong and how to fix it.
"""

from __future__ import annotations

import errno
from enum import IntEnum


class ExitCode(IntEnum):
    """caro's exit codes. When caro runs a command, that command's own exit code is returned instead."""

    SUCCESS = 0  # the command was produced (and, if asked, ran and succeeded)
    ERROR = 1  # an environment or internal error (unreadable config, I/O)
    USAGE = 2  # bad options or unusable input (empty, too long, NUL bytes, invalid UTF-8)
    BLOCKED = 10  # the safety validator blocked the command (or caro refused the request); it was not run
    DECLINED = 11  # the command needed confirmation that was refused or could not be asked
    NO_COMMAND = 12  # nothing could produce a command (no static match, no model)
    NEEDS_CONFIRMATION = 13  # `caro check` only: the command would need confirmation
    FILL_IN = 14  # the command is a template (`cat <file>`): fill in its slots first; it was not run


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


_FULL = ("the disk is full", "free some space on the disk that holds {where}")
_READ_ONLY = ("it is read-only", "make {where} writable, or point CARO_HOME at a writable folder")
_NOT_A_FOLDER = ("a file stands where its folder should be", "CARO_HOME must name a folder, or be unset")
# Why the operating system refused a write, in words a user can act on, and what to do about it.
_OS_REASONS = {
    "ENOSPC": _FULL,
    "EDQUOT": _FULL,
    "EFBIG": _FULL,  # a file-size limit (ulimit -f): the same remedy as a full disk, from the user's side
    "EROFS": _READ_ONLY,
    "EACCES": _READ_ONLY,
    "EPERM": _READ_ONLY,
    "ENOTDIR": _NOT_A_FOLDER,
    "EEXIST": _NOT_A_FOLDER,
}


def os_reason(error: OSError) -> str:
    """A short reason for an OS error, without the path it names (paths never go into messages)."""
    known = _OS_REASONS.get(errno.errorcode.get(error.errno or 0, ""))
    return known[0] if known else (error.strerror or type(error).__name__).lower()


def state_unwritable(error: OSError, what: str, *, code: str, where: str, kept: str | None = None) -> CaroError:
    """The CaroError for state caro could not write: `what` names the thing, `where` how to find it.

    `kept` says what was left as it was (e.g. "the old file is unchanged"), so a user knows
    nothing was lost. The exit code is ERROR (1): the environment, not the input, is at fault.
    """
    known = _OS_REASONS.get(errno.errorcode.get(error.errno or 0, ""))
    fix = known[1].format(where=where) if known else f"check {where}"
    message = f"the {what} cannot be written: {os_reason(error)}" + (f"; {kept}" if kept else "")
    return CaroError(message, code=code, exit_code=ExitCode.ERROR, hint=fix)
