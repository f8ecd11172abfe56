"""Reading the telemetry for analysis: small pandas frames computed by SQL, for the notebook and for people.

Every function takes the database's path, opens it read-only (a `file:...?mode=ro` URI, so
nothing is ever created or changed; a missing file, or one without the events table, is simply
empty) and lets SQLite aggregate: GROUP BY for counts and rates, window functions for shares and
percentiles, `json_each` for the categories lists. Only the aggregates come back, so a frame has
a row per day, backend or category, whatever the number of events; no function loads the rows.

Times are UTC, as stored. Periods are `day` or `hour`, and series over time have a row for every
period between the first and the last one with data (zero where there was none). Every frame
built from no data is empty but has its columns, so code that plots it needs no special case;
`summary(...).empty` says whether there is anything to look at.
"""

from __future__ import annotations

import os
import sqlite3
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Literal, Union

import pandas as pd

from pipeline.errors import CaroError
from pipeline.telemetry.connect import connect_read_only

Database = Union[str, "os.PathLike[str]"]
Freq = Literal["day", "hour"]
Quantity = Literal["session_start", "session_end"]

DATABASE_ENV = "CARO_TELEMETRY_DB"
NO_DATA_MESSAGE = (
    "No telemetry data yet. Turn telemetry on (`caro telemetry enable`) and use caro for a while, "
    "or make demo data with `caro telemetry demo --events 10000` and point CARO_TELEMETRY_DB at the file it names."
)
MODEL_BACKENDS = ("llama_cpp", "vllm")
ACTIONS = ("allowed", "confirm", "blocked")

_PERIOD = {"day": ("substr(ts, 1, 10)", "%Y-%m-%d", "D"), "hour": ("substr(ts, 1, 13)", "%Y-%m-%dT%H", "h")}
_GROUPABLE_ERRORS = ("backend", "error_category", "recoverable")
_GROUPABLE_FAILURES = ("backend", "error_category")


def resolve_database(database: Database | None = None, environ: Mapping[str, str] | None = None) -> Path:
    """The database to analyse: the one given, else $CARO_TELEMETRY_DB, else caro's own telemetry database."""
    if database is not None:
        return Path(database)
    env = os.environ if environ is None else environ
    if env.get(DATABASE_ENV):
        return Path(env[DATABASE_ENV]).expanduser()
    from pipeline.paths import state_paths

    return state_paths(dict(env)).database


# -- reading -------------------------------------------------------------------------------


def _query(database: Database, sql: str, params: Sequence[object] | Mapping[str, object] = ()) -> pd.DataFrame | None:
    """The result of one read-only query, or None when the file or its events table does not exist."""
    path = Path(database)
    if not path.is_file():
        return None
    try:
        conn = connect_read_only(path)  # also a read-only folder with no -shm file (see connect.py)
    except sqlite3.Error as err:
        if _primary_code(err) in _BUSY_CODES:
            raise _busy() from None
        raise _unreadable() from None
    try:
        if conn.execute("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'events'").fetchone() is None:
            return None
        return pd.read_sql_query(sql, conn, params=params if isinstance(params, Mapping) else list(params))
    except (sqlite3.Error, pd.errors.DatabaseError) as err:
        cause = err if isinstance(err, sqlite3.Error) else err.__cause__ or err.__context__
        if _primary_code(cause) in _UNREADABLE_CODES:
            raise _unreadable() from None
        if _primary_code(cause) in _BUSY_CODES:
            raise _busy() from None
        raise  # anything else is a bug in the SQL here
    finally:
        conn.close()


# SQLite primary result codes (the low byte of an extended code).
_BUSY_CODES = {5, 6}  # BUSY, LOCKED
_UNREADABLE_CODES = {3, 10, 11, 14, 23, 26}  # PERM, IOERR, CORRUPT, CANTOPEN, AUTH, NOTADB


def _primary_code(err: BaseException | None) -> int | None:
    code = getattr(err, "sqlite_errorcode", None)
    return code & 0xFF if isinstance(code, int) else None


def _busy() -> CaroError:
    return CaroError(
        "the telemetry database is busy (another caro is writing to it)", code="telemetry_locked", hint="try again in a moment"
    )


def _unreadable() -> CaroError:
    return CaroError(
        "the telemetry database cannot be read (damaged, or not a caro telemetry database); it was left untouched",
        code="telemetry_unreadable",
        hint="check the file named by CARO_TELEMETRY_DB, or move a damaged telemetry.db aside",
    )


