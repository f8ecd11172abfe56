"""The telemetry database's schema, evolved by named migrations applied every time it is opened.

A new migration is a new function at the end (`m003_...`); an applied one is never edited.
"""

from __future__ import annotations

from pipeline.importing import import_hiding

# sqlite-utils imports pandas and numpy when installed, to map types caro never inserts
# (~250 ms); the reading commands need neither. store.py takes `Database` from here.
import_hiding("sqlite_utils", hidden=("pandas", "numpy"))

from sqlite_utils import Database, Migrations  # noqa: E402

migrations = Migrations("caro")


@migrations()
def m001_create_events(db: Database) -> None:
    """The events table: common columns, then every type's own (nullable) columns."""
    db["events"].create(
        {
            "id": int,
            "event_type": str,
            "ts": str,
            "session_id": str,
            "schema_version": int,
            # session_start
            "caro_version": str,
            "os": str,
            "arch": str,
            "backends": str,
            "safety_level": str,
            # command_generation, backend_error
            "backend": str,
            "error_category": str,
            # command_generation, session_end
            "duration_ms": int,
            "success": int,
            "refine_ran": int,
            "refine_changed": int,
            # safety_validation
            "risk": str,
            "action": str,
            "categories": str,
            # backend_error
            "recoverable": int,
            # session_end
            "outcome": str,
            "executed": int,
        },
        pk="id",
        not_null={"event_type", "ts", "session_id", "schema_version"},
    )
    db["events"].create_index(["event_type", "ts"], index_name="events_by_type_ts")
    db["events"].create_index(["ts"], index_name="events_by_ts")


@migrations()
def m002_dropped_counts(db: Database) -> None:
    """Rows that failed validation, counted by event type and nothing more."""
    db["dropped"].create({"event_type": str, "count": int}, pk="event_type", not_null={"count"})


@migrations()
def m003_dropped_by_reason(db: Database) -> None:
    """The dropped counts by reason as well as event type: invalid, sensitive, locked, disk_full, ...

    Counts from before this migration were rows that failed validation: they become `invalid`
    (the schemas and the privacy check were not told apart then).
    """
    db["dropped_by_reason"].create(
        {"reason": str, "event_type": str, "count": int}, pk=("reason", "event_type"), not_null={"count"}
    )
    db.execute("INSERT INTO dropped_by_reason (reason, event_type, count) SELECT 'invalid', event_type, count FROM dropped")
    db["dropped"].drop()
    db.rename_table("dropped_by_reason", "dropped")


@migrations()
def m004_prompt_choices(db: Database) -> None:
    """The `choice` column of `prompt_action` events: what the user chose at the interactive prompt."""
    db["events"].add_column("choice", str)
