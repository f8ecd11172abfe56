"""Telemetry under faults (issue 12, findings 3, 4 and 11), on real SQLite files and file systems.

- Events that cannot be stored (a lock held too long, a full disk, a damaged file) are counted
  by reason, beside the database, and moved into it by the next write that succeeds.
- An environment value that is today's date no longer makes the privacy check drop every row.
- The reading commands open the database read-only, and work on a read-only one.
- A request's events carry the times they happened; the failure caro gave up after is not
  recorded as recoverable.
"""

from __future__ import annotations

import json
import shutil
import sqlite3
import time
from datetime import datetime, timezone
from pathlib import Path

import pytest

from pipeline.cli.main import main
from pipeline.paths import state_paths
from pipeline.telemetry import tally
from pipeline.telemetry.builders import backend_error_events
from pipeline.telemetry.events import EventType, utc_timestamp
from pipeline.telemetry.privacy import SensitiveContext
from pipeline.telemetry.recorder import Recorder
from pipeline.telemetry.schemas import validate_events
from pipeline.telemetry.store import TelemetryStore, WriteFailure
from pipeline.values import Generation, GenerationError, GenerationErrorKind, Outcome, Result, Source
from tests.filesystems import fill, make_read_only, own_folder, tmpfs
from tests.test_telemetry_schemas import sample_events

TODAY_TS = utc_timestamp()


def _batch(session_id: str = "c" * 32, ts: str = TODAY_TS, context: SensitiveContext = SensitiveContext()):
    return validate_events(sample_events(session_id, ts), context)


def _stored_dropped(path: Path) -> dict[tuple[str, str], int]:
    """The `dropped` table itself (not the tally file), read with plain sqlite3."""
    conn = sqlite3.connect(path)
    try:
        return {(r, k): n for r, k, n in conn.execute("SELECT reason, event_type, count FROM dropped")}
    finally:
        conn.close()


# -- finding 3: nothing is lost without a trace ------------------------------------------


def test_events_a_lock_kept_out_are_counted_and_stored_once_the_lock_is_gone(tmp_path: Path) -> None:
    path = tmp_path / "telemetry.db"
    with TelemetryStore(path) as store:
        assert store.write(_batch()).ok
    holder = sqlite3.connect(path, isolation_level=None)
    holder.execute("BEGIN EXCLUSIVE")
    try:
        for _ in range(2):  # two requests' worth, 12 events, while another process holds the lock
            with TelemetryStore(path, busy_timeout_ms=20, attempts=2) as store:
                outcome = store.write(_batch())
            assert outcome.failure is WriteFailure.LOCKED and outcome.counted
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    assert sum(n for (reason, _), n in tally.peek(path).items() if reason == "locked") == 12
    with TelemetryStore(path) as store:
        assert store.dropped_by_reason()[("locked", "session_start")] == 2  # seen before it is merged
        assert store.write(_batch()).ok  # the lock is gone: this write carries the counts in
        assert sum(store.counts().values()) == 12  # the first and the last request
    assert tally.peek(path) == {}
    stored = _stored_dropped(path)
    assert sum(stored.values()) == 12 and {reason for reason, _ in stored} == {"locked"}
    assert tally.tally_path(path).stat().st_size == tally.SIZE  # zeroed in place, never shrunk


def test_a_full_disk_is_counted_as_disk_full_and_recovers(tmp_path: Path) -> None:
    with tmpfs(tmp_path / "disk", size="1m") as disk:
        path = disk / "telemetry.db"
        with TelemetryStore(path) as store:
            assert store.write(_batch()).ok  # creates the database and its full-size tally file
        filler = fill(disk)
        assert filler.stat().st_size > 256 * 1024  # the space it frees is room for the next writes
        lost = 0
        with TelemetryStore(path) as store:
            for n in range(40):  # enough rows to need a new page on the full disk
                outcome = store.write(_batch(session_id=f"{n:032x}"))
                if not outcome.ok:
                    assert outcome.failure is WriteFailure.DISK_FULL and outcome.counted
                    lost += 6
        assert lost, "the disk never filled up"
        assert sum(n for (reason, _), n in tally.peek(path).items() if reason == "disk_full") == lost
        filler.unlink()
        with TelemetryStore(path) as store:
            assert store.write(_batch()).ok
            assert sum(n for (reason, _), n in store.dropped_by_reason().items() if reason == "disk_full") == lost
        assert tally.peek(path) == {}