def _empty(columns: dict[str, str]) -> pd.DataFrame:
    """An empty frame with these columns and dtypes."""
    return pd.DataFrame({name: pd.Series(dtype=dtype) for name, dtype in columns.items()})


def _periods(frame: pd.DataFrame, freq: Freq, fill: object = 0) -> pd.DataFrame:
    """`frame` with its `period` text turned into UTC times, and a zero row for every period without data."""
    if frame.empty:
        return frame.assign(period=pd.Series(dtype="datetime64[ns, UTC]"))
    _, fmt, step = _PERIOD[freq]
    frame = frame.assign(period=pd.to_datetime(frame["period"], format=fmt, utc=True)).set_index("period")
    every = pd.date_range(frame.index.min(), frame.index.max(), freq=step, name="period")
    return frame.reindex(every, fill_value=fill).reset_index()


def _period_sql(freq: Freq) -> str:
    if freq not in _PERIOD:
        raise ValueError(f"freq must be one of {sorted(_PERIOD)}")
    return _PERIOD[freq][0]


def _columns(by: Sequence[str], allowed: Sequence[str]) -> list[str]:
    """The grouping columns asked for, checked against the ones allowed (they are spliced into SQL)."""
    columns = list(by)
    if not columns or any(c not in allowed for c in columns):
        raise ValueError(f"group by one or more of {list(allowed)}")
    return columns


# -- the overview --------------------------------------------------------------------------


@dataclass(frozen=True)
class Summary:
    """What the database holds: events by type, requests, and the time they span (UTC)."""

    events: int = 0
    by_type: dict[str, int] = field(default_factory=dict)
    requests: int = 0  # session_start events: one per request
    first: datetime | None = None
    last: datetime | None = None

    @property
    def empty(self) -> bool:
        """True when there is nothing to analyse yet."""
        return self.events == 0

    @property
    def days(self) -> float:
        """The span from the first event to the last, in days."""
        if self.first is None or self.last is None:
            return 0.0
        return (self.last - self.first).total_seconds() / 86_400


def summary(database: Database) -> Summary:
    """Counts by event type and the time span; `Summary().empty` for a missing or empty database."""
    frame = _query(database, "SELECT event_type, count(*) AS n, min(ts) AS first, max(ts) AS last FROM events GROUP BY event_type")
    if frame is None or frame.empty:
        return Summary()
    by_type = {str(k): int(n) for k, n in zip(frame["event_type"], frame["n"])}
    first, last = (pd.Timestamp(frame["first"].min()).to_pydatetime(), pd.Timestamp(frame["last"].max()).to_pydatetime())
    return Summary(sum(by_type.values()), by_type, by_type.get("session_start", 0), first, last)


def has_data(database: Database) -> bool:
    """Whether the database holds any event (a missing file holds none)."""
    frame = _query(database, "SELECT EXISTS (SELECT 1 FROM events) AS any_event")
    return bool(frame is not None and frame["any_event"].iloc[0])


def requests_over_time(database: Database, freq: Freq = "day", by: Quantity = "session_start") -> pd.DataFrame:
    """Requests per period: `period`, `requests`, counting session_start events (or session_end, the finished ones)."""
    if by not in ("session_start", "session_end"):
        raise ValueError("by must be session_start or session_end")
    sql = f"SELECT {_period_sql(freq)} AS period, count(*) AS requests FROM events WHERE event_type = ? GROUP BY period ORDER BY period"
    frame = _query(database, sql, [by])
    return _periods(frame if frame is not None else _empty({"period": "object", "requests": "int64"}), freq)


# -- backends ------------------------------------------------------------------------------


def backend_share(database: Database) -> pd.DataFrame:
    """Per backend: `attempts`, `successes`, `success_rate`, and `share` of all commands produced (0..1)."""
    sql = """
        SELECT backend, count(*) AS attempts, sum(success) AS successes,
               1.0 * sum(success) / count(*) AS success_rate,
               1.0 * sum(success) / sum(sum(success)) OVER () AS share
        FROM events WHERE event_type = 'command_generation'
        GROUP BY backend ORDER BY successes DESC, backend
    """
    frame = _query(database, sql)
    if frame is None:
        return _empty({"backend": "object", "attempts": "int64", "successes": "int64", "success_rate": "float64", "share": "float64"})
    return frame.fillna({"share": 0.0})


