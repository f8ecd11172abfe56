"""Starting the service detached: no terminal, no inherited files, nobody's child.

A client that finds no service takes the start lock (so that concurrent first requests start one
service, not several), starts `python -m pipeline.serve` through a double fork in a new session
with its standard streams on /dev/null and its working directory at /, and waits until the
service says it is listening (a line on a pipe), or the pipe closes because it could not start.

Light on purpose (os, fcntl, select): the request path imports it when it has to start one.
"""

from __future__ import annotations

import fcntl
import os
import select
import sys
import time

TYPE_CHECKING = False  # typing's own flag, without importing typing (2 ms) on the request path
if TYPE_CHECKING:
    from collections.abc import Callable

from pipeline.serve.endpoint import Endpoint, Unavailable

READY = b"ready\n"


class StartLock:
    """The exclusive lock held while a service is being started (a file lock: it dies with its holder)."""

    def __init__(self, endpoint: Endpoint, timeout_s: float, tick: Callable[[], None] | None = None) -> None:
        self.path = endpoint.lock_file
        self.timeout_s = timeout_s
        self.tick = tick  # called while waiting (a spinner's redraw)
        self.fd = -1

    def __enter__(self) -> StartLock:
        try:
            self.fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
        except OSError:
            raise Unavailable("the start lock cannot be created") from None
        deadline = time.monotonic() + self.timeout_s
        while True:
            try:
                fcntl.flock(self.fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                return self
            except OSError:
                if time.monotonic() > deadline:
                    os.close(self.fd)
                    raise Unavailable("another caro is still starting the service") from None
                if self.tick is not None:
                    self.tick()
                time.sleep(0.01)

    def __exit__(self, *exc: object) -> None:
        os.close(self.fd)  # closing the last descriptor releases the lock


def start_detached(timeout_s: float, extra_args: tuple[str, ...] = (), tick: Callable[[], None] | None = None) -> None:
    """Start the service for this environment and wait until it listens; Unavailable if it does not.

    `tick` is called about ten times a second while it starts (a spinner's redraw).
    """
    read_end, write_end = os.pipe()
    try:
        pid = os.fork()
    except OSError:
        os.close(read_end)
        os.close(write_end)
        raise Unavailable("cannot start a process") from None
    if pid == 0:  # the first child: a new session, then the service as its child, then gone
        try:
            os.close(read_end)
            os.setsid()
            if os.fork() != 0:
                os._exit(0)
            os.chdir("/")
            quiet = os.open(os.devnull, os.O_RDWR)
            for fd in (0, 1, 2):
                os.dup2(quiet, fd)
            # Nothing of the client's (a test's capture pipe, a terminal) may stay open in it.
            os.closerange(3, write_end)
            os.closerange(write_end + 1, 1 << 16)
            os.set_inheritable(write_end, True)
            argv = [sys.executable, "-m", "pipeline.serve", "--ready-fd", str(write_end), *extra_args]
            os.execv(sys.executable, argv)
        finally:
            os._exit(127)
    os.close(write_end)
    try:
        os.waitpid(pid, 0)  # the first child exits at once: no zombie is left behind
        if _read_line(read_end, timeout_s, tick) != READY:
            raise Unavailable("the service did not start")
    finally:
        os.close(read_end)


def _read_line(fd: int, timeout_s: float, tick: Callable[[], None] | None = None) -> bytes:
    deadline = time.monotonic() + timeout_s
    data = b""
    while not data.endswith(b"\n"):
        left = deadline - time.monotonic()
        if left <= 0:
            return b""
        if not select.select([fd], [], [], min(left, 0.1) if tick is not None else left)[0]:
            if tick is not None:
                tick()
            continue
        chunk = os.read(fd, 64)
        if not chunk:
            return b""
        data += chunk
    return data
