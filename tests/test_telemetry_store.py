"""The telemetry store on real SQLite files: migrations, transactions, reads, and failures that never raise."""

from __future__ import annotations

import csv
import io
import json
import os
import pickle
import sqlite3
import stat
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from pipeline.errors import CaroError
from pipeline.paths import state_paths
from pipeline.telemetry import tally
from pipeline.telemetry.privacy import SensitiveContext
from pipeline.telemetry.schemas import validate_events
from pipeline.telemetry.store import TelemetryStore, WriteFailure, WriteOutcome
from pipeline.telemetry.schema_doc import schema_sql
from pipeline.telemetry.schemas import ValidatedBatch
from tests.test_telemetry_schemas import SID, sample_events

NOTHING = SensitiveContext()


def _batch(session_id: str = SID, ts: str = "2025-03-04T05:06:07.089Z") -> ValidatedBatch:
    return validate_events(sample_events(session_id, ts), NOTHING)


@pytest.fixture
def store(tmp_path: Path) -> Iterator[TelemetryStore]:
    with TelemetryStore(tmp_path / "t.db") as s:
        yield s


def test_the_default_database_lives_under_caro_home(caro_home: Path) -> None:
    with TelemetryStore() as store:
        assert store.path == state_paths().database
        assert store.path.is_relative_to(caro_home)
        assert store.write(_batch()).ok
    assert (caro_home / "data" / "telemetry.db").is_file()


def test_migrations_are_named_and_applied_once_however_often_the_file_is_opened(tmp_path: Path) -> None:
    path = tmp_path / "t.db"
    for _ in range(3):
        with TelemetryStore(path) as store:
            assert store.write(_batch()).ok
    conn = sqlite3.connect(path)
    applied = conn.execute(
        "SELECT name FROM _sqlite_migrations WHERE migration_set = 'caro' ORDER BY id"
    ).fetchall()
    assert applied == [("m001_create_events",), ("m002_dropped_counts",), ("m003_dropped_by_reason",), ("m004_prompt_choices",)]
    assert conn.execute("SELECT count(*) FROM events").fetchone() == (18,)
    conn.close()


def test_the_file_is_in_wal_mode_with_a_busy_timeout(store: TelemetryStore) -> None:
    store.write(_batch())
    conn = sqlite3.connect(store.path)
    assert conn.execute("PRAGMA journal_mode").fetchone() == ("wal",)
    conn.close()
    assert store._database().conn.execute("PRAGMA busy_timeout").fetchone() == (store.busy_timeout_ms,)


def test_schema_sql_is_what_the_migrations_create(store: TelemetryStore) -> None:
    sql = schema_sql()
    assert 'CREATE TABLE "events"' in sql and 'CREATE TABLE "dropped"' in sql
    assert 'ON "events" ("event_type", "ts")' in sql and 'ON "events" ("ts")' in sql
    store.migrate()
    conn = sqlite3.connect(store.path)
    created = {
        row[0]
        for row in conn.execute("SELECT sql FROM sqlite_master WHERE sql IS NOT NULL AND name NOT LIKE 'sqlite_%'")
    }
    conn.close()
    assert {statement for statement in sql.split(";\n") if statement} == created


def test_a_write_stores_the_valid_rows_and_counts_the_rest(store: TelemetryStore) -> None:
    bad = {**sample_events()[0].row(), "os": "Ubuntu 24.04 on alice-laptop"}
    batch = validate_events([*sample_events(), bad, {"event_type": "nonsense"}], NOTHING)
    outcome = store.write(batch)
    assert outcome == WriteOutcome(None, written=6, dropped=2) and outcome.ok
    assert store.counts() == {
        "session_start": 1, "command_generation": 2, "backend_error": 1, "safety_validation": 1, "session_end": 1,
    }
    assert store.dropped() == {"session_start": 1, "unknown": 1}
    store.write(batch)
    assert store.dropped() == {"session_start": 2, "unknown": 2}
    assert sum(store.counts().values()) == 12


