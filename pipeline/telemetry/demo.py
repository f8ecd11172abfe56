"""Synthetic telemetry that looks like a month of real use, written the way real events are.

For trying the analysis notebook (and benchmarking it) before any real data exists. The story
of each request follows what `builders.py` records for a real one: a `session_start`, one
`command_generation` (the backend that answered, or the one that failed), a `backend_error` per
model failure on the way (a recoverable one is followed by a retry or the fallback backend),
a `safety_validation` when a command came out, the choices made at the interactive prompt
when there was one (`demo_prompt.py`), and a `session_end`.

The rhythm: requests cluster in working hours and on weekdays, and use grows over the span.
Most requests are answered by the static table in a few milliseconds; the rest by llama.cpp
(lognormal around 1.8 s) or, where configured, a vLLM server (around 0.55 s) with llama.cpp
as its fallback. Every number is drawn from `random.Random(seed)`: the same seed, count, span
and end give the same events, session ids included.

`demo_db.write_demo` stores them through `validate_events` and `TelemetryStore.write`, in
batches, exactly as real events are stored; there is no shortcut into the table.
"""

from __future__ import annotations

import bisect
import math
import random
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from enum import IntEnum

from array import array

from pipeline.telemetry.demo_prompt import extra_events, pick_sequence, prompt_events
from pipeline.telemetry.events import Arch, Backend, BackendError, CommandGeneration, Event, GenerationFailure, OsFamily
from pipeline.telemetry.events import SafetyValidation, SessionEnd, SessionStart, utc_timestamp
from pipeline.values import Action, Category, GenerationErrorKind, Outcome, Risk, SafetyLevel, action_for

MAX_EVENTS = 10_000_000  # ~3 GB of SQLite and a few minutes; more is a mistake, not a demo
MAX_DAYS = 3650

# -- the shape of a session: which backends, which route, how many backend errors ----------------
#
# Drawn first, for every session, by its own generator: the shapes alone say how many events each
# session has, so the number of sessions (and so their times) is known before any event is made.


class Config(IntEnum):
    """The backends a demo user configured."""

    STATIC_LLAMA = 0
    STATIC_VLLM_LLAMA = 1  # vLLM first, the embedded model as fallback
    STATIC_ONLY = 2
    LLAMA_ONLY = 3


class Route(IntEnum):
    """How a demo request went."""

    BAD_INPUT = 0
    PASSTHROUGH = 1
    STATIC = 2
    NO_MODEL = 3  # no static match and no model configured
    MODEL_OK = 4
    MODEL_FAIL = 5


_CONFIGS = ((Config.STATIC_LLAMA, 0.72), (Config.STATIC_VLLM_LLAMA, 0.16), (Config.STATIC_ONLY, 0.08), (Config.LLAMA_ONLY, 0.04))
_CONFIG_BACKENDS = {
    Config.STATIC_LLAMA: (Backend.LLAMA_CPP, Backend.STATIC),
    Config.STATIC_VLLM_LLAMA: (Backend.LLAMA_CPP, Backend.STATIC, Backend.VLLM),
    Config.STATIC_ONLY: (Backend.STATIC,),
    Config.LLAMA_ONLY: (Backend.LLAMA_CPP,),
}
P_BAD_INPUT = 0.015
P_PASSTHROUGH = 0.06
P_STATIC_HIT = 0.62  # of the requests that reach the static table
P_MODEL_FAIL = {Config.STATIC_VLLM_LLAMA: 0.03}  # otherwise:
P_MODEL_FAIL_DEFAULT = 0.05

# Events per shape, before any backend_error: start + generation (+ safety) + end.
_BASE_EVENTS = {Route.BAD_INPUT: 2, Route.PASSTHROUGH: 4, Route.STATIC: 4, Route.NO_MODEL: 3, Route.MODEL_OK: 4, Route.MODEL_FAIL: 3}


def _pick(rng: random.Random, weighted: tuple[tuple[object, float], ...]) -> object:
    """One value of `(value, weight)` pairs, by weight."""
    point = rng.random() * sum(w for _, w in weighted)
    for value, weight in weighted:
        point -= weight
        if point < 0:
            return value
    return weighted[-1][0]


