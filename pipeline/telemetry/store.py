"""The telemetry database: a SQLite file under CARO_HOME, written once per request, never in the way.

Layout: one `events` table with a typed column for every field of every event type (NULL
where a type has no such field), indexed on (event_type, ts) and on ts. Chosen over one table
per type because `telemetry show` reads across types: "the last 50 events" or "everything
since noon" is one index walk here, but a UNION of five sorted tables there. The sparse
columns cost a byte each per row; the five types share `backend`, `duration_ms` and
`error_category`, each with the closed set its own type allows (see schemas.py). A `dropped`
table counts the events that were not stored, by reason and event type; nothing else of them.

Many caro processes may write at once: the file is in WAL mode, every write takes the write
lock up front (BEGIN IMMEDIATE) under a busy timeout, and a write that still finds the
database locked is retried a bounded number of times. `write` never raises: a corrupt,
locked, read-only, full or unreachable database yields a `WriteOutcome` saying which, the
batch's events are counted in the tally file beside it (`tally.py`), and the user's command
goes on; the next write that succeeds moves those counts into `dropped`. A corrupt file is
never repaired, replaced or deleted: it is the user's, and they decide what to do with it.

Reading never writes: the reading methods open the file read-only (`connect.py`) and apply no
migration, so they work on a read-only file, folder or disk, and on a file an older caro made.
"""

from __future__ import annotations

import csv
import itertools
import json
import os
import re
import sqlite3
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import IO

from pipeline.paths import state_paths
from pipeline.telemetry import pending, tally
from pipeline.telemetry.connect import WriteFailure, connect_read_only, failure_of, guard
from pipeline.telemetry.events import TS_RE, UNKNOWN_TYPE, EventType, ValidatedBatch, own_fields, utc_timestamp
from pipeline.telemetry.migrations import Database, migrations  # sqlite-utils, imported light there
from pipeline.telemetry.tally import DropReason

COMMON_COLUMNS = ("id", "event_type", "ts", "session_id", "schema_version")
# The columns of each event type, in table order; a row read back keeps only its own. From the
# event classes, not the pandera models (the same columns, a test checks), so that reading the
# store never loads pandas or pandera.
TYPE_COLUMNS: dict[str, tuple[str, ...]] = {kind.value: own_fields(kind) for kind in EventType}
ALL_COLUMNS: tuple[str, ...] = COMMON_COLUMNS + tuple(dict.fromkeys(c for cols in TYPE_COLUMNS.values() for c in cols))
_LIST_COLUMNS = {"backends", "categories"}
_BOOL_COLUMNS = {"success", "refine_ran", "refine_changed", "recoverable", "executed"}


@dataclass(frozen=True)
class WriteOutcome:
    """What `TelemetryStore.write` did: stored the batch, or stored nothing and why."""

    failure: WriteFailure | None
    written: int = 0  # events stored
    dropped: int = 0  # rows validation refused (counted in the `dropped` table when the write succeeds)
    counted: bool = True  # False: the write failed and even the tally file could not count the loss

    @property
    def ok(self) -> bool:
        return self.failure is None