def test_a_write_is_one_transaction_all_or_nothing(store: TelemetryStore) -> None:
    store.write(_batch())
    # A trigger makes the last insert of the next write fail; nothing of that write may remain.
    conn = sqlite3.connect(store.path)
    conn.execute(
        "CREATE TRIGGER refuse BEFORE INSERT ON events WHEN NEW.event_type = 'session_end' "
        "BEGIN SELECT RAISE(ABORT, 'refused'); END"
    )
    conn.commit()
    conn.close()
    store.close()
    batch = validate_events([*sample_events(), {"event_type": "x"}], NOTHING)
    outcome = store.write(batch)
    assert not outcome.ok and outcome.failure is WriteFailure.IO_ERROR
    assert sum(store.counts().values()) == 6
    # Nothing of the failed write is in the database; its events are counted in the tally file.
    assert sqlite3.connect(store.path).execute("SELECT count(*) FROM dropped").fetchone() == (0,)
    assert sum(n for (reason, _), n in store.dropped_by_reason().items() if reason == "io_error") == 6
    assert store.dropped_by_reason()[("invalid", "unknown")] == 1


def test_query_filters_orders_and_limits_in_sql(store: TelemetryStore) -> None:
    for minute in range(10):
        store.write(_batch(session_id=f"{minute:032x}", ts=f"2025-03-04T05:{minute:02d}:00.000Z"))
    everything = store.query()
    assert len(everything) == 60
    assert [e["ts"] for e in everything] == sorted(e["ts"] for e in everything)
    last = store.query(last=4)
    assert last == everything[-4:]
    ends = store.query(event_type="session_end", last=3)
    assert [e["session_id"] for e in ends] == [f"{m:032x}" for m in (7, 8, 9)]
    assert ends[0] == {
        "id": ends[0]["id"], "event_type": "session_end", "ts": "2025-03-04T05:07:00.000Z",
        "session_id": f"{7:032x}", "schema_version": 1, "outcome": "command", "duration_ms": 912, "executed": False,
    }
    since = store.query(since="2025-03-04T05:08:00.000Z")
    assert len(since) == 12 and {e["session_id"] for e in since} == {f"{8:032x}", f"{9:032x}"}
    assert store.query(since="2025-03-04T05:08:00+00:00") == since
    assert len(store.query(event_type="command_generation", since="2025-03-04T05:05:00.000Z")) == 10
    assert store.query(last=0) == []
    start = store.query(event_type="session_start", last=1)[0]
    assert start["backends"] == ["llama_cpp", "static"] and "risk" not in start
    with pytest.raises(ValueError):
        store.query(event_type="session_begin")


def test_export_streams_jsonl_and_csv(store: TelemetryStore) -> None:
    store.write(_batch())
    out = io.StringIO()
    assert store.export(out, "jsonl") == 6
    lines = [json.loads(line) for line in out.getvalue().splitlines()]
    assert lines == store.query()
    out = io.StringIO()
    assert store.export(out, "csv") == 6
    rows = list(csv.DictReader(io.StringIO(out.getvalue())))
    assert [r["event_type"] for r in rows] == [e["event_type"] for e in lines]
    assert rows[0]["backends"] == '["llama_cpp","static"]' and rows[0]["risk"] == ""
    assert {r["success"] for r in rows if r["event_type"] == "command_generation"} == {"true", "false"}
    with pytest.raises(ValueError):
        store.export(io.StringIO(), "xml")


def test_clear_removes_every_event_and_count(store: TelemetryStore) -> None:
    store.write(validate_events([*sample_events(), {"event_type": "x"}], NOTHING))
    assert store.clear() == 6
    assert store.counts() == {} and store.dropped() == {} and store.query() == []
    assert store.write(_batch()).ok and sum(store.counts().values()) == 6


def test_a_corrupt_file_is_reported_and_left_byte_for_byte(tmp_path: Path) -> None:
    path = tmp_path / "data" / "telemetry.db"
    path.parent.mkdir()
    garbage = bytes(range(256)) * 64
    path.write_bytes(garbage)
    with TelemetryStore(path) as store:
        assert store.write(_batch()) == WriteOutcome(WriteFailure.CORRUPT, written=0, dropped=0)
        assert store.write(_batch()).failure is WriteFailure.CORRUPT
        with pytest.raises(CaroError) as err:
            store.counts()
        assert err.value.code == "telemetry_corrupt" and str(tmp_path) not in err.value.message
    assert path.read_bytes() == garbage
    # Beside it, only the count of the 12 events that could not be stored.
    assert sorted(p.name for p in path.parent.iterdir()) == ["telemetry.db", "telemetry.db.dropped"]
    assert sum(tally.peek(path).values()) == 12 and {reason for reason, _ in tally.peek(path)} == {"corrupt"}


