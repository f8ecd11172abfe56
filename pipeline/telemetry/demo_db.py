"""Writing demo telemetry (`demo.demo_events`) into a database, the way real events are written.

Every batch goes through `validate_events` and `TelemetryStore.write`; there is no shortcut into
the table. Demo data holds no request, so the sensitive context is empty. Existing data is never
replaced: a file that holds events is refused unless the caller appends, and a file that is not
a caro telemetry database is refused outright.
"""

from __future__ import annotations

import itertools
import sqlite3
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING

from pipeline.errors import CaroError, ExitCode
from pipeline.telemetry.demo import demo_events

if TYPE_CHECKING:  # pandera and sqlite-utils load only when events are written
    from pipeline.telemetry.events import ValidatedBatch
    from pipeline.telemetry.store import TelemetryStore

BATCH_SIZE = 10_000


@dataclass(frozen=True)
class DemoReport:
    """What `write_demo` did."""

    path: Path
    written: int  # events stored by this run
    dropped: int  # events validation refused (0 unless the generator has a bug)
    total: int  # events in the file afterwards
    appended: bool  # the file held events before


def stored_events(path: Path) -> int | None:
    """How many events the telemetry file at `path` holds (read-only); None when there is no such file.

    An empty file (0 bytes) holds 0. A file that is not a caro telemetry database is a CaroError:
    the demo never writes into someone else's data.
    """
    if not path.exists():
        return None
    if path.is_file() and path.stat().st_size == 0:
        return 0
    try:
        conn = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True)
        try:
            tables = {row[0] for row in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
            if "events" not in tables:
                if tables:
                    raise _not_telemetry()
                return 0
            return int(conn.execute("SELECT count(*) FROM events").fetchone()[0])
        finally:
            conn.close()
    except sqlite3.Error:
        raise _not_telemetry() from None


def _not_telemetry() -> CaroError:
    message = "the demo output exists and is not a caro telemetry database; caro left it untouched"
    return CaroError(message, code="demo_output_foreign", exit_code=ExitCode.ERROR, hint="choose another --output-file")


def write_demo(
    path: Path, count: int, *, seed: int = 0, days: int = 30, end: datetime | None = None, append: bool = False,
    batch_size: int = BATCH_SIZE, on_batch: Callable[[int], None] | None = None,
) -> DemoReport:
    """Generate `count` demo events into the telemetry database at `path`, validated and written in batches.

    Refuses (CaroError, exit code 2) a file that already holds events unless `append`, and
    (exit code 1) a file that is not a telemetry database: existing data is never replaced.
    `on_batch` is told the number of events written so far after each batch.
    """
    from pipeline.telemetry.privacy import SensitiveContext
    from pipeline.telemetry.schemas import validate_events
    from pipeline.telemetry.store import TelemetryStore

    before = stored_events(path) or 0
    if before and not append:
        message, hint = "the demo output already holds events; caro left it untouched", "pass --append to add to it, or choose another --output-file"
        raise CaroError(message, code="demo_output_not_empty", exit_code=ExitCode.USAGE, hint=hint)
    nobody = SensitiveContext()  # demo data holds no request, command, path or name
    written = dropped = 0
    events = demo_events(count, seed=seed, days=days, end=end)
    with TelemetryStore(path) as store:
        while batch := list(itertools.islice(events, batch_size)):
            written, dropped = _flush(store, validate_events(batch, nobody), written, dropped, count)
            if on_batch is not None:
                on_batch(written)
    return DemoReport(path=path, written=written, dropped=dropped, total=before + written, appended=before > 0)


def _flush(store: TelemetryStore, batch: ValidatedBatch, written: int, dropped: int, count: int) -> tuple[int, int]:
    """Write one validated batch; the running (written, dropped) totals, or a CaroError when the file refuses."""
    outcome = store.write(batch)
    if outcome.failure is not None:
        reason = outcome.failure.value
        message = f"the demo database refused a write ({reason}) after {written} of {count} events"
        raise CaroError(message, code=f"telemetry_{reason}", hint="check the folder's permissions and free space")
    return written + outcome.written, dropped + outcome.dropped