class TelemetryStore:
    """The telemetry database at `path` (default: `state_paths().database`), opened on first use."""

    def __init__(self, path: Path | str | None = None, *, busy_timeout_ms: int = 2000, attempts: int = 3):
        self.path = Path(path) if path is not None else state_paths().database
        self.busy_timeout_ms = busy_timeout_ms
        self.attempts = max(1, attempts)
        self._db: Database | None = None  # the writer's connection, opened by the first write
        self._ro: Database | None = None  # a read-only connection, for the reading methods
        self._waited = False  # for background writes, before the first read

    def __enter__(self) -> TelemetryStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Close the connections (SQLite checkpoints the WAL when the last one closes)."""
        for db in (self._db, self._ro):
            if db is not None:
                try:
                    db.conn.close()
                except sqlite3.Error:
                    pass  # closing a broken connection: nothing left to save
        self._db = self._ro = None

    # -- writing -------------------------------------------------------------------------

    def write(self, batch: ValidatedBatch) -> WriteOutcome:
        """Store a request's validated rows and dropped counts in one transaction; never raises.

        Trusts `batch` to come from `validate_events`: the store checks nothing itself.
        """
        attempt = 1
        while True:
            try:
                written = self._insert(batch)
                return WriteOutcome(None, written=written, dropped=batch.dropped_count)
            except (sqlite3.Error, OSError) as err:
                failure = failure_of(err, self.path)
                self.close()
                if failure is not WriteFailure.LOCKED or attempt >= self.attempts:
                    counted = self.count_lost(lost_events(batch, DropReason(failure.value)))
                    return WriteOutcome(failure, written=0, dropped=batch.dropped_count, counted=counted)
            time.sleep(0.05 * attempt)  # let the lock holder finish before waiting again
            attempt += 1

    def count_lost(self, lost: dict[tuple[str, str], int]) -> bool:
        """Count events that will never be stored in the tally file; False when even that failed."""
        return tally.add(self.path, lost)

    def _insert(self, batch: ValidatedBatch) -> int:
        """Insert the batch, and the counts waiting in the tally file, in one transaction; the events written."""
        db = self._database()
        written = 0
        claim = tally.Claim(self.path)
        try:
            with _immediate(db):
                for kind, rows in batch.rows.items():
                    if kind not in TYPE_COLUMNS:
                        continue  # not from validate_events, which only keeps known types
                    written += len(rows)
                    columns = COMMON_COLUMNS[1:] + TYPE_COLUMNS[kind]
                    # List mode (a header, then value lists): each type's own columns, the rest NULL.
                    db["events"].insert_all(
                        itertools.chain([columns], ([row.get(c) for c in columns] for row in rows)), batch_size=1000
                    )
                for (reason, kind), count in [*dropped_counts(batch).items(), *claim.take().items()]:
                    db.execute(
                        "INSERT INTO dropped (reason, event_type, count) VALUES (?, ?, ?) "
                        "ON CONFLICT(reason, event_type) DO UPDATE SET count = count + excluded.count",
                        [reason, kind if kind in TYPE_COLUMNS else UNKNOWN_TYPE, int(count)],
                    )
            claim.settle()  # committed: the tally's counts are in the database now
        finally:
            claim.release()
        return written

    def migrate(self) -> None:
        """Create the database, or bring an older one up to date (every pending migration)."""
        self._database()

    # -- reading (for `caro telemetry`) --------------------------------------------------

    def query(
        self, event_type: str | None = None, last: int | None = None, since: datetime | str | None = None
    ) -> list[dict[str, object]]:
        """Stored events, oldest first: of one type, since a time, and only the last N, all in SQL.

        `since` is a datetime (naive means UTC) or ISO 8601 text; an unknown `event_type` or
        unreadable `since` raises ValueError, a database failure a CaroError.
        """
        where, params = [], []
        if event_type is not None:
            where.append("event_type = ?")
            params.append(EventType(event_type).value)
        if since is not None:
            where.append("ts >= ?")
            params.append(_since(since))
        if "events" not in self._tables():
            return []
        sql = "SELECT * FROM events" + (" WHERE " + " AND ".join(where) if where else "")
        if last is not None:
            sql = f"SELECT * FROM ({sql} ORDER BY ts DESC, id DESC LIMIT ?) ORDER BY ts, id"
            params.append(max(0, int(last)))
        else:
            sql += " ORDER BY ts, id"
        return [_decoded(row) for row in self._read(sql, params)]

    def counts(self) -> dict[str, int]:
        """How many events are stored, by event type."""
        if "events" not in self._tables():
            return {}  # an empty file: no caro has written to it yet
        rows = self._read("SELECT event_type, count(*) AS n FROM events GROUP BY event_type", [])
        return {row["event_type"]: row["n"] for row in rows}

    def dropped(self) -> dict[str, int]:
        """How many events were never stored, by event type (whatever the reason)."""
        by_kind: dict[str, int] = {}
        for (_, kind), count in self.dropped_by_reason().items():
            by_kind[kind] = by_kind.get(kind, 0) + count
        return by_kind

    def dropped_by_reason(self) -> dict[tuple[str, str], int]:
        """How many events were never stored, by (reason, event type): the database's counts and the tally's."""
        found = dict(tally.peek(self.path))
        if "dropped" in self._tables():
            # A database from before migration m003 counted validation failures by type alone.
            columns = {row["name"] for row in self._read("PRAGMA table_info(dropped)", [])}
            reason = "reason" if "reason" in columns else f"'{DropReason.INVALID.value}'"
            for row in self._read(f"SELECT {reason} AS reason, event_type, count FROM dropped", []):
                key = (str(row["reason"]), str(row["event_type"]))
                found[key] = found.get(key, 0) + int(row["count"])
        return {key: n for key, n in sorted(found.items()) if n}

    def export(self, fp: IO[str], fmt: str = "jsonl") -> int:
        """Write every stored event to `fp` as JSON lines or CSV, streaming; the number written."""
        if fmt not in {"jsonl", "csv"}:
            raise ValueError(f"unknown export format {fmt!r}; use jsonl or csv")
        rows = self._stream("SELECT * FROM events ORDER BY ts, id") if "events" in self._tables() else iter(())
        written = 0
        if fmt == "jsonl":
            for row in rows:
                fp.write(json.dumps(_decoded(row), separators=(",", ":")) + "\n")
                written += 1
            return written
        out = csv.DictWriter(fp, fieldnames=list(ALL_COLUMNS), lineterminator="\n")
        out.writeheader()
        for row in rows:
            out.writerow({k: _csv_value(k, v) for k, v in row.items()})
            written += 1
        return written

    def clear(self) -> int:
        """Delete every stored event and dropped count; the number of events deleted."""
        pending.wait_for_writes(self.path)
        with guard(self.path):
            db = self._database()
        claim = tally.Claim(self.path)
        try:
            with guard(self.path), _immediate(db):
                deleted = db.execute("DELETE FROM events").rowcount
                db.execute("DELETE FROM dropped")
                claim.take()
            claim.settle()
        finally:
            claim.release()
        try:
            # Give the space back. Best effort: the rows are gone either way, and another
            # process reading the file at this moment makes VACUUM fail, not wait.
            db.execute("VACUUM")
        except sqlite3.Error:
            pass
        return deleted

    # -- connection ----------------------------------------------------------------------

    def _database(self) -> Database:
        """The open database, with WAL mode set and every pending migration applied."""
        if self._db is not None:
            return self._db
        self.path.parent.mkdir(parents=True, exist_ok=True)
        conn = sqlite3.connect(self.path, timeout=self.busy_timeout_ms / 1000)
        try:
            conn.execute(f"PRAGMA busy_timeout = {int(self.busy_timeout_ms)}")
            db = Database(conn)
            if conn.execute("PRAGMA journal_mode").fetchone()[0] != "wal":
                conn.execute("PRAGMA journal_mode = WAL")
            # WAL with NORMAL sync cannot corrupt the file; a power cut may lose the last write.
            conn.execute("PRAGMA synchronous = NORMAL")
            if migrations.pending(db):
                # Under the write lock, so two processes opening a new file do not both migrate;
                # apply() reads what is pending again once it holds the lock.
                with _immediate(db):
                    migrations.apply(db)
        except BaseException:
            conn.close()
            raise
        self._db = db
        tally.ensure(self.path)  # made full size now, while there is room, so it can count on a full disk
        return db

    def _reader(self) -> Database:
        """A read-only view of the database for a reading command, or a CaroError that says what is wrong.

        First waits (bounded) for writes still running in background children, so that a
        request's events are there to read as soon as caro has answered it. A store that
        has written reads through its own connection.
        """
        if self._db is not None:
            return self._db
        if self._ro is None:
            self._wait_for_writes()
            with guard():
                self._ro = Database(connect_read_only(self.path, busy_timeout_ms=self.busy_timeout_ms))
        return self._ro

    def _wait_for_writes(self) -> None:
        """Wait (bounded, once) for writes still running in background children."""
        if not self._waited:
            pending.wait_for_writes(self.path)
            self._waited = True

    def _tables(self) -> set[str]:
        """The tables the file has: none when there is no file, and an empty file or an older caro's lacks some."""
        if self._db is None and self._ro is None:
            self._wait_for_writes()
            if not self.path.exists():
                return set()  # reading never creates the file
        return {str(row["name"]) for row in self._read("SELECT name FROM sqlite_master WHERE type = 'table'", [])}

    def _read(self, sql: str, params: list[object]) -> list[dict[str, object]]:
        db = self._reader()
        with guard():
            return list(db.query(sql, params))

    def _stream(self, sql: str) -> Iterator[dict[str, object]]:
        db = self._reader()
        with guard():
            yield from db.query(sql)


