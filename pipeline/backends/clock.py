"""A request's time: the budget of its own model work, the warm-up kept off it, cancellation, and progress.

The budget (`generation.timeout_s`) is wall-clock time as the user sees it, with one exception:
what a model needs before it can work on this request at all is kept off the clock, up to the
backend's own warm-up limit (`generation.warmup_s`): loading the model file, evaluating the
prompt text every request shares (both once per process), and waiting while another client's
request holds the model (the caro service). So a request that needs a model ends at the
latest `timeout_s + warmup_s` after its first model call, plus the moment it takes to stop,
and within `timeout_s` when the model is warm and free.

Every model call of one request (a retry, the fallback backend, the repair round) shares one
budget, started by the first call (`request_scope`, which `Caro.run` opens for each request),
and no call starts once the budget is spent. The state is per thread: a request runs in one
thread at a time, and the caro service serves each client in a thread of its own.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

# Phases a backend reports (`report`), for a sign of life while the user waits.
LOADING = "loading"  # the warm-up: loading the model, its shared prompt, or waiting for it
GENERATING = "generating"  # this request's own work


@dataclass
class Budget:
    """One request's clock: `seconds` of its own model work; time spent off the clock moves the deadline."""

    seconds: float
    started: float = field(default_factory=time.monotonic)
    off_clock_s: float = 0.0  # warm-up and waiting, not charged
    attempts: int = 0  # model calls started on this budget

    @property
    def deadline(self) -> float:
        """When the request's own work must be over (monotonic clock)."""
        return self.started + self.seconds + self.off_clock_s

    def remaining(self) -> float:
        return self.deadline - time.monotonic()


class _Request(threading.local):
    def __init__(self) -> None:
        self.budget: Budget | None = None
        self.scoped = False
        self.cancel: threading.Event | None = None
        self.progress: Callable[[str], None] | None = None


_REQUEST = _Request()


@contextmanager
def request_scope() -> Iterator[None]:
    """One request: its model calls share one budget, started by the first of them."""
    saved = (_REQUEST.budget, _REQUEST.scoped)
    _REQUEST.budget, _REQUEST.scoped = None, True
    try:
        yield
    finally:
        _REQUEST.budget, _REQUEST.scoped = saved


@contextmanager
def request_budget(seconds: float) -> Iterator[Budget]:
    """This request's budget: the one its first model call started, else a new one of `seconds`.

    Outside a `request_scope` (a program calling a backend chain directly), every call has a
    budget of its own.
    """
    if _REQUEST.budget is not None:
        yield _REQUEST.budget
        return
    budget = Budget(seconds)
    _REQUEST.budget = budget
    try:
        yield budget
    finally:
        if not _REQUEST.scoped:
            _REQUEST.budget = None


def deadline_after(timeout_s: float) -> float:
    """When a model call given `timeout_s` must end: the request's deadline, or `timeout_s` from now without one."""
    budget = _REQUEST.budget
    return budget.deadline if budget is not None else time.monotonic() + timeout_s


@contextmanager
def off_the_clock(limit_s: float = math.inf) -> Iterator[float]:
    """Time spent in here is not charged to the request's budget; yields when it must be over.

    `limit_s` is the warm-up allowance of the whole request: what earlier warm-ups and waits of
    the same request used is taken from it, and the caller stops at the time yielded.
    """
    budget = _REQUEST.budget
    used = budget.off_clock_s if budget is not None else 0.0
    start = time.monotonic()
    try:
        yield start + max(0.0, limit_s - used)
    finally:
        if budget is not None:
            budget.off_clock_s += time.monotonic() - start


def cancelled() -> bool:
    """Whether whoever asked for this thread's request has gone away (nobody will read the answer)."""
    event = _REQUEST.cancel
    return event is not None and event.is_set()


def cancel_event() -> threading.Event | None:
    """The event that says this thread's request was cancelled, if there is one."""
    return _REQUEST.cancel


@contextmanager
def cancel_on(event: threading.Event) -> Iterator[None]:
    """Requests made in this thread stop generating once `event` is set (the caro service's client left)."""
    _REQUEST.cancel = event
    try:
        yield
    finally:
        _REQUEST.cancel = None


@contextmanager
def progress_to(callback: Callable[[str], None]) -> Iterator[None]:
    """Phases the backends report in this thread (`LOADING`, `GENERATING`) go to `callback`."""
    saved = _REQUEST.progress
    _REQUEST.progress = callback
    try:
        yield
    finally:
        _REQUEST.progress = saved


def report(phase: str) -> None:
    """Say which phase this thread's model work is in (nothing happens when nobody listens)."""
    callback = _REQUEST.progress
    if callback is not None:
        callback(phase)
