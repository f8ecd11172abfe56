"""The telemetry database's SQL schema, as the migrations create it, for the docs to embed."""

from __future__ import annotations

import sqlite3
import tempfile
from pathlib import Path

from pipeline.telemetry.store import TelemetryStore


def schema_sql() -> str:
    """The CREATE statements of a freshly migrated telemetry database, in creation order."""
    with tempfile.TemporaryDirectory(prefix="caro-schema-") as folder:
        path = Path(folder) / "telemetry.db"
        with TelemetryStore(path) as store:
            store.migrate()
        conn = sqlite3.connect(path)
        try:
            rows = conn.execute(
                "SELECT sql FROM sqlite_master WHERE sql IS NOT NULL AND name NOT LIKE 'sqlite_%' ORDER BY rowid"
            ).fetchall()
        finally:
            conn.close()
    return "".join(f"{sql};\n" for (sql,) in rows)