def backend_share_over_time(database: Database, freq: Freq = "day") -> pd.DataFrame:
    """Share of the commands produced per period (0..1): a `period` column and one column per backend."""
    sql = f"""
        SELECT {_period_sql(freq)} AS period, backend,
               1.0 * count(*) / sum(count(*)) OVER (PARTITION BY {_period_sql(freq)}) AS share
        FROM events WHERE event_type = 'command_generation' AND success = 1
        GROUP BY period, backend
    """
    frame = _query(database, sql)
    if frame is None or frame.empty:
        return _periods(_empty({"period": "object"}), freq)
    wide = frame.pivot(index="period", columns="backend", values="share").fillna(0.0).reset_index()
    wide.columns.name = None
    return _periods(wide, freq, fill=0.0)


def latency_by_backend(
    database: Database, quantiles: Sequence[float] = (0.5, 0.95), successful_only: bool = False
) -> pd.DataFrame:
    """Generation time per backend, in ms: `backend`, `count`, `mean_ms`, and `p50_ms`, `p95_ms`... for `quantiles`.

    Quantiles interpolate linearly between the two nearest ranks (numpy's default method).
    Durations are whole milliseconds, so SQLite first counts each backend's distinct values
    (GROUP BY), then running sums over those counts (a window) give the rank range each value
    covers: exact, and the windows see a few thousand rows rather than every event.
    """
    if not quantiles or any(not 0 <= q <= 1 for q in quantiles):
        raise ValueError("quantiles must be between 0 and 1")
    picks, params = [], {}
    for k, q in enumerate(quantiles):
        # lo = floor((n-1)q), the rank at or below the quantile; hi = the next rank, if any.
        h = f"((n - 1) * :q{k})"
        lo, hi = f"CAST({h} AS INTEGER)", f"min(CAST({h} AS INTEGER) + 1, n - 1)"
        x_lo = f"max(CASE WHEN {lo} BETWEEN cum - c AND cum - 1 THEN x END)"
        x_hi = f"max(CASE WHEN {hi} BETWEEN cum - c AND cum - 1 THEN x END)"
        picks.append(f"{x_lo} + ({h} - {lo}) * ({x_hi} - {x_lo}) AS {_quantile_name(q)}")
        params[f"q{k}"] = float(q)
    where = "event_type = 'command_generation'" + (" AND success = 1" if successful_only else "")
    sql = f"""
        WITH counted AS (
            SELECT backend, duration_ms AS x, count(*) AS c FROM events WHERE {where} GROUP BY backend, duration_ms
        ), ranked AS (
            -- the values of rank cum - c to cum - 1 (from 0, in duration order) are all x
            SELECT backend, x, c,
                   sum(c) OVER (PARTITION BY backend ORDER BY x ROWS UNBOUNDED PRECEDING) AS cum,
                   sum(c) OVER (PARTITION BY backend) AS n
            FROM counted
        )
        SELECT backend, n AS count, 1.0 * sum(c * x) / n AS mean_ms, {", ".join(picks)}
        FROM ranked GROUP BY backend ORDER BY backend
    """
    frame = _query(database, sql, params)
    if frame is None:
        return _empty({"backend": "object", "count": "int64", "mean_ms": "float64", **{_quantile_name(q): "float64" for q in quantiles}})
    return frame


def _quantile_name(q: float) -> str:
    """`p50_ms` for 0.5, `p99_9_ms` for 0.999."""
    return "p" + f"{q * 100:g}".replace(".", "_") + "_ms"


# -- failures ------------------------------------------------------------------------------


def generation_failure_rates(database: Database, by: Sequence[str] = ("error_category",)) -> pd.DataFrame:
    """command_generation failures: the `by` columns, `failures`, `attempts` and `rate` (failures / attempts).

    Attempts are all generations of the group's backend when `by` includes `backend`, else all
    generations; so rates by category add up to the overall failure rate.
    """
    columns = _columns(by, _GROUPABLE_FAILURES)
    keys = ", ".join(columns)
    per_backend = "backend" in columns
    sql = f"""
        WITH attempts AS (
            SELECT {"backend" if per_backend else "'all'"} AS scope, count(*) AS attempts
            FROM events WHERE event_type = 'command_generation' GROUP BY scope
        )
        SELECT {keys}, count(*) AS failures, attempts.attempts AS attempts, 1.0 * count(*) / attempts.attempts AS rate
        FROM events JOIN attempts ON attempts.scope = {"events.backend" if per_backend else "'all'"}
        WHERE event_type = 'command_generation' AND success = 0
        GROUP BY {", ".join(f"events.{c}" for c in columns)} ORDER BY failures DESC
    """
    frame = _query(database, sql)
    if frame is None:
        return _empty({**{c: "object" for c in columns}, "failures": "int64", "attempts": "int64", "rate": "float64"})
    return frame