def _shape(rng: random.Random) -> int:
    """One session's shape: its prompt's choice sequence * 128 + config * 32 + route * 4 + number of backend errors."""
    config: Config = _pick(rng, _CONFIGS)  # type: ignore[assignment]
    errors = 0
    roll = rng.random()
    if roll < P_BAD_INPUT:
        route = Route.BAD_INPUT
    elif roll < P_BAD_INPUT + P_PASSTHROUGH:
        route = Route.PASSTHROUGH
    elif config is not Config.LLAMA_ONLY and rng.random() < P_STATIC_HIT:
        route = Route.STATIC
    elif config is Config.STATIC_ONLY:
        route = Route.NO_MODEL
    elif rng.random() < P_MODEL_FAIL.get(config, P_MODEL_FAIL_DEFAULT):
        route = Route.MODEL_FAIL
        # A third of the failures are a command that refine could not make valid (no backend
        # error); the rest end in a backend failure that could not be recovered from, after
        # vLLM's recoverable one where vLLM comes first.
        if rng.random() >= 0.3:
            errors = 2 if config is Config.STATIC_VLLM_LLAMA else 1
    else:
        route = Route.MODEL_OK
        r = rng.random()
        if config is Config.STATIC_VLLM_LLAMA:
            errors = 0 if r < 0.94 else 1 if r < 0.99 else 2  # vLLM down: fallback; and a retry
        else:
            errors = 0 if r < 0.96 else 1  # an unparsable reply, retried
    sequence = pick_sequence(rng, config is not Config.STATIC_ONLY) if route in _WITH_COMMAND else 0
    return sequence * 128 + int(config) * 32 + int(route) * 4 + errors


_WITH_COMMAND = (Route.PASSTHROUGH, Route.STATIC, Route.MODEL_OK)


