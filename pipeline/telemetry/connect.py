"""Opening the telemetry database to read it without writing, and naming what went wrong.

Readers (`caro telemetry status|show|export`, the notebook) never write: they open the file
with `mode=ro`, so a read-only file or folder, a database owned by someone else, or a disk
that has filled up does not keep a user from their own data. A database in WAL mode needs its
`-shm` file to be read; when the folder is read-only and no write-ahead log is left (caro's
last writer closed cleanly and checkpointed it), the file alone is the whole database, and it is
opened `immutable`, which needs no `-shm`; the same on a full disk, which has no room for one.
With a log left and no way to share it, reading the file alone would miss the log's rows, so
that is an error instead.

Light on purpose (no pandas, pandera or sqlite-utils).
"""

from __future__ import annotations

import errno
import os
import sqlite3
from enum import Enum
from pathlib import Path

from pipeline.errors import CaroError


class WriteFailure(str, Enum):
    """Why the database could not be used (the name is historical: reads fail for the same reasons)."""

    CORRUPT = "corrupt"  # the file is not a (healthy) SQLite database; left as it is
    LOCKED = "locked"  # other writers held the lock past the timeout and the retries
    READ_ONLY = "read_only"  # the file or its folder cannot be written
    DISK_FULL = "disk_full"  # no space left (or the quota is used up)
    IO_ERROR = "io_error"  # anything else the disk or the OS refused


# SQLite primary result codes (the low byte of an extended code).
_SQLITE_PERM, _SQLITE_BUSY, _SQLITE_LOCKED, _SQLITE_READONLY, _SQLITE_IOERR = 3, 5, 6, 8, 10
_SQLITE_CORRUPT, _SQLITE_FULL, _SQLITE_CANTOPEN, _SQLITE_NOTADB = 11, 13, 14, 26
_OS_FAILURES = {
    errno.ENOSPC: WriteFailure.DISK_FULL,
    errno.EDQUOT: WriteFailure.DISK_FULL,
    errno.EROFS: WriteFailure.READ_ONLY,
    errno.EACCES: WriteFailure.READ_ONLY,
    errno.EPERM: WriteFailure.READ_ONLY,
}


def failure_of(err: BaseException, path: Path | None) -> WriteFailure:
    """The kind of a database failure, from SQLite's result code or the OS error."""
    if isinstance(err, OSError):
        return _OS_FAILURES.get(err.errno or 0, WriteFailure.IO_ERROR)
    code = getattr(err, "sqlite_errorcode", None)
    primary = code & 0xFF if isinstance(code, int) else None
    if primary in {_SQLITE_CORRUPT, _SQLITE_NOTADB}:
        return WriteFailure.CORRUPT
    if primary in {_SQLITE_BUSY, _SQLITE_LOCKED}:
        return WriteFailure.LOCKED
    if primary in {_SQLITE_READONLY, _SQLITE_PERM}:
        return WriteFailure.READ_ONLY
    if primary == _SQLITE_FULL:
        return WriteFailure.DISK_FULL
    if primary == _SQLITE_CANTOPEN and path is not None and not writable(path):
        return WriteFailure.READ_ONLY
    if primary in {_SQLITE_IOERR, _SQLITE_CANTOPEN} and path is not None and _nearly_full(path):
        # A full disk shows as SQLITE_FULL only where SQLite itself extends a file; growing the
        # WAL index or syncing reports an I/O error (SQLITE_IOERR_SHMSIZE, ..._WRITE) instead.
        return WriteFailure.DISK_FULL
    return WriteFailure.IO_ERROR


def _nearly_full(path: Path) -> bool:
    """Whether the file system that holds `path` has less room than one write needs (1 MiB)."""
    try:
        stats = os.statvfs(path.parent)
    except OSError:
        return False
    return stats.f_bavail * stats.f_frsize < 1 << 20


def writable(path: Path) -> bool:
    """Whether the database file (or, before it exists, its folder) can be written by this process."""
    target = path if path.exists() else path.parent
    if target.is_file():
        return os.access(target, os.W_OK)
    return target.is_dir() and os.access(target, os.W_OK | os.X_OK)


def connect_read_only(path: Path, *, busy_timeout_ms: int = 2000) -> sqlite3.Connection:
    """A connection that can only read `path` (which must exist); sqlite3.Error when it cannot be opened."""
    uri = path.resolve().as_uri()
    conn = sqlite3.connect(f"{uri}?mode=ro", uri=True, timeout=busy_timeout_ms / 1000)
    try:
        conn.execute("PRAGMA query_only = ON")
        conn.execute("SELECT count(*) FROM sqlite_master").fetchone()  # opening is lazy: this reads
        return conn
    except sqlite3.Error as err:
        conn.close()
        if not _whole_without_log(path, err):
            raise
    conn = sqlite3.connect(f"{uri}?immutable=1", uri=True)
    conn.execute("PRAGMA query_only = ON")
    return conn


def _whole_without_log(path: Path, err: sqlite3.Error) -> bool:
    """Whether a read-only open failed only for want of a `-shm` file, with no log holding rows.

    A read-only folder refuses the file (CANTOPEN, READONLY); a full disk refuses room for it
    (an I/O error).
    """
    code = getattr(err, "sqlite_errorcode", None)
    if not isinstance(code, int) or code & 0xFF not in {_SQLITE_CANTOPEN, _SQLITE_READONLY, _SQLITE_IOERR}:
        return False
    log = path.with_name(path.name + "-wal")
    try:
        return log.stat().st_size == 0
    except FileNotFoundError:
        return True
    except OSError:
        return False


class guard:  # noqa: N801  (used as `with guard(path):`, like contextlib's helpers)
    """Turns a database failure into a CaroError for the `caro telemetry` commands (never a traceback)."""

    def __init__(self, path: Path | None = None) -> None:
        self.path = path  # lets a file that cannot be opened be told apart as read-only

    def __enter__(self) -> None:
        return None

    def __exit__(self, exc_type: object, exc: BaseException | None, tb: object) -> None:
        if isinstance(exc, (sqlite3.Error, OSError)):
            failure = failure_of(exc, self.path)
            raise CaroError(MESSAGES[failure], code=f"telemetry_{failure.value}", hint=HINTS[failure]) from None


MESSAGES = {
    WriteFailure.CORRUPT: "The telemetry database is damaged; caro left it untouched.",
    WriteFailure.LOCKED: "The telemetry database is busy (another caro is writing to it).",
    WriteFailure.READ_ONLY: "The telemetry database cannot be written.",
    WriteFailure.DISK_FULL: "The disk that holds the telemetry database is full.",
    WriteFailure.IO_ERROR: "The telemetry database could not be read or written.",
}
HINTS = {
    WriteFailure.CORRUPT: "Move the telemetry.db file out of caro's data folder; caro starts a new one.",
    WriteFailure.LOCKED: "Try again in a moment.",
    WriteFailure.READ_ONLY: "Check the permissions of caro's data folder (CARO_HOME/data).",
    WriteFailure.DISK_FULL: "Free some space on that disk; what is stored is kept.",
    WriteFailure.IO_ERROR: "Check that caro's data folder exists and the disk has room.",
}