def backend_error_rates(database: Database, by: Sequence[str] = ("error_category", "recoverable")) -> pd.DataFrame:
    """backend_error events: the `by` columns, `errors`, `requests` and `rate` (errors per request).

    `recoverable` comes back as a bool: True when caro went on with a retry or the fallback.
    """
    columns = _columns(by, _GROUPABLE_ERRORS)
    sql = f"""
        SELECT {", ".join(columns)}, count(*) AS errors,
               (SELECT count(*) FROM events WHERE event_type = 'session_start') AS requests
        FROM events WHERE event_type = 'backend_error'
        GROUP BY {", ".join(columns)} ORDER BY errors DESC
    """
    frame = _query(database, sql)
    if frame is None:
        return _empty({**{c: "bool" if c == "recoverable" else "object" for c in columns}, "errors": "int64", "requests": "int64", "rate": "float64"})
    frame["rate"] = frame["errors"] / frame["requests"].where(frame["requests"] > 0)
    if "recoverable" in frame:
        frame["recoverable"] = frame["recoverable"].astype(bool)
    return frame


# -- safety --------------------------------------------------------------------------------


def safety_actions_over_time(database: Database, freq: Freq = "day") -> pd.DataFrame:
    """Safety verdicts per period: `period`, then `allowed`, `confirm`, `blocked` counts."""
    counts = ", ".join(f"sum(action = '{a}') AS {a}" for a in ACTIONS)
    sql = f"""
        SELECT {_period_sql(freq)} AS period, {counts}
        FROM events WHERE event_type = 'safety_validation' GROUP BY period ORDER BY period
    """
    frame = _query(database, sql)
    return _periods(frame if frame is not None else _empty({"period": "object", **{a: "int64" for a in ACTIONS}}), freq)


def safety_categories(database: Database) -> pd.DataFrame:
    """How often each safety category matched: `category`, `count`, `share` of all verdicts (0..1)."""
    sql = """
        SELECT category.value AS category, count(*) AS count,
               1.0 * count(*) / (SELECT count(*) FROM events WHERE event_type = 'safety_validation') AS share
        FROM events, json_each(events.categories) AS category
        WHERE event_type = 'safety_validation'
        GROUP BY category.value ORDER BY count DESC, category
    """
    frame = _query(database, sql)
    return frame if frame is not None else _empty({"category": "object", "count": "int64", "share": "float64"})


def safety_categories_over_time(database: Database, freq: Freq = "day") -> pd.DataFrame:
    """Matches per safety category and period: a `period` column and one count column per category seen."""
    sql = f"""
        SELECT {_period_sql(freq)} AS period, category.value AS category, count(*) AS count
        FROM events, json_each(events.categories) AS category
        WHERE event_type = 'safety_validation'
        GROUP BY period, category.value
    """
    frame = _query(database, sql)
    if frame is None or frame.empty:
        return _periods(_empty({"period": "object"}), freq)
    wide = frame.pivot(index="period", columns="category", values="count").fillna(0).astype("int64").reset_index()
    wide.columns.name = None
    return _periods(wide, freq)


# -- refine --------------------------------------------------------------------------------


def refine_rates(database: Database, model_only: bool = True) -> pd.DataFrame:
    """Per backend: `generations`, `refine_ran`, `refine_changed`, and the rates `ran_rate`,
    `changed_rate` (both of all generations) and `changed_when_ran` (of those refine ran on).

    Refine only runs on a model's command, so by default only the model backends are listed.
    """
    where = "event_type = 'command_generation'"
    if model_only:
        where += f" AND backend IN ({', '.join('?' * len(MODEL_BACKENDS))})"
    sql = f"""
        SELECT backend, count(*) AS generations, sum(refine_ran) AS refine_ran, sum(refine_changed) AS refine_changed,
               1.0 * sum(refine_ran) / count(*) AS ran_rate,
               1.0 * sum(refine_changed) / count(*) AS changed_rate,
               1.0 * sum(refine_changed) / nullif(sum(refine_ran), 0) AS changed_when_ran
        FROM events WHERE {where} GROUP BY backend ORDER BY backend
    """
    frame = _query(database, sql, MODEL_BACKENDS if model_only else ())
    if frame is None:
        columns = {"backend": "object", "generations": "int64", "refine_ran": "int64", "refine_changed": "int64"}
        return _empty({**columns, "ran_rate": "float64", "changed_rate": "float64", "changed_when_ran": "float64"})
    return frame
