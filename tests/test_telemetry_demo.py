"""`pipeline.telemetry.demo` and `caro telemetry demo`, on real SQLite files under the test's CARO_HOME."""

from __future__ import annotations

import json
import sqlite3
import statistics
import subprocess
from collections import Counter
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from pipeline.cli.main import main
from pipeline.errors import CaroError, ExitCode
from pipeline.paths import state_paths
from pipeline.telemetry import demo as demo_module
from pipeline.telemetry.demo import demo_events
from pipeline.telemetry.demo_db import stored_events, write_demo
from pipeline.telemetry.events import EventType
from tests.conftest import caro_executable

END = datetime(2025, 3, 3, tzinfo=timezone.utc)  # a Monday, 00:00 UTC


def _rows(path: Path, sql: str = "SELECT * FROM events ORDER BY id") -> list[dict[str, object]]:
    """Rows read back with plain sqlite3, nothing of caro's in between."""
    conn = sqlite3.connect(path)
    conn.row_factory = sqlite3.Row
    try:
        return [dict(r) for r in conn.execute(sql)]
    finally:
        conn.close()


@pytest.fixture(scope="module")
def month(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """20,000 demo events over the 30 days before END."""
    path = tmp_path_factory.mktemp("demo") / "month.db"
    report = write_demo(path, 20_000, seed=7, end=END)
    assert report.written == 20_000 and report.dropped == 0
    return path


# -- the generator -------------------------------------------------------------------------


def test_writes_exactly_n_events_of_every_type_through_validation(tmp_path: Path, monkeypatch) -> None:
    from pipeline.telemetry import schemas

    calls: list[int] = []
    real = schemas.validate_events

    def counting(events, sensitive):
        events = list(events)
        calls.append(len(events))
        return real(events, sensitive)

    monkeypatch.setattr(schemas, "validate_events", counting)
    path = tmp_path / "demo.db"
    report = write_demo(path, 2_500, seed=1, end=END, batch_size=1_000)
    assert calls == [1_000, 1_000, 500]  # every event went through the validator, in batches
    assert (report.written, report.dropped, report.total, report.appended) == (2_500, 0, 2_500, False)
    counts = Counter(r["event_type"] for r in _rows(path))
    assert sum(counts.values()) == 2_500
    assert set(counts) == {e.value for e in EventType}
    assert _rows(path, "SELECT * FROM dropped") == []


@pytest.mark.parametrize("count", [1, 2, 7, 1_001])
def test_the_count_is_exact_even_inside_a_session(tmp_path: Path, count: int) -> None:
    path = tmp_path / "demo.db"
    assert write_demo(path, count, seed=2, end=END).written == count
    rows = _rows(path)
    assert len(rows) == count and rows[0]["event_type"] == "session_start"


def test_the_same_seed_gives_the_same_events_and_another_seed_others(tmp_path: Path) -> None:
    def stored(name: str, seed: int) -> list[tuple[object, ...]]:
        write_demo(tmp_path / name, 3_000, seed=seed, end=END)
        return [tuple(v for k, v in r.items() if k != "id") for r in _rows(tmp_path / name)]

    first, again, other = stored("a.db", 11), stored("b.db", 11), stored("c.db", 12)
    assert first == again
    assert first != other
    assert list(demo_events(50, seed=11, end=END)) == list(demo_events(50, seed=11, end=END))


def test_events_fall_in_the_span_and_each_session_is_in_order(month: Path) -> None:
    rows = _rows(month)
    start = (END - timedelta(days=30)).strftime("%Y-%m-%dT%H:%M:%S.000Z")
    assert all(start <= r["ts"] < "2025-03-03T00:00:00.000Z" for r in rows)
    sessions: dict[str, list[dict[str, object]]] = {}
    for row in rows:
        sessions.setdefault(str(row["session_id"]), []).append(row)
    assert len(sessions) == sum(r["event_type"] == "session_start" for r in rows)
    order = {"session_start": 0, "backend_error": 1, "command_generation": 2, "safety_validation": 3, "prompt_action": 3.5, "session_end": 4}
    for events in sessions.values():
        # The store groups a batch's rows by type, so ids are not time order; the times are
        # (the interactive prompt's events, after the first verdict, are a millisecond apart at least).
        events.sort(key=lambda e: (e["ts"], order[str(e["event_type"])]))
        kinds = [e["event_type"] for e in events]
        assert kinds[0] == "session_start"
        at_prompt = kinds.index("prompt_action") if "prompt_action" in kinds else len(kinds)
        head, tail = kinds[:at_prompt], kinds[at_prompt:]
        assert [order[str(k)] for k in head] == sorted(order[str(k)] for k in head)
        assert head.count("command_generation") <= 1
        _check_prompt(events[at_prompt:])
        if kinds[-1] == "session_end" and "command_generation" in kinds:
            end = events[-1]
            assert end["outcome"] in ("command", "no_command")
            assert ("safety_validation" in kinds) == (end["outcome"] == "command")
            generation = next(e for e in events if e["event_type"] == "command_generation")
            assert end["duration_ms"] >= generation["duration_ms"]


def _check_prompt(events: list[dict[str, object]]) -> None:
    """The interactive prompt's part of a session: choices, each edit or revision judged again, then the end."""
    kinds = [e["event_type"] for e in events]
    for i, event in enumerate(events):
        if event["event_type"] == "prompt_action" and event["choice"] in ("edit", "revise") and i + 1 < len(events):
            assert kinds[i + 1 : i + 3] == ["command_generation", "safety_validation"][: len(kinds) - i - 1]
            assert (events[i + 1]["backend"] == "passthrough") == (event["choice"] == "edit")
        elif event["event_type"] in ("command_generation", "safety_validation"):
            assert i > 0 and kinds[i - 1] in ("prompt_action", "command_generation")
    choices = [e["choice"] for e in events if e["event_type"] == "prompt_action"]
    if events and events[-1]["event_type"] == "session_end":
        assert choices[-1] in ("run", "quit") and all(c not in ("run", "quit") for c in choices[:-1])
        assert bool(events[-1]["executed"]) == (choices[-1] == "run")


def test_the_data_looks_like_use(month: Path) -> None:
    """Working hours and weekdays are busier, the static table answers most, latencies per backend."""
    starts = [datetime.fromisoformat(str(r["ts"])) for r in _rows(month, "SELECT ts FROM events WHERE event_type = 'session_start'")]
    by_hour = Counter(t.hour for t in starts)
    assert sum(by_hour[h] for h in range(9, 17)) > 4 * sum(by_hour[h] for h in range(0, 8))
    weekday = sum(t.weekday() < 5 for t in starts) / 5
    weekend = sum(t.weekday() >= 5 for t in starts) / 2
    assert weekday > 2 * weekend

    generations = _rows(month, "SELECT backend, duration_ms, success, refine_ran, refine_changed FROM events WHERE event_type = 'command_generation'")
    answered = Counter(g["backend"] for g in generations if g["success"])
    assert answered.most_common(1)[0][0] == "static"
    assert answered["static"] > 0.5 * sum(answered.values())
    assert answered["llama_cpp"] > answered["vllm"] > 0 and answered["passthrough"] > 0
    median = {b: statistics.median(g["duration_ms"] for g in generations if g["backend"] == b and g["success"]) for b in answered}
    assert median["static"] < 10 and median["passthrough"] < 10
    assert 1_000 < median["llama_cpp"] < 3_000
    assert 300 < median["vllm"] < 1_000
    assert not any(g["refine_ran"] for g in generations if g["backend"] in ("static", "passthrough"))
    assert all(g["refine_ran"] for g in generations if g["refine_changed"])

    actions = Counter(r["action"] for r in _rows(month, "SELECT action FROM events WHERE event_type = 'safety_validation'"))
    assert actions["allowed"] > 0.8 * sum(actions.values()) and actions["confirm"] > actions["blocked"] > 0
    errors = _rows(month, "SELECT backend, error_category, recoverable FROM events WHERE event_type = 'backend_error'")
    assert {e["recoverable"] for e in errors} == {0, 1}
    assert {e["backend"] for e in errors} == {"llama_cpp", "vllm"}
    failures = Counter(g["backend"] for g in generations if not g["success"])
    assert failures and sum(failures.values()) < 0.1 * len(generations)


def test_refuses_a_file_with_events_unless_appending(tmp_path: Path) -> None:
    path = tmp_path / "demo.db"
    write_demo(path, 100, seed=1, end=END)
    with pytest.raises(CaroError) as refused:
        write_demo(path, 100, seed=2, end=END)
    assert refused.value.exit_code is ExitCode.USAGE and refused.value.code == "demo_output_not_empty"
    assert stored_events(path) == 100
    report = write_demo(path, 50, seed=2, end=END, append=True)
    assert (report.written, report.total, report.appended) == (50, 150, True)


def test_a_file_that_is_not_a_telemetry_database_is_left_alone(tmp_path: Path) -> None:
    notes = tmp_path / "notes.txt"
    notes.write_text("my notes\n")
    other = tmp_path / "other.db"
    conn = sqlite3.connect(other)
    conn.execute("CREATE TABLE mine (x)")
    conn.commit()
    conn.close()
    for path in (notes, other):
        before = path.read_bytes()
        for append in (False, True):
            with pytest.raises(CaroError) as refused:
                write_demo(path, 10, end=END, append=append)
            assert refused.value.code == "demo_output_foreign"
        assert path.read_bytes() == before
    assert stored_events(tmp_path / "missing.db") is None
    assert not (tmp_path / "missing.db").exists()


def test_bad_arguments_are_value_errors() -> None:
    for kwargs in ({"count": 0}, {"count": demo_module.MAX_EVENTS + 1}, {"count": 5, "days": 0}):
        with pytest.raises(ValueError):
            next(demo_events(**kwargs))  # type: ignore[arg-type]


# -- caro telemetry demo -------------------------------------------------------------------


def test_cli_writes_beside_the_real_database_and_never_into_it(capsys, caro_home: Path) -> None:
    real = state_paths().database
    assert main(["telemetry", "demo", "--events", "300"]) == 0
    out = capsys.readouterr().out
    demo_file = real.with_name("telemetry-demo.db")
    assert out == f"wrote 300 demo events to {demo_file}\n"
    assert stored_events(demo_file) == 300
    assert not real.exists()


def test_cli_refuses_an_existing_non_empty_file_without_append(capsys, tmp_path: Path) -> None:
    path = tmp_path / "demo.db"
    assert main(["telemetry", "demo", "-n", "200", "--output-file", str(path)]) == 0
    capsys.readouterr()
    assert main(["telemetry", "demo", "-n", "200", "--output-file", str(path)]) == ExitCode.USAGE == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err.count("\n") == 1 and "already holds events" in captured.err and "--append" in captured.err
    assert stored_events(path) == 200
    assert main(["telemetry", "demo", "-n", "200", "--output-file", str(path), "--append", "-o", "json", "--seed", "3"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report == {"written": 200, "dropped": 0, "total": 400, "appended": True, "database": str(path), "seed": 3, "days": 30}


def test_cli_writes_the_real_database_only_when_named(capsys) -> None:
    real = state_paths().database
    assert main(["telemetry", "demo", "-n", "40", "--output-file", str(real)]) == 0
    assert stored_events(real) == 40
    assert main(["telemetry", "status", "-o", "json"]) == 0
    assert '"total": 40' in capsys.readouterr().out.splitlines()[-1]


@pytest.mark.parametrize(
    "args", [["-n", "0"], ["-n", "-5"], ["-n", "100000000"], ["-n", "many"], [], ["-n", "10", "--days", "0"], ["-n", "10", "--seed", "-1"]]
)
def test_cli_bad_options_are_one_line_usage_errors(capsys, caro_home: Path, args: list[str]) -> None:
    assert main(["telemetry", "demo", *args]) == 2
    captured = capsys.readouterr()
    assert captured.out == "" and captured.err.count("\n") == 1 and captured.err.startswith("caro: error: ")
    assert not state_paths().data_dir.exists()


def test_cli_as_a_process(tmp_path: Path, caro_home: Path) -> None:
    path = tmp_path / "proc.db"
    done = subprocess.run(
        [caro_executable(), "telemetry", "demo", "--events", "120", "--output-file", str(path), "--days", "2"],
        capture_output=True, text=True, timeout=120,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout == f"wrote 120 demo events to {path}\n" and done.stderr == ""
    assert stored_events(path) == 120
    again = subprocess.run(
        [caro_executable(), "telemetry", "demo", "--events", "120", "--output-file", str(path)], capture_output=True, text=True, timeout=120
    )
    assert again.returncode == 2 and again.stdout == "" and again.stderr.count("\n") == 1


def test_the_prompt_choices_look_like_use(month: Path) -> None:
    """Every choice appears, and running is the most common."""
    from pipeline.telemetry.events import PromptChoice

    choices = Counter(r["choice"] for r in _rows(month, "SELECT choice FROM events WHERE event_type = 'prompt_action'"))
    assert set(choices) == {c.value for c in PromptChoice}
    assert choices.most_common(1)[0][0] == "run" and choices["run"] > 2 * choices["quit"]
    assert _rows(month, "SELECT choice FROM events WHERE event_type = 'session_start' AND choice IS NOT NULL") == []
