"""Many caro processes writing telemetry at once lose nothing."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
import time
from pathlib import Path

from pipeline.telemetry.store import TelemetryStore
from tests.conftest import REPO

PROCESSES = 8
WRITES = 50

# One caro process: wait for the start signal, then 50 requests' worth of writes, each its
# own validated batch and transaction. Prints how many writes failed, and why.
WRITER = """
import os, sys, time
from pathlib import Path
from pipeline.telemetry.events import new_session_id, utc_timestamp
from pipeline.telemetry.privacy import SensitiveContext
from pipeline.telemetry.schemas import validate_events
from pipeline.telemetry.store import TelemetryStore
from tests.test_telemetry_schemas import sample_events

db, go, writes = Path(sys.argv[1]), Path(sys.argv[2]), int(sys.argv[3])
context = SensitiveContext.capture("list the files here", "ls -la")
(go.parent / f"ready.{os.getpid()}").touch()
while not go.exists():
    time.sleep(0.005)
failures = []
with TelemetryStore(db) as store:
    for _ in range(writes):
        outcome = store.write(validate_events(sample_events(new_session_id(), utc_timestamp()), context))
        if not outcome.ok:
            failures.append(outcome.failure.value)
print(",".join(failures))
"""


def test_eight_processes_writing_at_once_lose_no_event(tmp_path: Path) -> None:
    db = tmp_path / "data" / "telemetry.db"  # not created yet: the writers race to create it too
    go = tmp_path / "go"
    writers = [
        subprocess.Popen(
            [sys.executable, "-c", WRITER, str(db), str(go), str(WRITES)],
            cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        )
        for _ in range(PROCESSES)
    ]
    # Start them together once all have imported, so their writes really overlap.
    deadline = time.monotonic() + 120
    while len(list(tmp_path.glob("ready.*"))) < PROCESSES and time.monotonic() < deadline:
        time.sleep(0.02)
    go.touch()
    results = [w.communicate(timeout=300) for w in writers]
    assert [w.returncode for w in writers] == [0] * PROCESSES, [err for _, err in results]
    assert [out.strip() for out, _ in results] == [""] * PROCESSES  # no write failed

    per_batch = 6
    with TelemetryStore(db) as store:
        counts = store.counts()
        assert sum(counts.values()) == PROCESSES * WRITES * per_batch
        assert counts["session_end"] == PROCESSES * WRITES
        sessions = {e["session_id"] for e in store.query(event_type="session_start")}
        assert len(sessions) == PROCESSES * WRITES
        assert store.dropped() == {}
    conn = sqlite3.connect(db)
    applied = conn.execute("SELECT name FROM _sqlite_migrations ORDER BY id").fetchall()
    conn.close()
    assert applied == [("m001_create_events",), ("m002_dropped_counts",), ("m003_dropped_by_reason",), ("m004_prompt_choices",)]
