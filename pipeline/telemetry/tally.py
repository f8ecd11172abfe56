"""Events that could not be stored, counted beside the database until it takes them again.

When a write fails (the database locked past every retry, a full disk, a damaged file) the
events are lost, but not silently: their number is added, by reason and event type, to a small
file next to the database (`telemetry.db.dropped`). The next write that succeeds moves those
counts into the database's `dropped` table in its own transaction and zeroes the file;
`caro telemetry status` shows both.

The file has a fixed layout and size: a line per (reason, event type) with a zero-padded
count. It is created, full size, when the database is, and every update rewrites it in place
at the same length, so on a disk that has since filled up the update needs no new block and
still succeeds (on the common file systems that overwrite in place; copy-on-write ones such as
btrfs or ZFS may refuse it, and then the loss is reported by `--verbose` alone). Updates are
serialised with `flock`. A folder caro cannot write to holds no such file: status says so.

Light on purpose (no pandas, pandera or sqlite-utils): the request path may import it.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from enum import Enum
from pathlib import Path

from pipeline.telemetry.events import UNKNOWN_TYPE, EventType

try:
    import fcntl
except ImportError:  # not POSIX: updates are not serialised between processes
    fcntl = None  # type: ignore[assignment]


class DropReason(str, Enum):
    """Why events were not stored."""

    INVALID = "invalid"  # a row failed its schema (a bug somewhere: caro builds the rows)
    SENSITIVE = "sensitive"  # a row held a fragment of the request's context (the privacy check)
    LOCKED = "locked"  # other writers held the database past the timeout and every retry
    READ_ONLY = "read_only"  # the database or its folder cannot be written
    CORRUPT = "corrupt"  # the file is not a healthy SQLite database (left as it is)
    DISK_FULL = "disk_full"  # no space left on the disk (or the quota is used up)
    IO_ERROR = "io_error"  # anything else the disk or the OS refused
    FAILED = "failed"  # telemetry itself failed (a bug); the user's command was unaffected


KINDS = (*(kind.value for kind in EventType), UNKNOWN_TYPE)
_HEADER = b"caro telemetry: events not stored (reason, event type, count); moved into the database when it works again\n"
_DIGITS = 12  # up to a trillion events per (reason, type) before the file would have to grow
_MAX = 10**_DIGITS - 1
_REASON_WIDTH = max(len(r.value) for r in DropReason)
_KIND_WIDTH = max(map(len, KINDS))

Counts = dict[tuple[str, str], int]  # (reason, event type) -> events


def tally_path(database: Path) -> Path:
    """The file that counts the events not stored in `database`."""
    return database.with_name(database.name + ".dropped")


def _render(counts: Mapping[tuple[str, str], int]) -> bytes:
    lines = [
        f"{reason.value:<{_REASON_WIDTH}} {kind:<{_KIND_WIDTH}} {min(counts.get((reason.value, kind), 0), _MAX):0{_DIGITS}d}\n"
        for reason in DropReason
        for kind in KINDS
    ]
    return _HEADER + "".join(lines).encode()


SIZE = len(_render({}))


def _parse(data: bytes) -> Counts:
    """The counts in a tally file's bytes; lines that are not well-formed count for nothing."""
    counts: Counts = {}
    reasons = {r.value for r in DropReason}
    for line in data.decode("ascii", errors="replace").splitlines()[1:]:
        parts = line.split()
        if len(parts) == 3 and parts[0] in reasons and parts[1] in KINDS and parts[2].isdigit() and int(parts[2]):
            counts[(parts[0], parts[1])] = int(parts[2])
    return counts


def ensure(database: Path) -> None:
    """Create the tally file at full size if it is missing (while there is room); quietly when it cannot be."""
    path = tally_path(database)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except OSError:
        return  # already there, or nowhere to put it
    try:
        os.write(fd, _render({}))
    except OSError:
        os.close(fd)
        path.unlink(missing_ok=True)  # a short file would be rewritten at full size later
        return
    os.close(fd)


@contextmanager
def _locked(path: Path) -> Iterator[int | None]:
    """The file open for update and exclusively locked (waiting for the lock), or None when it cannot be had."""
    try:
        fd = os.open(path, os.O_RDWR)
    except OSError:
        yield None
        return
    try:
        if fcntl is not None:
            fcntl.flock(fd, fcntl.LOCK_EX)
    except OSError:
        os.close(fd)
        yield None
        return
    try:
        yield fd
    finally:
        os.close(fd)  # releases the lock


def _read(fd: int) -> bytes:
    return os.pread(fd, SIZE + 4096, 0)


def _rewrite(fd: int, counts: Mapping[tuple[str, str], int]) -> None:
    """Overwrite the file's bytes in place at the same length (no new block needed)."""
    data = _render(counts)
    if os.pwrite(fd, data, 0) != len(data):
        raise OSError("short write")
    os.ftruncate(fd, len(data))  # drops anything a hand edit left after the fixed layout


def add(database: Path, lost: Mapping[tuple[str, str], int]) -> bool:
    """Add (reason, event type) -> events to the counts; False when even the count could not be kept."""
    if not any(lost.values()):
        return True
    path = tally_path(database)
    if not path.exists():
        ensure(database)
    with _locked(path) as fd:
        if fd is None:
            return False
        counts = _parse(_read(fd))
        for (reason, kind), n in lost.items():
            key = (DropReason(reason).value, kind if kind in KINDS else UNKNOWN_TYPE)
            counts[key] = counts.get(key, 0) + int(n)
        try:
            _rewrite(fd, counts)
        except OSError:
            return False
    return True


def peek(database: Path) -> Counts:
    """The counts waiting in the tally file, read without writing anything (for `caro telemetry status`)."""
    try:
        with tally_path(database).open("rb") as handle:
            return _parse(handle.read(SIZE + 4096))
    except OSError:
        return {}


@dataclass
class Claim:
    """The tally's counts, held under its lock while a database transaction stores them.

    `take()` reads the counts (nothing when another process holds the file: it is merged next
    time), `settle()` zeroes them once the transaction has committed, and `release()` lets the
    file go; a claim that is released without being settled leaves the counts where they were.
    """

    database: Path
    counts: Counts = field(default_factory=dict)
    _fd: int | None = None

    def take(self) -> Counts:
        path = tally_path(self.database)
        try:
            if os.path.getsize(path) == 0 or not any(_parse(path.read_bytes()).values()):
                return {}  # the common case: nothing waiting, and no lock taken
            fd = os.open(path, os.O_RDWR)
        except OSError:
            return {}
        try:
            if fcntl is not None:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            os.close(fd)
            return {}
        self._fd = fd
        self.counts = _parse(_read(fd))
        return self.counts

    def settle(self) -> None:
        if self._fd is not None and self.counts:
            try:
                _rewrite(self._fd, {})
            except OSError:
                pass  # counted again next time: a double count is better than a silent loss
            self.counts = {}

    def release(self) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None
