"""The telemetry database: a SQLite file under CARO_HOME, written once per request, never in the way.

Layout: one `events` table with a typed column for every field of every event type (NULL
where a type has no such field), indexed on (event_type, ts) and on ts. Chosen over one table
per type because `telemetry show` reads across types: "the last 50 events" or "everything
since noon" is one index walk here, but a UNION of five sorted tables there. The sparse
columns cost a byte each per row; the five types share `backend`, `duration_ms` and
`error_category`, each with the closed set its own type allows (see schemas.py). A `dropped`
table keeps the count of rows that failed validation, by event type; nothing else of them.

Many caro processes may write at once: the file is in WAL mode, every write takes the write
lock up front (BEGIN IMMEDIATE) under a busy timeout, and a write that still finds the
database locked is retried a bounded number of times. `write` never raises: a corrupt,
locked, read-only or unreachable database yields a `WriteOutcome` saying which, and the
user's command goes on. A corrupt file is never repaired, replaced or deleted: it is the
user's, and they decide what to do with it.
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
from enum import Enum
from pathlib import Path
from typing import IO

from pipeline.errors import CaroError
from pipeline.paths import state_paths
from pipeline.telemetry import pending
from pipeline.telemetry.events import TS_RE, UNKNOWN_TYPE, EventType, ValidatedBatch, own_fields, utc_timestamp
from pipeline.telemetry.migrations import Database, migrations  # sqlite-utils, imported light there

COMMON_COLUMNS = ("id", "event_type", "ts", "session_id", "schema_version")
# The columns of each event type, in table order; a row read back keeps only its own. From the
# event classes, not the pandera models (the same columns, a test checks), so that reading the
# store never loads pandas or pandera.
TYPE_COLUMNS: dict[str, tuple[str, ...]] = {kind.value: own_fields(kind) for kind in EventType}
ALL_COLUMNS: tuple[str, ...] = COMMON_COLUMNS + tuple(dict.fromkeys(c for cols in TYPE_COLUMNS.values() for c in cols))
_LIST_COLUMNS = {"backends", "categories"}
_BOOL_COLUMNS = {"success", "refine_ran", "refine_changed", "recoverable", "executed"}


class WriteFailure(str, Enum):
    """Why a write stored nothing."""

    CORRUPT = "corrupt"  # the file is not a (healthy) SQLite database; left as it is
    LOCKED = "locked"  # other writers held the lock past the timeout and the retries
    READ_ONLY = "read_only"  # the file or its folder cannot be written
    IO_ERROR = "io_error"  # anything else the disk or the OS refused


@dataclass(frozen=True)
class WriteOutcome:
    """What `TelemetryStore.write` did: stored the batch, or stored nothing and why."""

    failure: WriteFailure | None
    written: int = 0  # events stored
    dropped: int = 0  # rows validation refused (counted in the `dropped` table when the write succeeds)

    @property
    def ok(self) -> bool:
        return self.failure is None


class TelemetryStore:
    """The telemetry database at `path` (default: `state_paths().database`), opened on first use."""

    def __init__(self, path: Path | str | None = None, *, busy_timeout_ms: int = 2000, attempts: int = 3):
        self.path = Path(path) if path is not None else state_paths().database
        self.busy_timeout_ms = busy_timeout_ms
        self.attempts = max(1, attempts)
        self._db: Database | None = None

    def __enter__(self) -> TelemetryStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Close the connection (SQLite checkpoints the WAL when the last one closes)."""
        if self._db is not None:
            db, self._db = self._db, None
            try:
                db.conn.close()
            except sqlite3.Error:
                pass  # closing a broken connection: nothing left to save

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
                failure = _failure_of(err, self.path)
                self.close()
                if failure is not WriteFailure.LOCKED or attempt >= self.attempts:
                    return WriteOutcome(failure, written=0, dropped=batch.dropped_count)
            time.sleep(0.05 * attempt)  # let the lock holder finish before waiting again
            attempt += 1

    def _insert(self, batch: ValidatedBatch) -> int:
        """Insert the batch in one transaction; the number of events written."""
        db = self._database()
        written = 0
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
            for kind, count in batch.dropped.items():
                db.execute(
                    "INSERT INTO dropped (event_type, count) VALUES (?, ?) "
                    "ON CONFLICT(event_type) DO UPDATE SET count = count + excluded.count",
                    [kind if kind in TYPE_COLUMNS else UNKNOWN_TYPE, int(count)],
                )
        return written

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
        sql = "SELECT * FROM events" + (" WHERE " + " AND ".join(where) if where else "")
        if last is not None:
            sql = f"SELECT * FROM ({sql} ORDER BY ts DESC, id DESC LIMIT ?) ORDER BY ts, id"
            params.append(max(0, int(last)))
        else:
            sql += " ORDER BY ts, id"
        return [_decoded(row) for row in self._read(sql, params)]

    def counts(self) -> dict[str, int]:
        """How many events are stored, by event type."""
        rows = self._read("SELECT event_type, count(*) AS n FROM events GROUP BY event_type", [])
        return {row["event_type"]: row["n"] for row in rows}

    def dropped(self) -> dict[str, int]:
        """How many rows failed validation and were never stored, by event type."""
        return {row["event_type"]: row["count"] for row in self._read("SELECT * FROM dropped", [])}

    def export(self, fp: IO[str], fmt: str = "jsonl") -> int:
        """Write every stored event to `fp` as JSON lines or CSV, streaming; the number written."""
        if fmt not in {"jsonl", "csv"}:
            raise ValueError(f"unknown export format {fmt!r}; use jsonl or csv")
        rows = self._stream("SELECT * FROM events ORDER BY ts, id")
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
        db = self._reader()
        with _guard(), _immediate(db):
            deleted = db.execute("DELETE FROM events").rowcount
            db.execute("DELETE FROM dropped")
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
        return db

    def _reader(self) -> Database:
        """The open database for a reading command, or a CaroError that says what is wrong.

        First waits (bounded) for writes still running in background children, so that a
        request's events are there to read as soon as caro has answered it.
        """
        if self._db is None:
            pending.wait_for_writes(self.path)
        with _guard():
            return self._database()

    def _read(self, sql: str, params: list[object]) -> list[dict[str, object]]:
        db = self._reader()
        with _guard():
            return list(db.query(sql, params))

    def _stream(self, sql: str) -> Iterator[dict[str, object]]:
        db = self._reader()
        with _guard():
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


