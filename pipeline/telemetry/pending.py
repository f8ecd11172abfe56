"""Telemetry writes still in flight after caro exited, and waiting for them before reading.

With `telemetry.flush = "background"` a request's events are validated and stored by a child
process forked after the answer is on screen, so the user's prompt comes back without waiting
for pandera and SQLite. Each such child holds a shared `flock` on a lock file beside the
database (taken by the parent before the fork, so there is no moment without it); a reader
(`caro telemetry show`, `status`, `export`, `clear`) takes the lock exclusively for an instant,
which waits until every pending write has finished, up to a bound.

Light on purpose (no pandas, pandera or sqlite-utils): the request path imports it.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

try:
    import fcntl
except ImportError:  # not POSIX: no fork either, so every flush is inline
    fcntl = None  # type: ignore[assignment]

# A reader waits at most this long for writers; a write takes milliseconds, so only a stuck
# child (or a flood of them) can make it wait that long, and then it reads what is there.
READ_WAIT_S = 10.0


def lock_path(database: Path) -> Path:
    """The lock file that marks pending writes to `database`."""
    return database.with_name(database.name + ".pending")


def hold(database: Path) -> int | None:
    """A file descriptor holding a shared lock for one pending write, or None if it cannot be had.

    The descriptor is inherited by a forked child; the lock lasts until every copy is closed.
    """
    if fcntl is None:
        return None
    path = lock_path(database)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    except OSError:
        return None
    try:
        fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
    except OSError:
        # A reader holds it exclusively for an instant; then wait (briefly) like any writer.
        try:
            fcntl.flock(fd, fcntl.LOCK_SH)
        except OSError:
            os.close(fd)
            return None
    return fd


def wait_for_writes(database: Path, timeout_s: float = READ_WAIT_S) -> bool:
    """Wait until no background write to `database` is pending; False if still pending at the timeout."""
    if fcntl is None:
        return True
    path = lock_path(database)
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return True  # no lock file: nothing was ever written in the background
    try:
        deadline = time.monotonic() + timeout_s
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                fcntl.flock(fd, fcntl.LOCK_UN)
                return True
            except OSError:
                if time.monotonic() >= deadline:
                    return False
                time.sleep(0.01)
    finally:
        os.close(fd)