def test_a_damaged_page_is_reported_as_corrupt_and_not_repaired(tmp_path: Path) -> None:
    path = tmp_path / "t.db"
    with TelemetryStore(path) as store:
        store.write(_batch())
    data = bytearray(path.read_bytes())
    data[4096 : 4096 + 512] = b"\xff" * 512  # page 2: the events table's root
    path.write_bytes(bytes(data))
    with TelemetryStore(path) as store:
        outcome = store.write(_batch())
    assert outcome.failure is WriteFailure.CORRUPT
    assert path.read_bytes() == bytes(data)


def test_a_locked_database_is_reported_after_bounded_retries(tmp_path: Path) -> None:
    path = tmp_path / "t.db"
    with TelemetryStore(path) as store:
        store.write(_batch())
    holder = sqlite3.connect(path, isolation_level=None)
    holder.execute("BEGIN EXCLUSIVE")
    try:
        with TelemetryStore(path, busy_timeout_ms=50, attempts=2) as store:
            assert store.write(_batch()) == WriteOutcome(WriteFailure.LOCKED, written=0, dropped=0)
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    with TelemetryStore(path) as store:
        assert store.write(_batch()).ok
        assert sum(store.counts().values()) == 12


def _write_without_privileges(path: Path, batch: ValidatedBatch) -> WriteOutcome:
    """`TelemetryStore(path).write(batch)` as a user who cannot override file permissions.

    Root ignores chmod, and CI runs as root: there the write runs in a forked child that has
    dropped to the `nobody` user first, so the read-only path of the code is really taken.
    """
    if os.geteuid() != 0:
        with TelemetryStore(path) as store:
            return store.write(batch)
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: drop privileges, write, report, and leave without cleanup
        try:
            os.close(read_end)
            os.setgroups([])
            os.setgid(65534)
            os.setuid(65534)
            with TelemetryStore(path) as store:
                outcome = store.write(batch)
            os.write(write_end, pickle.dumps(outcome))
        finally:
            os._exit(0)
    os.close(write_end)
    with os.fdopen(read_end, "rb") as pipe:
        data = pipe.read()
    os.waitpid(pid, 0)
    assert data, "the unprivileged writer reported nothing"
    return pickle.loads(data)


def test_a_read_only_database_is_reported_and_left_alone() -> None:
    # Not under tmp_path: its parents are private to root, and `nobody` must reach the file.
    with tempfile.TemporaryDirectory(prefix="caro-ro-") as top:
        os.chmod(top, 0o755)
        folder = Path(top) / "data"
        folder.mkdir()
        path = folder / "telemetry.db"
        with TelemetryStore(path) as store:
            store.write(_batch())
        before = path.read_bytes()
        path.chmod(0o444)
        folder.chmod(0o555)
        try:
            outcome = _write_without_privileges(path, _batch())
        finally:
            folder.chmod(0o755)
            path.chmod(0o644)
        assert outcome.failure is WriteFailure.READ_ONLY
        assert path.read_bytes() == before


def test_a_data_folder_that_cannot_be_created_is_reported() -> None:
    with tempfile.TemporaryDirectory(prefix="caro-ro-") as top:
        os.chmod(top, 0o555)
        try:
            outcome = _write_without_privileges(Path(top) / "data" / "telemetry.db", _batch())
        finally:
            os.chmod(top, 0o755)
        assert outcome.failure is WriteFailure.READ_ONLY


def test_a_path_that_is_not_a_file_is_an_io_error_not_an_exception(tmp_path: Path) -> None:
    (tmp_path / "telemetry.db").mkdir()
    blocker = tmp_path / "file"
    blocker.write_text("")
    with TelemetryStore(tmp_path / "telemetry.db") as store:
        assert store.write(_batch()).failure is WriteFailure.IO_ERROR
    with TelemetryStore(blocker / "telemetry.db") as store:  # a parent that is a file
        assert store.write(_batch()).failure is WriteFailure.IO_ERROR
    assert stat.S_ISREG(blocker.stat().st_mode)
