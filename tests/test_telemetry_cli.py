"""`caro telemetry ...` on real SQLite files under the test's CARO_HOME, and the consent rules."""

from __future__ import annotations

import csv
import io
import json
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from pipeline.cli.main import main
from pipeline.cli.telemetry import EVENT_TYPE_NAMES, parse_since
from pipeline.errors import CaroError, ExitCode
from pipeline.paths import state_paths
from pipeline.settings import Layer
from pipeline.telemetry.events import EventType, utc_timestamp
from pipeline.telemetry.privacy import SensitiveContext
from pipeline.telemetry.schemas import validate_events
from pipeline.telemetry.store import TelemetryStore
from pipeline.telemetry.consent import Consent, telemetry_state
from tests.test_telemetry_schemas import sample_events

OLD = "2025-03-04T05:06:07.089Z"
SID_OLD = "a" * 32
SID_NEW = "b" * 32


@pytest.fixture
def seeded() -> Path:
    """The default database with one old request (6 events) and one from a minute ago (6 events)."""
    recent = utc_timestamp(datetime.now(timezone.utc) - timedelta(minutes=1))
    with TelemetryStore() as store:
        for sid, ts in ((SID_OLD, OLD), (SID_NEW, recent)):
            outcome = store.write(validate_events(sample_events(sid, ts), SensitiveContext()))
            assert outcome.ok and outcome.written == 6
    return state_paths().database


def _json(capsys: pytest.CaptureFixture[str]) -> object:
    return json.loads(capsys.readouterr().out)


# -- status ----------------------------------------------------------------------------


def test_status_without_a_database_says_no_events_yet_and_creates_nothing(capsys, caro_home: Path) -> None:
    assert main(["telemetry", "status"]) == 0
    out = capsys.readouterr().out
    assert "telemetry: off (off by default)" in out
    assert "no events yet" in out
    assert not state_paths().database.exists()
    assert main(["telemetry", "status", "--output", "json"]) == 0
    report = _json(capsys)
    assert report["exists"] is False and report["total"] == 0
    assert report["events"] == {name: 0 for name in EVENT_TYPE_NAMES}


def test_status_counts_events_by_type(capsys, seeded: Path) -> None:
    assert main(["telemetry", "status", "-o", "json"]) == 0
    report = _json(capsys)
    assert report["database"] == str(seeded)
    assert report["total"] == 12
    assert report["events"] == {
        "session_start": 2, "command_generation": 4, "safety_validation": 2, "backend_error": 2, "session_end": 2,
        "prompt_action": 0,
    }
    assert report["dropped"] == {}
    assert report["size_bytes"] >= seeded.stat().st_size > 0
    assert main(["telemetry", "status"]) == 0
    out = capsys.readouterr().out
    assert "events:    12" in out and "command_generation  4" in out


def test_status_shows_dropped_counts(capsys, caro_home: Path) -> None:
    bad = {**sample_events()[0].row(), "caro_version": "not a version"}
    with TelemetryStore() as store:
        assert store.write(validate_events([*sample_events(), bad], SensitiveContext())).ok
    assert main(["telemetry", "status", "-o", "json"]) == 0
    assert _json(capsys)["dropped"] == {"session_start": 1}


# -- show ------------------------------------------------------------------------------