class _immediate:
    """A transaction that takes the write lock at BEGIN, so waiting happens under busy_timeout.

    A deferred transaction that reads and then writes can be refused at once (SQLITE_BUSY
    without waiting) when another process committed in between; taking the lock first avoids that.
    """

    def __init__(self, db: Database):
        self.conn = db.conn

    def __enter__(self) -> None:
        self.conn.execute("BEGIN IMMEDIATE")

    def __exit__(self, exc_type: object, *rest: object) -> None:
        if exc_type is None:
            self.conn.execute("COMMIT")
        elif self.conn.in_transaction:
            self.conn.rollback()


def _since(since: datetime | str) -> str:
    """A `since` bound in the stored timestamp format (naive times are taken as UTC)."""
    if isinstance(since, str):
        if len(since) == 24 and re.match(TS_RE, since):
            return since
        since = datetime.fromisoformat(since)
    if since.tzinfo is None:
        since = since.replace(tzinfo=timezone.utc)
    return utc_timestamp(since)


def _decoded(row: dict[str, object]) -> dict[str, object]:
    """A stored row as its event: the common fields and its own, lists as lists, flags as bools."""
    kind = str(row["event_type"])
    out = {c: row[c] for c in COMMON_COLUMNS}
    for column in TYPE_COLUMNS.get(kind, ()):
        value = row[column]
        if column in _LIST_COLUMNS and isinstance(value, str):
            value = json.loads(value)
        elif column in _BOOL_COLUMNS and value is not None:
            value = bool(value)
        out[column] = value
    return out


def _csv_value(column: str, value: object) -> object:
    if value is None:
        return ""
    if column in _BOOL_COLUMNS:
        return "true" if value else "false"
    return value


def lost_events(batch: ValidatedBatch, reason: DropReason) -> dict[tuple[str, str], int]:
    """(reason, event type) -> events of a batch that will not be stored: its rows, and the rows validation dropped."""
    lost = {(reason.value, kind): len(rows) for kind, rows in batch.rows.items() if rows}
    for key, count in dropped_counts(batch).items():
        lost[key] = lost.get(key, 0) + count
    return lost


def dropped_counts(batch: ValidatedBatch) -> dict[tuple[str, str], int]:
    """(reason, event type) -> rows validation dropped from a batch: the privacy check's, and the schemas'."""
    counts: dict[tuple[str, str], int] = {}
    for kind, total in batch.dropped.items():
        sensitive = batch.sensitive.get(kind, 0)
        for reason, count in ((DropReason.SENSITIVE, sensitive), (DropReason.INVALID, total - sensitive)):
            if count > 0:
                counts[(reason.value, kind)] = count
    return counts