def test_status_shows_what_was_not_stored_and_why(capsys, caro_home: Path) -> None:
    database = state_paths().database
    secret = "opal-harbour-73"  # an environment value that turns up in a row: the privacy check drops it
    leaky = sample_events("d" * 32, TODAY_TS)[:1] + [{**sample_events("d" * 32, TODAY_TS)[1].row(), "backend": secret}]
    with TelemetryStore(database) as store:
        assert store.write(validate_events(leaky, SensitiveContext(env_values=(secret,)))).ok
        store.count_lost({("locked", "session_end"): 3})
    assert main(["telemetry", "status", "--output", "json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["dropped_by_reason"] == {"locked": 3, "sensitive": 1}
    assert report["dropped"] == {"command_generation": 1, "session_end": 3}
    assert report["writable"] is True
    assert main(["telemetry", "status"]) == 0
    out = capsys.readouterr().out
    assert "dropped:   4 events were not stored" in out
    assert "locked     3  (the database was busy for too long)" in out
    assert "sensitive  1  (held a piece of the request's context (privacy check))" in out


def test_a_request_whose_telemetry_cannot_be_stored_says_so_under_verbose(capsys, caro_home: Path) -> None:
    assert main(["config", "set", "telemetry.enabled", "true"]) == 0
    assert main(["list files"]) == 0
    holder = sqlite3.connect(state_paths().database, isolation_level=None)
    holder.execute("BEGIN EXCLUSIVE")
    try:
        capsys.readouterr()
        assert main(["-v", "list files"]) == 0  # inline: waits 3 x 2 s, then gives up
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    err = capsys.readouterr().err
    assert "telemetry not stored: the database is locked; 4 event(s) counted as dropped" in err
    assert sum(tally.peek(state_paths().database).values()) == 4


def test_a_failure_of_telemetry_itself_is_counted(caro_home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from pipeline.telemetry import schemas

    def broken(*args: object, **kwargs: object) -> None:
        raise RuntimeError("a bug in validation")

    monkeypatch.setattr(schemas, "validate_events", broken)  # stands for any bug on the way
    recorder = Recorder(settings={"safety": "moderate", "backend": "none"}, debug=False)
    problem = recorder.flush("list files", _result(), (), {}, executed=False)
    assert problem == "telemetry failed (RuntimeError)"
    assert tally.peek(state_paths().database) == {("failed", "unknown"): 2}  # session_start and session_end


def test_todays_date_in_the_environment_does_not_drop_the_request(monkeypatch: pytest.MonkeyPatch) -> None:
    today = datetime.now(timezone.utc).strftime("%Y-%m-%d")
    now = utc_timestamp()
    context = SensitiveContext(env_values=(today, now[:16], now[11:19], "/home/alice/.local/bin:/usr/bin"))
    batch = _batch(ts=now, context=context)
    assert batch.dropped == {} and batch.row_count == 6
    # Real secrets, paths and names from the environment are still searched for.
    assert SensitiveContext(env_values=("hunter2-token-Z9",)).needles().found_in("x hunter2-token-z9 y")
    assert SensitiveContext(env_values=("/home/alice/.local/bin:/usr/bin",)).needles().found_in("/home/alice/.local/bin")
    assert SensitiveContext(env_values=("20251130173000",)).needles().found_in("20251130173000")  # digits, not a date's shape
    # A dated folder in the working directory still drops the row: folders are searched whole and by part.
    assert validate_events(sample_events("e" * 32, now), SensitiveContext(cwd=f"/backups/{today}")).dropped


def test_a_dropped_row_is_counted_under_its_reason(tmp_path: Path) -> None:
    secret = "zebra-crossing-42"
    events = [*sample_events("f" * 32, TODAY_TS), {"event_type": "session_end", "nonsense": 1}]
    bad = {**sample_events("f" * 32, TODAY_TS)[0].row(), "caro_version": secret}
    batch = validate_events([*events, bad], SensitiveContext(env_values=(secret,)))
    assert batch.dropped == {"session_end": 1, "session_start": 1} and batch.sensitive == {"session_start": 1}
    with TelemetryStore(tmp_path / "t.db") as store:
        assert store.write(batch).ok
        assert store.dropped_by_reason() == {("invalid", "session_end"): 1, ("sensitive", "session_start"): 1}


def test_a_database_from_before_the_reasons_is_read_as_it_is_and_migrated_keeping_its_counts(tmp_path: Path) -> None:
    from pipeline.telemetry.migrations import Database, migrations

    path = tmp_path / "old.db"
    old = Database(path)
    migrations.apply(old, stop_before="m003_dropped_by_reason")  # what caro 0.1.0 made
    old.execute("INSERT INTO dropped (event_type, count) VALUES ('session_start', 5)")
    old.conn.commit()
    old.conn.close()
    with TelemetryStore(path) as store:
        assert store.dropped_by_reason() == {("invalid", "session_start"): 5}  # read without migrating
    applied = [name for (name,) in sqlite3.connect(path).execute("SELECT name FROM _sqlite_migrations")]
    assert applied == ["m001_create_events", "m002_dropped_counts"]
    with TelemetryStore(path) as store:
        store.migrate()  # what the next write does
    with TelemetryStore(path) as store:
        assert store.dropped_by_reason() == {("invalid", "session_start"): 5}


# -- finding 4: reading never writes -----------------------------------------------------


@pytest.mark.parametrize("leftover_log", [False, True], ids=["checkpointed", "with_wal"])
def test_the_reading_commands_work_on_a_read_only_database(capsys, tmp_path: Path, monkeypatch, leftover_log: bool) -> None:
    source = tmp_path / "source" / "telemetry.db"
    with TelemetryStore(source) as store:
        assert store.write(_batch()).ok
    writer = None
    if leftover_log:  # a writer still has the file open: some rows are only in the -wal file
        writer = sqlite3.connect(source)
        writer.execute("PRAGMA wal_autocheckpoint = 0")
        writer.execute("INSERT INTO dropped (reason, event_type, count) VALUES ('locked', 'session_end', 1)")
        writer.commit()
    home = tmp_path / "home"
    with own_folder(home, size="2m"):
        monkeypatch.setenv("CARO_HOME", str(home))
        database = state_paths().database
        database.parent.mkdir()
        for part in source.parent.iterdir():  # a copy, as a backup or another machine would hold it
            shutil.copyfile(part, database.parent / part.name)
        if writer is not None:
            writer.close()
        undo = make_read_only(home)
        try:
            before = {p.name: p.read_bytes() for p in database.parent.iterdir()}
            assert main(["telemetry", "status", "--output", "json"]) == 0
            report = json.loads(capsys.readouterr().out)
            assert report["total"] == 6 and report["writable"] is False
            assert report["dropped_by_reason"] == ({"locked": 1} if leftover_log else {})
            assert main(["telemetry", "show", "--output", "json"]) == 0
            assert len(json.loads(capsys.readouterr().out)) == 6
            assert main(["telemetry", "export"]) == 0
            assert len(capsys.readouterr().out.splitlines()) == 6
            assert {p.name: p.read_bytes() for p in database.parent.iterdir()} == before
            assert main(["telemetry", "clear", "-y"]) == 1  # the one writer among them says why
            assert capsys.readouterr().err.startswith("caro: error: The telemetry database cannot be written.")
        finally:
            undo()


def test_status_warns_when_events_would_be_lost_uncounted(capsys, tmp_path: Path, monkeypatch) -> None:
    home = tmp_path / "home"
    with own_folder(home, size="64k"):
        monkeypatch.setenv("CARO_HOME", str(home))
        monkeypatch.setenv("CARO_TELEMETRY_ENABLED", "1")
        undo = make_read_only(home)
        try:
            assert main(["telemetry", "status"]) == 0
            assert "new events are lost, uncounted" in capsys.readouterr().out
        finally:
            undo()


# -- finding 11: times and recoverability --------------------------------------------------


def _result(outcome: Outcome = Outcome.COMMAND) -> Result:
    command = "ls" if outcome is Outcome.COMMAND else None
    return Result(outcome, command, Source.STATIC, None, None, None, (), "")


def test_a_requests_events_carry_the_times_they_happened() -> None:
    recorder = Recorder(settings={"safety": "moderate", "backend": "none"}, debug=False)
    time.sleep(0.01)
    from pipeline.service import Caro

    handled = Caro(backend="none").run("list files")
    assert handled.drafts and all(draft.at for draft in handled.drafts)
    time.sleep(0.01)
    events = recorder.events(handled.result, handled.drafts, handled.durations_ms, executed=False)
    start, *stages, end = (event.ts for event in events)
    assert start < min(stages) and max(stages) < end  # milliseconds apart at least: 10 ms slept each side
    assert [e.event_type for e in (events[0], events[-1])] == [EventType.SESSION_START, EventType.SESSION_END]


def _failure(kind: GenerationErrorKind) -> GenerationError:
    return GenerationError(kind, "m", "llama_cpp", recoverable=kind is GenerationErrorKind.TIMEOUT)


def test_the_failure_caro_gave_up_after_is_not_recoverable() -> None:
    timeouts = (_failure(GenerationErrorKind.TIMEOUT), _failure(GenerationErrorKind.TIMEOUT))
    gave_up = backend_error_events(Generation(ran=True, command=None, failures=timeouts))
    assert [d.fields["recoverable"] for d in gave_up] == [True, False]
    answered = backend_error_events(Generation(ran=True, command="ls", backend="llama_cpp", failures=timeouts))
    assert [d.fields["recoverable"] for d in answered] == [True, True]
    # A failure of a kind that never passes on a retry is still one caro went on after, when it did.
    moved_on = (_failure(GenerationErrorKind.NOT_FOUND), _failure(GenerationErrorKind.TIMEOUT))
    assert [d.fields["recoverable"] for d in backend_error_events(Generation(ran=True, command="ls", failures=moved_on))] == [True, True]