def test_show_prints_a_table_of_the_last_events(capsys, seeded: Path) -> None:
    assert main(["telemetry", "show", "--last", "3"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].split() == ["ts", "event_type", "fields"]
    assert len(lines) == 4
    assert [line.split()[1] for line in lines[1:]] == ["backend_error", "safety_validation", "session_end"]
    assert "categories=destructive_rm,recursive_operations" in lines[2]
    assert "outcome=command duration_ms=912 executed=false" in lines[3]
    assert SID_NEW not in "\n".join(lines)  # the table shows each type's own fields only


def test_show_defaults_to_the_last_twenty(capsys, caro_home: Path) -> None:
    with TelemetryStore() as store:
        for i in range(4):
            assert store.write(validate_events(sample_events(f"{i:032x}", OLD), SensitiveContext())).ok
    assert main(["telemetry", "show", "-o", "json"]) == 0
    assert len(_json(capsys)) == 20


def test_show_filters_by_type_last_and_since_in_json(capsys, seeded: Path) -> None:
    assert main(["telemetry", "show", "--type", "command_generation", "-o", "json"]) == 0
    rows = _json(capsys)
    assert [(r["event_type"], r["session_id"]) for r in rows] == [("command_generation", SID_OLD)] * 2 + [
        ("command_generation", SID_NEW)
    ] * 2
    assert rows[0]["backend"] == "static" and rows[0]["success"] is False and "risk" not in rows[0]

    assert main(["telemetry", "show", "-t", "session_end", "--last", "1", "-o", "json"]) == 0
    rows = _json(capsys)
    assert len(rows) == 1 and rows[0]["session_id"] == SID_NEW

    assert main(["telemetry", "show", "--since", "1h", "-o", "json"]) == 0
    rows = _json(capsys)
    assert len(rows) == 6 and {r["session_id"] for r in rows} == {SID_NEW}

    assert main(["telemetry", "show", "--since", "2025-03-04", "-o", "json"]) == 0
    assert len(_json(capsys)) == 12
    assert main(["telemetry", "show", "--since", "2025-03-04T05:06:08+00:00", "-o", "json"]) == 0
    assert {r["session_id"] for r in _json(capsys)} == {SID_NEW}


def test_show_refuses_an_unknown_type_or_time(capsys, seeded: Path) -> None:
    assert main(["telemetry", "show", "--type", "prompts"]) == ExitCode.USAGE
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "unknown event type" in err and "session_start" in err
    assert main(["telemetry", "show", "--since", "last tuesday"]) == ExitCode.USAGE
    assert main(["telemetry", "show", "--last", "0"]) == ExitCode.USAGE


def test_show_says_no_events_yet_on_stderr(capsys, caro_home: Path) -> None:
    assert main(["telemetry", "show"]) == 0
    captured = capsys.readouterr()
    assert captured.out == "" and "no events yet" in captured.err
    assert main(["telemetry", "show", "-o", "json"]) == 0
    assert _json(capsys) == []
    assert not state_paths().database.exists()


def test_since_parses_relative_and_iso_times() -> None:
    now = datetime(2025, 3, 4, 12, 0, tzinfo=timezone.utc)
    assert parse_since("90m", now) == now - timedelta(minutes=90)
    assert parse_since("2d", now) == now - timedelta(days=2)
    assert parse_since("1w", now) == now - timedelta(weeks=1)
    assert parse_since("2025-03-04T10:00") == datetime(2025, 3, 4, 10, 0, tzinfo=timezone.utc)
    assert parse_since("2025-03-04T10:00+02:00").utcoffset() == timedelta(hours=2)
    with pytest.raises(CaroError):
        parse_since("soon")


def test_the_type_names_in_the_help_are_the_event_types() -> None:
    assert EVENT_TYPE_NAMES == tuple(e.value for e in EventType)


# -- export ----------------------------------------------------------------------------


def test_export_jsonl_round_trips_the_rows(capsys, seeded: Path) -> None:
    with TelemetryStore() as store:
        stored = store.query()
    assert main(["telemetry", "export"]) == 0
    captured = capsys.readouterr()
    assert [json.loads(line) for line in captured.out.splitlines()] == stored
    assert "exported 12 events" in captured.err


def test_export_csv_to_a_file_round_trips_the_rows(capsys, seeded: Path, tmp_path: Path) -> None:
    target = tmp_path / "out.csv"
    assert main(["telemetry", "export", "--format", "csv", "--output-file", str(target)]) == 0
    assert capsys.readouterr().out == ""
    with TelemetryStore() as store:
        stored = store.query()
    rows = list(csv.DictReader(io.StringIO(target.read_text(encoding="utf-8"))))
    assert len(rows) == len(stored) == 12
    for got, want in zip(rows, stored):
        for key, value in want.items():
            if isinstance(value, bool):
                value = "true" if value else "false"
            elif isinstance(value, list):
                value = json.dumps(value, separators=(",", ":"))
            assert got[key] == ("" if value is None else str(value)), key
        assert all(got[k] == "" for k in got if k not in want)
    assert not (tmp_path / "out.csv.partial").exists()


def test_export_of_a_missing_database_is_empty(capsys, caro_home: Path) -> None:
    assert main(["telemetry", "export", "-f", "csv"]) == 0
    assert capsys.readouterr().out.startswith("id,event_type,ts,session_id,schema_version,")
    assert main(["telemetry", "export"]) == 0
    assert capsys.readouterr().out == ""
    assert main(["telemetry", "export", "-f", "xml"]) == ExitCode.USAGE
    assert not state_paths().database.exists()


# -- clear -----------------------------------------------------------------------------


def test_clear_with_yes_deletes_everything(capsys, seeded: Path) -> None:
    assert main(["telemetry", "clear", "-y"]) == 0
    assert "deleted 12 events" in capsys.readouterr().err
    with TelemetryStore() as store:
        assert store.counts() == {} and store.dropped() == {}
    assert main(["telemetry", "status", "-o", "json"]) == 0
    assert _json(capsys)["total"] == 0


def test_clear_without_a_terminal_needs_yes_and_keeps_the_data(capsys, seeded: Path, monkeypatch) -> None:
    monkeypatch.setattr("sys.stdin", io.StringIO(""))
    assert main(["telemetry", "clear"]) == ExitCode.DECLINED
    assert "pass -y" in capsys.readouterr().err
    with TelemetryStore() as store:
        assert sum(store.counts().values()) == 12


def test_clear_asks_on_a_terminal(capsys, seeded: Path, monkeypatch) -> None:
    class Terminal(io.StringIO):
        def isatty(self) -> bool:
            return True

    monkeypatch.setattr("sys.stdin", Terminal("n\n"))
    assert main(["telemetry", "clear"]) == ExitCode.DECLINED
    assert "Delete all 12 telemetry events?" in capsys.readouterr().err
    monkeypatch.setattr("sys.stdin", Terminal("y\n"))
    assert main(["telemetry", "clear"]) == 0
    with TelemetryStore() as store:
        assert store.counts() == {}


# -- a damaged database ----------------------------------------------------------------


@pytest.mark.parametrize(
    "args", [["status"], ["show"], ["show", "-o", "json"], ["export"], ["export", "-f", "csv"], ["clear", "-y"]]
)
def test_a_corrupt_database_is_a_one_line_error_and_stays_byte_identical(capsys, caro_home: Path, args) -> None:
    path = state_paths().database
    path.parent.mkdir(parents=True)
    garbage = bytes(range(256)) * 64
    path.write_bytes(garbage)
    assert main(["telemetry", *args]) == ExitCode.ERROR
    captured = capsys.readouterr()
    if "json" in args:
        assert json.loads(captured.out)["error"]["code"] == "telemetry_corrupt"
    else:
        assert captured.out == ""
        assert captured.err.count("\n") == 1
        assert captured.err.startswith("caro: error: The telemetry database is damaged") and "hint:" in captured.err
    assert "Traceback" not in captured.err
    assert path.read_bytes() == garbage
    assert sorted(p.name for p in path.parent.iterdir()) == ["telemetry.db"]


def test_a_failed_export_leaves_no_file(capsys, caro_home: Path, tmp_path: Path) -> None:
    path = state_paths().database
    path.parent.mkdir(parents=True)
    path.write_bytes(b"not a database" * 100)
    target = tmp_path / "out.jsonl"
    assert main(["telemetry", "export", "--output-file", str(target)]) == ExitCode.ERROR
    assert not target.exists() and not (tmp_path / "out.jsonl.partial").exists()


# -- enable / disable and what status says ----------------------------------------------


def _status(capsys) -> dict[str, object]:
    assert main(["telemetry", "status", "-o", "json"]) == 0
    return _json(capsys)  # type: ignore[return-value]


def test_enable_and_disable_write_the_user_config(capsys, caro_home: Path) -> None:
    assert main(["telemetry", "enable"]) == 0
    assert "telemetry.enabled = true" in capsys.readouterr().err
    assert "enabled = true" in (caro_home / "config.toml").read_text(encoding="utf-8")
    assert _status(capsys)["reason"] == "enabled in the user config"
    assert main(["telemetry", "disable", "-o", "json"]) == 0
    assert _json(capsys) == {"enabled": False, "debug": False, "reason": "disabled in the user config"}
    assert "enabled = false" in (caro_home / "config.toml").read_text(encoding="utf-8")


@pytest.mark.parametrize(
    "env, reason",
    [({"DO_NOT_TRACK": "1"}, "DO_NOT_TRACK is set"), ({"CARO_TELEMETRY": "0"}, "CARO_TELEMETRY=0 is set")],
)
def test_enable_says_when_the_environment_keeps_it_off(capsys, monkeypatch, env, reason) -> None:
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    assert main(["telemetry", "enable"]) == 0
    assert f"telemetry is still off: {reason}" in capsys.readouterr().err
    status = _status(capsys)
    assert status["enabled"] is False and status["reason"] == reason


def test_status_reflects_debug_mode(capsys, monkeypatch) -> None:
    monkeypatch.setenv("CARO_TELEMETRY_DEBUG", "1")
    status = _status(capsys)
    assert status["enabled"] is False and status["debug"] is True
    assert main(["telemetry", "status"]) == 0
    assert "telemetry: debug (printed, not stored)" in capsys.readouterr().out
    monkeypatch.setenv("DO_NOT_TRACK", "1")
    assert _status(capsys)["debug"] is False


def test_disable_says_when_the_environment_keeps_it_on(capsys, monkeypatch) -> None:
    monkeypatch.setenv("CARO_TELEMETRY_ENABLED", "1")
    assert main(["telemetry", "disable"]) == 0
    assert "telemetry is still on: CARO_TELEMETRY_ENABLED=1 is set" in capsys.readouterr().err


# -- consent rules, one by one and against each other -----------------------------------

ON = {"telemetry.enabled": True}
OFF = {"telemetry.enabled": False}


@pytest.mark.parametrize(
    "values, env, source, expected",
    [
        (OFF, {}, Layer.DEFAULT, Consent(False, False, "off by default")),
        ({}, {}, None, Consent(False, False, "off by default")),
        (OFF, {}, Layer.USER, Consent(False, False, "disabled in the user config")),
        (ON, {}, Layer.USER, Consent(True, False, "enabled in the user config")),
        (ON, {}, None, Consent(True, False, "enabled in the user config")),
        (OFF, {"CARO_TELEMETRY_ENABLED": "1"}, Layer.ENV, Consent(True, False, "CARO_TELEMETRY_ENABLED=1 is set")),
        (ON, {"CARO_TELEMETRY_ENABLED": "0"}, Layer.ENV, Consent(False, False, "CARO_TELEMETRY_ENABLED=0 is set")),
        # DO_NOT_TRACK wins over everything: any non-empty value but 0.
        (ON, {"DO_NOT_TRACK": "1"}, Layer.USER, Consent(False, False, "DO_NOT_TRACK is set")),
        (ON, {"DO_NOT_TRACK": "true"}, Layer.USER, Consent(False, False, "DO_NOT_TRACK is set")),
        (OFF, {"DO_NOT_TRACK": "1", "CARO_TELEMETRY_ENABLED": "1"}, Layer.ENV, Consent(False, False, "DO_NOT_TRACK is set")),
        (ON, {"DO_NOT_TRACK": "1", "CARO_TELEMETRY_DEBUG": "1"}, Layer.USER, Consent(False, False, "DO_NOT_TRACK is set")),
        (ON, {"DO_NOT_TRACK": "0"}, Layer.USER, Consent(True, False, "enabled in the user config")),
        (ON, {"DO_NOT_TRACK": ""}, Layer.USER, Consent(True, False, "enabled in the user config")),
        # CARO_TELEMETRY=0 is an off switch, below DO_NOT_TRACK, above debug and enabling.
        (ON, {"CARO_TELEMETRY": "0"}, Layer.USER, Consent(False, False, "CARO_TELEMETRY=0 is set")),
        (ON, {"CARO_TELEMETRY": "off"}, Layer.USER, Consent(False, False, "CARO_TELEMETRY=0 is set")),
        (OFF, {"CARO_TELEMETRY": "0", "CARO_TELEMETRY_ENABLED": "1"}, Layer.ENV, Consent(False, False, "CARO_TELEMETRY=0 is set")),
        (ON, {"CARO_TELEMETRY": "0", "CARO_TELEMETRY_DEBUG": "1"}, Layer.USER, Consent(False, False, "CARO_TELEMETRY=0 is set")),
        (ON, {"CARO_TELEMETRY": "0", "DO_NOT_TRACK": "1"}, Layer.USER, Consent(False, False, "DO_NOT_TRACK is set")),
        (OFF, {"CARO_TELEMETRY": "1"}, Layer.DEFAULT, Consent(False, False, "off by default")),
    ],
)
def test_consent_precedence(values, env, source, expected: Consent) -> None:
    assert telemetry_state(values, env, source=source) == expected


@pytest.mark.parametrize("values", [ON, OFF])
@pytest.mark.parametrize("debug", ["1", "true", "YES", "on"])
def test_debug_prints_and_stores_nothing_whatever_enabled_says(values, debug) -> None:
    consent = telemetry_state(values, {"CARO_TELEMETRY_DEBUG": debug, "CARO_TELEMETRY_ENABLED": "1"}, source=Layer.USER)
    assert consent.debug is True and consent.enabled is False and consent.records is True
    assert consent.reason.startswith("CARO_TELEMETRY_DEBUG=1 is set")


def test_debug_off_values_change_nothing() -> None:
    assert telemetry_state(ON, {"CARO_TELEMETRY_DEBUG": "0"}, source=Layer.USER) == Consent(
        True, False, "enabled in the user config"
    )
    assert telemetry_state(OFF, {"CARO_TELEMETRY_DEBUG": "0"}).records is False


def test_the_reason_never_holds_an_environment_value() -> None:
    consent = telemetry_state(ON, {"DO_NOT_TRACK": "secret-value-42"}, source=Layer.USER)
    assert "secret-value-42" not in consent.reason


@pytest.mark.parametrize("command", [["telemetry", "show"], ["telemetry", "status"], ["telemetry", "export"]])
def test_reading_commands_load_no_pandas_numpy_or_pandera(seeded: Path, command: list[str]) -> None:
    # They only read SQLite: sqlite-utils would import pandas and numpy (~250 ms), and the
    # store once took its columns from the pandera models (another ~150 ms).
    import subprocess
    import sys

    probe = (
        "import sys\n"
        "from pipeline.cli.main import main\n"
        f"code = main({command!r})\n"
        "print(code, sorted(m for m in ('pandas', 'numpy', 'pandera') if m in sys.modules), file=sys.stderr)\n"
    )
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    assert done.stderr.strip().splitlines()[-1] == "0 []"
    assert "session_start" in done.stdout or "events" in done.stdout


def test_the_store_columns_are_the_pandera_models_columns() -> None:
    # The store takes each type's columns from the event classes (no pandera import); they
    # must be exactly the columns the validator lets through, in the same order.
    from pipeline.telemetry.schemas import MODELS
    from pipeline.telemetry.store import COMMON_COLUMNS, TYPE_COLUMNS

    assert TYPE_COLUMNS == {
        kind: tuple(c for c in model.to_schema().columns if c not in COMMON_COLUMNS) for kind, model in MODELS.items()
    }
