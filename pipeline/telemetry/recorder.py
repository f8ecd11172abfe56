"""Completing a request's event drafts and flushing them once: validated, then stored (or printed).

The CLI makes one `Recorder` per process when telemetry is on (or in debug mode) and calls
`flush` (or `flush_detached`) once, after the command ran or not. Nothing here raises: a
broken, locked or read-only database, or any bug in telemetry, becomes a short problem string
for `--verbose`, and the user's command is unaffected.
"""

from __future__ import annotations

import json
import os
import sys
import threading
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from pipeline import __version__
from pipeline.paths import state_paths
from pipeline.telemetry import pending
from pipeline.telemetry.declare import Draft
from pipeline.telemetry.events import (
    EVENT_CLASSES,
    UNKNOWN_TYPE,
    Backend,
    SessionEnd,
    SessionStart,
    architecture,
    new_session_id,
    os_family,
    utc_timestamp,
)
from pipeline.values import Result, SafetyLevel


def _configured_backends(settings: Mapping[str, Any]) -> tuple[Backend, ...]:
    names = [] if settings.get("backend") == "none" else [settings.get("backend"), *settings.get("fallback", ())]
    return (Backend.STATIC, *dict.fromkeys(Backend(n) for n in names if n in ("llama_cpp", "vllm")))


class Recorder:
    """The telemetry of one caro process: a random session id, and one flush per request."""

    def __init__(self, *, settings: Mapping[str, Any], debug: bool, database: Path | None = None) -> None:
        self.session_id = new_session_id()
        self.started = time.perf_counter()
        self.started_at = utc_timestamp()  # session_start's time: when caro took the request
        self.settings = settings
        self.debug = debug
        self.database = database

    def events(self, result: Result, drafts: Sequence[Draft], durations_ms: Mapping[str, float], *, executed: bool) -> list[Any]:
        """The request's complete events: session_start, the stages' events, session_end.

        Each carries the time it happened: the start, each stage's end, and now (the end).
        """
        sid = self.session_id
        out: list[Any] = [
            SessionStart(
                session_id=sid,
                ts=self.started_at,
                caro_version=__version__,
                os=os_family(),
                arch=architecture(),
                backends=_configured_backends(self.settings),
                safety_level=SafetyLevel(self.settings.get("safety", "moderate")),
            )
        ]
        for draft in drafts:
            timed = draft.timed(durations_ms)
            out.append(EVENT_CLASSES[draft.event_type](session_id=sid, ts=draft.at or utc_timestamp(), **timed.fields))
        total = round((time.perf_counter() - self.started) * 1000)
        out.append(SessionEnd(session_id=sid, ts=utc_timestamp(), outcome=result.outcome, duration_ms=total, executed=executed))
        return out

    def flush(
        self,
        request: str,
        result: Result,
        drafts: Sequence[Draft],
        durations_ms: Mapping[str, float],
        *,
        executed: bool,
        attempts: int = 3,
        context: Any = None,
        debug_out: Any = None,
    ) -> str | None:
        """Validate and store (or, in debug mode, print) the request's events; a problem, or None.

        `attempts`: how many times a write that finds the database locked is tried. The caro
        service passes the client's `context` (a `SensitiveContext`: its folders and
        environment) and, in debug mode, `debug_out` (a text stream the rows go to, for the
        client to print); by default they are this process's and stderr.
        """
        try:
            from pipeline.telemetry.privacy import SensitiveContext
            from pipeline.telemetry.schemas import validate_events

            events = self.events(result, drafts, durations_ms, executed=executed)
            batch = validate_events(events, context or SensitiveContext.capture(request, result.command))
            if self.debug:
                for rows in batch.rows.values():
                    for row in rows:
                        (debug_out or sys.stderr).write(json.dumps(row, sort_keys=True) + "\n")
                return None
            from pipeline.telemetry.store import TelemetryStore

            outcome = TelemetryStore(self.database, attempts=attempts).write(batch)
            if not outcome.ok:
                lost = batch.row_count + batch.dropped_count
                counted = "counted as dropped" if outcome.counted else "and not even counted: the data folder cannot be written"
                return f"telemetry not stored: the database is {outcome.failure.value.replace('_', '-')}; {lost} event(s) {counted}"
            if batch.dropped:
                return f"telemetry dropped {sum(batch.dropped.values())} event(s) that failed validation"
            return None
        except Exception as error:  # telemetry must never break the user's command
            counted = self._count_failure(len(drafts) + 2)  # session_start, the stages' events, session_end
            return f"telemetry failed ({type(error).__name__}){'' if counted else '; not even counted'}"

    def _count_failure(self, events: int) -> bool:
        """Count a request's events as lost to a failure of telemetry itself; False if even that failed."""
        try:
            from pipeline.telemetry.tally import DropReason, add

            database = self.database if self.database is not None else state_paths().database
            return add(database, {(DropReason.FAILED.value, UNKNOWN_TYPE): events})
        except Exception:  # the count is best effort; the user's command comes first
            return False

    def flush_detached(
        self,
        request: str,
        result: Result,
        drafts: Sequence[Draft],
        durations_ms: Mapping[str, float],
        *,
        executed: bool,
    ) -> bool:
        """Flush in a child process forked now, so this one can exit; False if it must flush inline.

        Called when the answer is already out. The child is the same program with the same
        memory: it validates (pandera) and stores (sqlite-utils) exactly as `flush` does, in a
        new session with its standard streams on /dev/null, and exits without running any
        exit handler of the parent's. A lock held until it finishes lets readers wait for it
        (see `pending`). Not detached (False): debug mode prints for the user to see, and a
        process with other threads (a model's, a GPU runtime's) is not safe to fork.
        """
        if self.debug or not _may_fork():
            return False
        database = self.database if self.database is not None else state_paths().database
        held = pending.hold(database)
        if held is None:
            return False
        for stream in (sys.stdout, sys.stderr):
            try:
                stream.flush()  # the answer is out before the child exists; the child holds no unwritten copy
            except (OSError, ValueError):
                pass
        try:
            pid = os.fork()
        except OSError:
            os.close(held)
            return False
        if pid == 0:  # the child
            try:
                try:
                    os.setsid()  # closing the terminal must not cut a write short
                except OSError:
                    pass  # still in the terminal's session: the write goes on all the same
                quiet = os.open(os.devnull, os.O_RDWR)
                for fd in (0, 1, 2):
                    os.dup2(quiet, fd)
                # Nobody waits for this write, so it may wait longer for a busy database.
                self.flush(request, result, drafts, durations_ms, executed=executed, attempts=BACKGROUND_ATTEMPTS)
            finally:
                os._exit(0)
        os.close(held)  # the child's copy keeps the lock until it is done
        return True


# Write attempts of a background child (each waits up to the store's busy timeout, 2 s).
BACKGROUND_ATTEMPTS = 8


def _may_fork() -> bool:
    """Whether forking this process is safe: POSIX, one Python thread, no GPU runtime loaded."""
    return (
        hasattr(os, "fork")
        and threading.active_count() == 1
        and not any(name in sys.modules for name in ("torch", "vllm"))
    )