class _guard:
    """Turns a database failure into a CaroError for the reading commands (never a traceback)."""

    def __enter__(self) -> None:
        return None

    def __exit__(self, exc_type: object, exc: BaseException | None, tb: object) -> None:
        if isinstance(exc, (sqlite3.Error, OSError)):
            failure = _failure_of(exc, None)
            raise CaroError(
                _READ_MESSAGES[failure], code=f"telemetry_{failure.value}", hint=_READ_HINTS[failure]
            ) from None


_READ_MESSAGES = {
    WriteFailure.CORRUPT: "The telemetry database is damaged; caro left it untouched.",
    WriteFailure.LOCKED: "The telemetry database is busy (another caro is writing to it).",
    WriteFailure.READ_ONLY: "The telemetry database cannot be written.",
    WriteFailure.IO_ERROR: "The telemetry database could not be read or written.",
}
_READ_HINTS = {
    WriteFailure.CORRUPT: "Move the telemetry.db file out of caro's data folder; caro starts a new one.",
    WriteFailure.LOCKED: "Try again in a moment.",
    WriteFailure.READ_ONLY: "Check the permissions of caro's data folder (CARO_HOME/data).",
    WriteFailure.IO_ERROR: "Check that caro's data folder exists and the disk has room.",
}

# SQLite primary result codes (the low byte of an extended code).
_SQLITE_PERM, _SQLITE_BUSY, _SQLITE_LOCKED, _SQLITE_READONLY = 3, 5, 6, 8
_SQLITE_CORRUPT, _SQLITE_CANTOPEN, _SQLITE_NOTADB = 11, 14, 26


def _failure_of(err: BaseException, path: Path | None) -> WriteFailure:
    """The kind of a database failure, from SQLite's result code or the OS error."""
    if isinstance(err, PermissionError):
        return WriteFailure.READ_ONLY
    if isinstance(err, OSError):
        return WriteFailure.IO_ERROR
    code = getattr(err, "sqlite_errorcode", None)
    primary = code & 0xFF if isinstance(code, int) else None
    if primary in {_SQLITE_CORRUPT, _SQLITE_NOTADB}:
        return WriteFailure.CORRUPT
    if primary in {_SQLITE_BUSY, _SQLITE_LOCKED}:
        return WriteFailure.LOCKED
    if primary in {_SQLITE_READONLY, _SQLITE_PERM}:
        return WriteFailure.READ_ONLY
    if primary == _SQLITE_CANTOPEN and path is not None and not _writable(path):
        return WriteFailure.READ_ONLY
    return WriteFailure.IO_ERROR


def _writable(path: Path) -> bool:
    """Whether the database file (or, before it exists, its folder) can be written by this process."""
    target = path if path.exists() else path.parent
    if target.is_file():
        return os.access(target, os.W_OK)
    return target.is_dir() and os.access(target, os.W_OK | os.X_OK)


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