def _unpack(shape: int) -> tuple[Config, Route, int, int]:
    return Config((shape // 32) % 4), Route((shape // 4) % 8), shape % 4, shape // 128


# -- when: working hours, weekdays, and growth over the span -------------------------------------

# Relative request rate per hour of the day (UTC, as if the demo team shared one zone).
_HOURLY = (0.15, 0.10, 0.08, 0.06, 0.06, 0.10, 0.25, 0.50, 0.90, 1.30, 1.50, 1.50,
           1.10, 1.30, 1.50, 1.50, 1.40, 1.10, 0.80, 0.60, 0.55, 0.50, 0.40, 0.25)  # fmt: skip
_WEEKDAY = (1.0, 1.05, 1.05, 1.0, 0.85, 0.30, 0.25)  # Monday first
_GROWTH = 0.6  # the last hour of the span sees (1 + 0.6 / 0.7) times the first's use


def _session_starts(rng: random.Random, sessions: int, start: datetime, hours: int) -> list[float]:
    """Sorted start times (seconds after `start`) of `sessions` requests, drawn by the rhythm above."""
    cumulative: list[float] = []
    total = 0.0
    for hour in range(hours):
        moment = start + timedelta(hours=hour)
        total += _HOURLY[moment.hour] * _WEEKDAY[moment.weekday()] * (0.7 + _GROWTH * hour / hours)
        cumulative.append(total)
    times = []
    for _ in range(sessions):
        hour = min(bisect.bisect_right(cumulative, rng.random() * total), hours - 1)
        # The span's last minute stays free, so that a session's later events still fall inside it.
        width = 3600.0 if hour < hours - 1 else 3540.0
        times.append(hour * 3600.0 + rng.random() * width)
    times.sort()
    return times


# -- what: one session's events ---------------------------------------------------------------


def _ms(rng: random.Random, median: float, sigma: float) -> int:
    """A lognormal duration in whole milliseconds around `median`."""
    return max(0, int(rng.lognormvariate(math.log(median), sigma)))


_PLATFORMS = (
    ((OsFamily.LINUX, Arch.X86_64), 0.55), ((OsFamily.LINUX, Arch.ARM64), 0.05), ((OsFamily.MACOS, Arch.ARM64), 0.30),
    ((OsFamily.MACOS, Arch.X86_64), 0.07), ((OsFamily.OTHER, Arch.X86_64), 0.03),
)  # fmt: skip
_LEVELS = ((SafetyLevel.MODERATE, 0.78), (SafetyLevel.STRICT, 0.14), (SafetyLevel.PERMISSIVE, 0.08))
_RISKS = {
    Route.STATIC: ((Risk.SAFE, 0.85), (Risk.MODERATE, 0.11), (Risk.HIGH, 0.035), (Risk.CRITICAL, 0.005)),
    Route.MODEL_OK: ((Risk.SAFE, 0.72), (Risk.MODERATE, 0.17), (Risk.HIGH, 0.08), (Risk.CRITICAL, 0.03)),
    Route.PASSTHROUGH: ((Risk.SAFE, 0.55), (Risk.MODERATE, 0.20), (Risk.HIGH, 0.15), (Risk.CRITICAL, 0.10)),
}
_CATEGORIES = {
    Risk.MODERATE: (
        (Category.RECURSIVE_OPERATIONS, 0.3), (Category.NETWORK, 0.25), (Category.PROCESS, 0.2),
        (Category.SYSTEM_CONFIG, 0.15), (Category.UNPARSABLE, 0.1),
    ),
    Risk.HIGH: (
        (Category.DESTRUCTIVE_RM, 0.35), (Category.PRIVILEGE_ESCALATION, 0.25), (Category.SYSTEM_FILES, 0.15),
        (Category.RECURSIVE_OPERATIONS, 0.15), (Category.DATA_EXFILTRATION, 0.1),
    ),
    Risk.CRITICAL: (
        (Category.DESTRUCTIVE_RM, 0.4), (Category.PIPE_TO_SHELL, 0.3), (Category.DISK_OVERWRITE, 0.15),
        (Category.RESOURCE_EXHAUSTION, 0.1), (Category.PRIVILEGE_ESCALATION, 0.05),
    ),
}
_P_EXECUTED = {Action.ALLOWED: 0.4, Action.CONFIRM: 0.25, Action.BLOCKED: 0.0}
# Model backend failures: (kind, weight, milliseconds lost before it was given up).
_RECOVERABLE = {
    Backend.VLLM: ((GenerationErrorKind.NOT_FOUND, 0.35, 5.0), (GenerationErrorKind.TIMEOUT, 0.3, 10_000.0),
                   (GenerationErrorKind.INFERENCE_FAILED, 0.25, 300.0), (GenerationErrorKind.OOM, 0.1, 200.0)),
    Backend.LLAMA_CPP: ((GenerationErrorKind.PARSE_ERROR, 0.7, 1_800.0), (GenerationErrorKind.INFERENCE_FAILED, 0.3, 900.0)),
}  # fmt: skip
_FATAL = (
    (GenerationErrorKind.TIMEOUT, 0.35, 30_000.0), (GenerationErrorKind.PARSE_ERROR, 0.25, 3_600.0),
    (GenerationErrorKind.MODEL_LOAD_FAILED, 0.2, 400.0), (GenerationErrorKind.OOM, 0.12, 600.0),
    (GenerationErrorKind.NOT_FOUND, 0.08, 2.0),
)  # fmt: skip
_FAILURE_OF = {GenerationErrorKind.TIMEOUT: GenerationFailure.TIMEOUT, GenerationErrorKind.PARSE_ERROR: GenerationFailure.PARSE_ERROR}
_MODEL_MEDIAN_MS = {Backend.LLAMA_CPP: 1_800.0, Backend.VLLM: 550.0}
_MODEL_SIGMA = {Backend.LLAMA_CPP: 0.45, Backend.VLLM: 0.35}
_P_REFINE = {Backend.LLAMA_CPP: 0.22, Backend.VLLM: 0.15}
_P_REFINE_CHANGED = 0.65


def _version(rng: random.Random, progress: float) -> str:
    """The caro release a request used: newer ones spread through the span, with stragglers."""
    if progress > 0.75 and rng.random() < 0.8:
        return "0.2.0"
    if progress > 0.4 and rng.random() < 0.85:
        return "0.1.1"
    return "0.1.0"


def _categories(rng: random.Random, risk: Risk) -> tuple[Category, ...]:
    if risk is Risk.SAFE:
        return (Category.NETWORK,) if rng.random() < 0.05 else ()
    pool = _CATEGORIES[risk]
    first = _pick(rng, pool)
    if risk is not Risk.MODERATE and rng.random() < 0.25:
        return (first, _pick(rng, pool))  # type: ignore[return-value]
    return (first,)  # type: ignore[return-value]


_EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)


class _Session:
    """Builds one session's events in time order; timestamps from milliseconds after the epoch."""

    def __init__(self, session_id: str, start_ms: int):
        self.session_id = session_id
        self.clock = start_ms
        self.events: list[Event] = []

    def ts(self) -> str:
        return utc_timestamp(_EPOCH + timedelta(milliseconds=self.clock))

    def later(self, ms: int) -> None:
        self.clock += ms


def _session(rng: random.Random, shape: int, start_ms: int, progress: float) -> list[Event]:
    """The events of one request of the given shape, starting `start_ms` after the epoch."""
    config, route, errors, sequence = _unpack(shape)
    s = _Session(f"{rng.getrandbits(128):032x}", start_ms)
    platform: tuple[OsFamily, Arch] = _pick(rng, _PLATFORMS)  # type: ignore[assignment]
    level: SafetyLevel = _pick(rng, _LEVELS)  # type: ignore[assignment]
    start_ts = s.ts()
    s.events.append(
        SessionStart(
            session_id=s.session_id, ts=start_ts, caro_version=_version(rng, progress), os=platform[0],
            arch=platform[1], backends=_CONFIG_BACKENDS[config], safety_level=level,
        )
    )
    if route is Route.BAD_INPUT:
        s.later(_ms(rng, 2, 0.5))
        s.events.append(SessionEnd(session_id=s.session_id, ts=s.ts(), outcome=Outcome.BAD_INPUT, duration_ms=s.clock - start_ms, executed=False))
        return s.events
    s.later(_ms(rng, 6, 0.4))  # parse
    generation_start = s.clock
    backend, success, failure, refine_ran, refine_changed = _generation(rng, s, config, route, errors)
    s.later(_generation_ms(rng, backend, route, refine_ran))
    s.events.append(
        CommandGeneration(
            session_id=s.session_id, ts=s.ts(), backend=backend, duration_ms=s.clock - generation_start,
            success=success, error_category=failure, refine_ran=refine_ran, refine_changed=refine_changed,
        )
    )
    executed = False
    if success:
        risk: Risk = _pick(rng, _RISKS[route])  # type: ignore[assignment]
        action = action_for(risk, level)
        s.later(_ms(rng, 4, 0.5))
        s.events.append(
            SafetyValidation(session_id=s.session_id, ts=s.ts(), risk=risk, action=action, categories=_categories(rng, risk))
        )
        if sequence:
            model = Backend.VLLM if config is Config.STATIC_VLLM_LLAMA else Backend.LLAMA_CPP
            executed = prompt_events(rng, s, sequence, model, level, action)
        else:
            executed = rng.random() < _P_EXECUTED[action]
    s.later(_ms(rng, 3, 0.5))
    s.events.append(
        SessionEnd(
            session_id=s.session_id, ts=s.ts(), outcome=Outcome.COMMAND if success else Outcome.NO_COMMAND,
            duration_ms=s.clock - start_ms, executed=executed,
        )
    )
    return s.events


def _generation(
    rng: random.Random, s: _Session, config: Config, route: Route, errors: int
) -> tuple[Backend, bool, GenerationFailure | None, bool, bool]:
    """Who answered and how: (backend, success, failure, refine_ran, refine_changed); backend errors appended to `s`."""
    if route is Route.PASSTHROUGH:
        return Backend.PASSTHROUGH, True, None, False, False
    if route is Route.STATIC:
        return Backend.STATIC, True, None, False, False
    if route is Route.NO_MODEL:
        return Backend.STATIC, False, GenerationFailure.BACKEND_ERROR, False, False
    if config is not Config.LLAMA_ONLY:
        s.later(_ms(rng, 3, 0.6))  # the static table missed first
    backend = Backend.VLLM if config is Config.STATIC_VLLM_LLAMA else Backend.LLAMA_CPP
    fatal = route is Route.MODEL_FAIL and errors > 0
    for n in range(errors):
        last = n == errors - 1
        if fatal and last:
            kind, lost = _failure_kind(rng, _FATAL)
        else:
            kind, lost = _failure_kind(rng, _RECOVERABLE[backend])
        s.later(_ms(rng, lost, 0.25))
        s.events.append(
            BackendError(session_id=s.session_id, ts=s.ts(), backend=backend, error_category=kind, recoverable=not (fatal and last))
        )
        if fatal and last:
            return backend, False, _FAILURE_OF.get(kind, GenerationFailure.BACKEND_ERROR), False, False
        if backend is Backend.VLLM:
            backend = Backend.LLAMA_CPP  # the fallback takes over
    if route is Route.MODEL_FAIL:
        return backend, False, GenerationFailure.VALIDATION_ERROR, True, False  # refine could not repair it
    refine_ran = rng.random() < _P_REFINE[backend]
    return backend, True, None, refine_ran, refine_ran and rng.random() < _P_REFINE_CHANGED


def _failure_kind(rng: random.Random, pool: tuple[tuple[GenerationErrorKind, float, float], ...]) -> tuple[GenerationErrorKind, float]:
    kind = _pick(rng, tuple((k, w) for k, w, _ in pool))
    return kind, next(lost for k, _, lost in pool if k is kind)  # type: ignore[return-value]


def _generation_ms(rng: random.Random, backend: Backend, route: Route, refine_ran: bool) -> int:
    if backend is Backend.PASSTHROUGH:
        return _ms(rng, 1, 0.4)
    if backend is Backend.STATIC:
        return _ms(rng, 3, 0.6)
    if route is Route.MODEL_FAIL and not refine_ran:
        return 0  # the failure's time is already on the clock
    ms = _ms(rng, _MODEL_MEDIAN_MS[backend], _MODEL_SIGMA[backend])
    if refine_ran:
        ms += _ms(rng, 60, 0.3) + _ms(rng, 0.8 * _MODEL_MEDIAN_MS[backend], _MODEL_SIGMA[backend])  # lint, then a repair
    return ms


# -- the generator --------------------------------------------------------------------------------


def default_end() -> datetime:
    """The end of a demo span unless one is given: the start of the current hour, UTC."""
    return datetime.now(timezone.utc).replace(minute=0, second=0, microsecond=0)


def demo_events(count: int, *, seed: int = 0, days: int = 30, end: datetime | None = None) -> Iterator[Event]:
    """`count` synthetic events over the `days` before `end`, oldest session first; deterministic per arguments.

    The last session is cut short when `count` ends inside it, as a request still running would be.
    """
    if not 1 <= count <= MAX_EVENTS:
        raise ValueError(f"count must be 1 to {MAX_EVENTS}")
    if not 1 <= days <= MAX_DAYS:
        raise ValueError(f"days must be 1 to {MAX_DAYS}")
    finish = (end or default_end()).astimezone(timezone.utc)
    start = finish - timedelta(days=days)
    shapes_rng, times_rng, content_rng = (random.Random(f"caro-demo:{seed}:{part}") for part in ("shapes", "times", "content"))
    shapes = array("H")
    total = 0
    while total < count:
        shape = _shape(shapes_rng)
        shapes.append(shape)
        _, route, errors, sequence = _unpack(shape)
        total += _BASE_EVENTS[route] + errors + extra_events(sequence)
    span_s = days * 86_400.0
    start_ms = int(start.timestamp() * 1000)
    times = _session_starts(times_rng, len(shapes), start, days * 24)
    left = count
    for shape, offset in zip(shapes, times):
        events = _session(content_rng, shape, start_ms + int(offset * 1000), offset / span_s)
        yield from events[:left]
        left -= len(events)
        if left <= 0:
            return
