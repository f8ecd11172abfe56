"""Sharing one local model: whose turn it is, how many threads a turn gets, and stopping a turn in time.

The caro service runs one llama.cpp context for all its clients. Requests take turns in the
order they asked (`FairLock`); each turn uses the cores this process may run on that other work
leaves free at that moment (`threads_now`), and ends at its deadline, or when its client has
gone, even in the middle of a prompt's evaluation (`Stop`, `watch`).
"""

from __future__ import annotations

import collections
import ctypes
import math
import os
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from types import ModuleType
from typing import Any


def usable_cores() -> int:
    """How many cores this process may run on (its CPU affinity, which a container or `taskset` narrows)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):  # no affinity on this platform
        return max(1, os.cpu_count() or 1)


def _runnable() -> int | None:
    """How many threads the whole machine has ready to run right now (the kernel's count), or None."""
    try:
        with open("/proc/loadavg", encoding="ascii") as handle:
            return int(handle.read().split()[3].split("/")[0])
    except (OSError, ValueError, IndexError):
        return None


def threads_now(cores: int | None = None) -> int:
    """Threads for the next generation: the usable cores that other work leaves free, at least one.

    llama.cpp's threads meet at every step of a generation, so a thread whose core another
    process holds makes the others wait for its time slice: measured on 2 cores under load,
    2 threads took a median 13 s where 1 took 2.3 s for the same answers, and on an idle
    machine 2 were faster. The kernel's count of runnable threads is sampled a few times and
    the least is taken, so a passing spike does not count but a busy process (a build, a
    `yes`) does; the calling thread itself is one of them.
    """
    limit = usable_cores() if cores is None else cores
    samples = []
    for _ in range(3):
        count = _runnable()
        if count is None:
            return limit
        samples.append(count)
        time.sleep(0.001)
    return max(1, min(limit, usable_cores() - (min(samples) - 1)))


class FairLock:
    """A lock granted in the order it was asked for: one model, many clients, first come first served."""

    def __init__(self) -> None:
        self._guard = threading.Lock()
        self._held = False
        self._waiting: collections.deque[threading.Event] = collections.deque()

    def acquire(self, timeout: float | None = None) -> bool:
        with self._guard:
            if not self._held and not self._waiting:
                self._held = True
                return True
            turn = threading.Event()
            self._waiting.append(turn)
        if turn.wait(timeout):
            return True
        with self._guard:
            if turn.is_set():  # handed over just as the wait ended
                return True
            self._waiting.remove(turn)
            return False

    def release(self) -> None:
        with self._guard:
            if self._waiting:
                self._waiting.popleft().set()  # handed straight to the next in line: it stays held
            else:
                self._held = False


class Stop:
    """When llama.cpp must stop evaluating: past `deadline`, or once `cancel` is set; `why` says which it was."""

    def __init__(self) -> None:
        self.deadline = math.inf
        self.cancel: threading.Event | None = None
        self.why: str | None = None  # "deadline", "cancelled" or "interrupted" once it stopped

    def due(self) -> bool:
        if self.cancel is not None and self.cancel.is_set():
            self.why = "cancelled"
        elif time.monotonic() > self.deadline:
            self.why = "deadline"
        return self.why is not None

    @contextmanager
    def armed(self, deadline: float, cancel: threading.Event | None) -> Iterator[None]:
        """Stop the evaluations made in here at `deadline`, or when `cancel` is set."""
        self.deadline, self.cancel, self.why = deadline, cancel, None
        try:
            yield
        finally:
            self.deadline, self.cancel = math.inf, None


def watch(llama_cpp: ModuleType, llama: Any, stop: Stop) -> Any:
    """Make llama.cpp ask `stop` whether to abort, between the steps of every evaluation; the callback to keep.

    llama.cpp calls it on its calling thread between the nodes of a compute graph (thousands
    per answer, well under a millisecond in all: measured 14,520 calls in a 1 s answer of the
    tiny model with no measurable difference), so a prompt's evaluation stops within a step
    of the deadline; it then reports an error, and the context keeps only the batches
    evaluated in full. A KeyboardInterrupt delivered while Python runs the callback stops the
    evaluation too, and the caller re-raises it (`why == "interrupted"`).
    """

    @llama_cpp.ggml_abort_callback
    def should_abort(_data: ctypes.c_void_p) -> bool:
        try:
            return stop.due()
        except BaseException:  # noqa: BLE001 - Ctrl-C arrives here while the main thread is in llama.cpp
            stop.why = "interrupted"
            return True

    llama_cpp.llama_set_abort_callback(llama.ctx, should_abort, None)
    return should_abort
