"""`pipeline.telemetry.analysis` against real SQLite files, each figure checked against the raw rows.

The raw rows are read back with plain sqlite3 and aggregated here in Python (numpy for the
percentiles), independently of the SQL under test.
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
from collections import Counter, defaultdict
from datetime import datetime, timezone
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from pipeline.errors import CaroError
from pipeline.paths import state_paths
from pipeline.telemetry import analysis
from pipeline.telemetry.demo_db import write_demo
from pipeline.telemetry.events import Backend, CommandGeneration
from pipeline.telemetry.privacy import SensitiveContext
from pipeline.telemetry.schemas import validate_events
from pipeline.telemetry.store import TelemetryStore

END = datetime(2025, 3, 3, tzinfo=timezone.utc)


@pytest.fixture(scope="module")
def db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """6,000 demo events over 10 days."""
    path = tmp_path_factory.mktemp("analysis") / "demo.db"
    assert write_demo(path, 6_000, seed=5, days=10, end=END).written == 6_000
    return path


@pytest.fixture(scope="module")
def raw(db: Path) -> pd.DataFrame:
    """Every stored row, read with plain sqlite3."""
    conn = sqlite3.connect(db)
    conn.row_factory = sqlite3.Row
    rows = [dict(r) for r in conn.execute("SELECT * FROM events")]
    conn.close()
    return pd.DataFrame(rows)


def _of(raw: pd.DataFrame, kind: str) -> pd.DataFrame:
    return raw[raw["event_type"] == kind]


def _generations(path: Path, durations: dict[Backend, list[int]], success: bool = True) -> None:
    events = [
        CommandGeneration(
            session_id="c" * 32, ts="2025-01-02T03:04:05.006Z", backend=backend, duration_ms=ms, success=success,
            error_category=None, refine_ran=False, refine_changed=False,
        )
        for backend, values in durations.items()
        for ms in values
    ]
    with TelemetryStore(path) as store:
        assert store.write(validate_events(events, SensitiveContext())).written == len(events)


# -- no data -------------------------------------------------------------------------------

EVERY_FRAME = (
    analysis.requests_over_time, analysis.backend_share, analysis.backend_share_over_time, analysis.latency_by_backend,
    analysis.generation_failure_rates, analysis.backend_error_rates, analysis.safety_actions_over_time,
    analysis.safety_categories, analysis.safety_categories_over_time, analysis.refine_rates,
)


@pytest.mark.parametrize("state", ["missing", "no_table", "empty"])
def test_no_data_gives_empty_frames_with_their_columns_and_creates_nothing(tmp_path: Path, state: str) -> None:
    path = tmp_path / "telemetry.db"
    if state == "no_table":
        path.write_bytes(b"")  # a zero-byte file is an empty SQLite database
    elif state == "empty":
        with TelemetryStore(path) as store:
            store.migrate()  # the schema, no events
    overview = analysis.summary(path)
    assert overview.empty and overview.events == 0 and overview.first is None and overview.days == 0.0
    assert analysis.has_data(path) is False
    for frame_of in EVERY_FRAME:
        frame = frame_of(path)
        assert isinstance(frame, pd.DataFrame) and frame.empty, frame_of.__name__
        assert len(frame.columns) >= 1, frame_of.__name__
    assert list(analysis.latency_by_backend(path).columns) == ["backend", "count", "mean_ms", "p50_ms", "p95_ms"]
    assert list(analysis.requests_over_time(path).columns) == ["period", "requests"]
    assert path.exists() == (state != "missing")


def test_a_damaged_file_is_a_one_line_caro_error_and_left_as_it_is(tmp_path: Path) -> None:
    path = tmp_path / "telemetry.db"
    path.write_bytes(b"this is not sqlite, but long enough to be looked at as a database header" * 20)
    before = path.read_bytes()
    with pytest.raises(CaroError) as err:
        analysis.summary(path)
    assert err.value.code == "telemetry_unreadable" and "\n" not in err.value.message
    assert path.read_bytes() == before


def test_reading_changes_nothing_in_the_file(db: Path) -> None:
    before = hashlib.sha256(db.read_bytes()).hexdigest()
    analysis.summary(db)
    for frame_of in EVERY_FRAME:
        frame_of(db)
    assert hashlib.sha256(db.read_bytes()).hexdigest() == before


def test_which_database(tmp_path: Path, caro_home: Path) -> None:
    assert analysis.resolve_database("x.db", environ={analysis.DATABASE_ENV: "y.db"}) == Path("x.db")
    assert analysis.resolve_database(environ={analysis.DATABASE_ENV: "y.db", "CARO_HOME": str(tmp_path)}) == Path("y.db")
    assert analysis.resolve_database(environ={"CARO_HOME": str(tmp_path)}) == tmp_path / "data" / "telemetry.db"
    assert analysis.resolve_database() == state_paths().database


# -- the overview --------------------------------------------------------------------------


def test_summary(db: Path, raw: pd.DataFrame) -> None:
    overview = analysis.summary(db)
    assert not overview.empty and analysis.has_data(db)
    assert overview.events == len(raw) == 6_000
    assert overview.by_type == raw["event_type"].value_counts().to_dict()
    assert overview.requests == len(_of(raw, "session_start"))
    assert overview.first == datetime.fromisoformat(raw["ts"].min()) and overview.last == datetime.fromisoformat(raw["ts"].max())
    assert 9 < overview.days <= 10


@pytest.mark.parametrize("freq,width,step", [("day", 10, pd.Timedelta(days=1)), ("hour", 13, pd.Timedelta(hours=1))])
@pytest.mark.parametrize("by", ["session_start", "session_end"])
def test_requests_over_time(db: Path, raw: pd.DataFrame, freq: str, width: int, step: pd.Timedelta, by: str) -> None:
    frame = analysis.requests_over_time(db, freq=freq, by=by)  # type: ignore[arg-type]
    expected = Counter(ts[:width] for ts in _of(raw, by)["ts"])
    assert frame["requests"].sum() == len(_of(raw, by))
    fmt = "%Y-%m-%d" if freq == "day" else "%Y-%m-%dT%H"
    got = {p.strftime(fmt): n for p, n in zip(frame["period"], frame["requests"]) if n}
    assert got == dict(expected)
    assert (frame["period"].diff().dropna() == step).all()  # every period, those without requests as 0
    assert str(frame["period"].dt.tz) == "UTC"
    if freq == "hour":
        assert (frame["requests"] == 0).any()  # nights with no request are there, as zeros


# -- backends ------------------------------------------------------------------------------


def test_backend_share(db: Path, raw: pd.DataFrame) -> None:
    frame = analysis.backend_share(db).set_index("backend")
    generations = _of(raw, "command_generation")
    attempts = generations["backend"].value_counts()
    successes = generations[generations["success"] == 1]["backend"].value_counts()
    assert frame["attempts"].to_dict() == attempts.to_dict()
    assert frame["successes"].to_dict() == successes.reindex(attempts.index, fill_value=0).to_dict()
    assert np.allclose(frame["share"], frame["successes"] / successes.sum())
    assert np.allclose(frame["success_rate"], frame["successes"] / frame["attempts"])
    assert frame.index[0] == "static"


def test_backend_share_over_time(db: Path, raw: pd.DataFrame) -> None:
    frame = analysis.backend_share_over_time(db).set_index("period")
    answered = _of(raw, "command_generation")
    answered = answered[answered["success"] == 1]
    counts = answered.groupby([answered["ts"].str[:10], "backend"]).size().unstack(fill_value=0)
    expected = counts.div(counts.sum(axis=1), axis=0)
    expected.index = pd.to_datetime(expected.index, utc=True)
    assert set(frame.columns) == set(expected.columns)
    assert np.allclose(frame.loc[expected.index, expected.columns].to_numpy(), expected.to_numpy())
    assert np.allclose(frame.sum(axis=1)[frame.sum(axis=1) > 0], 1.0)


@pytest.mark.parametrize("successful_only", [False, True])
def test_latency_quantiles_match_numpy(db: Path, raw: pd.DataFrame, successful_only: bool) -> None:
    quantiles = (0.0, 0.1, 0.5, 0.9, 0.95, 0.99, 1.0)
    frame = analysis.latency_by_backend(db, quantiles=quantiles, successful_only=successful_only).set_index("backend")
    generations = _of(raw, "command_generation")
    if successful_only:
        generations = generations[generations["success"] == 1]
    for backend, rows in generations.groupby("backend"):
        durations = rows["duration_ms"].to_numpy()
        assert frame.loc[backend, "count"] == len(durations)
        assert np.isclose(frame.loc[backend, "mean_ms"], durations.mean())
        for q in quantiles:
            name = "p" + f"{q * 100:g}".replace(".", "_") + "_ms"
            assert np.isclose(frame.loc[backend, name], np.quantile(durations, q)), (backend, q)
    assert set(frame.index) == set(generations["backend"])


def test_latency_quantiles_on_known_values(tmp_path: Path) -> None:
    path = tmp_path / "known.db"
    _generations(path, {Backend.STATIC: [1, 2, 3, 4, 100], Backend.VLLM: [500], Backend.LLAMA_CPP: [10, 20]})
    frame = analysis.latency_by_backend(path, quantiles=(0.5, 0.95, 0.999)).set_index("backend")
    assert frame.loc["static", "p50_ms"] == 3  # the middle value
    assert frame.loc["static", "p95_ms"] == pytest.approx(4 + 0.8 * 96)  # (n-1)q = 3.8: between 4 and 100
    assert frame.loc["vllm", ["p50_ms", "p95_ms"]].tolist() == [500, 500]  # a single value
    assert frame.loc["llama_cpp", "p50_ms"] == 15
    assert frame.loc["llama_cpp", "p99_9_ms"] == pytest.approx(np.quantile([10, 20], 0.999))
    with pytest.raises(ValueError):
        analysis.latency_by_backend(path, quantiles=(1.5,))


# -- failures ------------------------------------------------------------------------------


def test_generation_failure_rates(db: Path, raw: pd.DataFrame) -> None:
    generations = _of(raw, "command_generation")
    failed = generations[generations["success"] == 0]
    frame = analysis.generation_failure_rates(db).set_index("error_category")
    assert frame["failures"].to_dict() == failed["error_category"].value_counts().to_dict()
    assert (frame["attempts"] == len(generations)).all()
    assert np.isclose(frame["rate"].sum(), len(failed) / len(generations))

    by_backend = analysis.generation_failure_rates(db, by=("backend", "error_category"))
    attempts = generations["backend"].value_counts()
    expected = failed.groupby(["backend", "error_category"]).size()
    for row in by_backend.itertuples():
        assert row.failures == expected[(row.backend, row.error_category)]
        assert row.attempts == attempts[row.backend]
        assert np.isclose(row.rate, row.failures / row.attempts)
    assert by_backend["failures"].sum() == len(failed)
    with pytest.raises(ValueError):
        analysis.generation_failure_rates(db, by=("backend; DROP TABLE events",))


def test_backend_error_rates(db: Path, raw: pd.DataFrame) -> None:
    errors = _of(raw, "backend_error")
    requests = len(_of(raw, "session_start"))
    frame = analysis.backend_error_rates(db)
    expected = errors.groupby(["error_category", "recoverable"]).size()
    assert len(frame) == len(expected) and frame["errors"].sum() == len(errors)
    assert frame["recoverable"].dtype == bool
    for row in frame.itertuples():
        assert row.errors == expected[(row.error_category, int(row.recoverable))]
        assert np.isclose(row.rate, row.errors / requests)
    per_backend = analysis.backend_error_rates(db, by=("backend",)).set_index("backend")
    assert per_backend["errors"].to_dict() == errors["backend"].value_counts().to_dict()
    recoverability = analysis.backend_error_rates(db, by=("recoverable",)).set_index("recoverable")
    assert recoverability["errors"].to_dict() == {bool(k): v for k, v in errors["recoverable"].value_counts().items()}


# -- safety --------------------------------------------------------------------------------


def test_safety_actions_over_time(db: Path, raw: pd.DataFrame) -> None:
    verdicts = _of(raw, "safety_validation")
    frame = analysis.safety_actions_over_time(db, freq="day")
    assert list(frame.columns) == ["period", "allowed", "confirm", "blocked"]
    expected = verdicts.groupby([verdicts["ts"].str[:10], "action"]).size()
    for row in frame.itertuples():
        day = row.period.strftime("%Y-%m-%d")
        for action in analysis.ACTIONS:
            assert getattr(row, action) == expected.get((day, action), 0)
    assert frame[list(analysis.ACTIONS)].to_numpy().sum() == len(verdicts)


def test_safety_categories(db: Path, raw: pd.DataFrame) -> None:
    verdicts = _of(raw, "safety_validation")
    expected = Counter(c for text in verdicts["categories"] for c in json.loads(text))
    frame = analysis.safety_categories(db)
    assert dict(zip(frame["category"], frame["count"])) == dict(expected)
    assert np.allclose(frame["share"], frame["count"] / len(verdicts))
    assert frame["count"].is_monotonic_decreasing

    over_time = analysis.safety_categories_over_time(db).set_index("period")
    per_day: dict[tuple[str, str], int] = defaultdict(int)
    for ts, text in zip(verdicts["ts"], verdicts["categories"]):
        for c in json.loads(text):
            per_day[(ts[:10], c)] += 1
    assert set(over_time.columns) == set(expected)
    for (day, category), n in per_day.items():
        assert over_time.loc[pd.Timestamp(day, tz="UTC"), category] == n
    assert over_time.to_numpy().sum() == sum(expected.values())


# -- refine --------------------------------------------------------------------------------


def test_refine_rates(db: Path, raw: pd.DataFrame) -> None:
    generations = _of(raw, "command_generation")
    frame = analysis.refine_rates(db).set_index("backend")
    assert set(frame.index) == {"llama_cpp", "vllm"}
    for backend, row in frame.iterrows():
        mine = generations[generations["backend"] == backend]
        assert row["generations"] == len(mine)
        assert row["refine_ran"] == mine["refine_ran"].sum() and row["refine_changed"] == mine["refine_changed"].sum()
        assert np.isclose(row["ran_rate"], mine["refine_ran"].mean())
        assert np.isclose(row["changed_rate"], mine["refine_changed"].mean())
        assert np.isclose(row["changed_when_ran"], mine["refine_changed"].sum() / mine["refine_ran"].sum())
    everything = analysis.refine_rates(db, model_only=False).set_index("backend")
    assert set(everything.index) == set(generations["backend"])
    assert everything.loc["static", "ran_rate"] == 0 and pd.isna(everything.loc["static", "changed_when_ran"])


def test_bad_arguments_are_value_errors(db: Path) -> None:
    with pytest.raises(ValueError):
        analysis.requests_over_time(db, freq="week")  # type: ignore[arg-type]
    with pytest.raises(ValueError):
        analysis.requests_over_time(db, by="command_generation")  # type: ignore[arg-type]
    with pytest.raises(ValueError):
        analysis.backend_error_rates(db, by=())
