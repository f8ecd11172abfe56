"""The telemetry schemas: every event type validates; anything else is dropped and only counted."""

from __future__ import annotations

import json
import re
from datetime import datetime, timezone

import pandas as pd
import pytest

from pipeline.telemetry.events import Arch, Backend, BackendError, CommandGeneration, Event, GenerationFailure, OsFamily, SafetyValidation, SessionEnd, SessionStart, architecture, new_session_id, os_family, utc_timestamp

from pipeline.telemetry.privacy import SensitiveContext

from pipeline.telemetry.schemas import validate_events
from pipeline.telemetry.privacy import leak_free
from pipeline.telemetry.schemas import MODELS, UNKNOWN_TYPE
from pipeline.values import Action, Category, GenerationErrorKind, Outcome, Risk, SafetyLevel

SID = "0f1e2d3c4b5a69788796a5b4c3d2e1f0"
TS = "2025-03-04T05:06:07.089Z"
NOTHING = SensitiveContext()


def sample_events(session_id: str = SID, ts: str = TS) -> list[Event]:
    """One request's worth of valid events, one of each type (two generations)."""
    return [
        SessionStart(
            session_id=session_id, ts=ts, caro_version="0.1.0", os=OsFamily.LINUX, arch=Arch.X86_64,
            backends=(Backend.LLAMA_CPP, Backend.STATIC), safety_level=SafetyLevel.MODERATE,
        ),
        CommandGeneration(
            session_id=session_id, ts=ts, backend=Backend.STATIC, duration_ms=3, success=False,
            error_category=GenerationFailure.VALIDATION_ERROR, refine_ran=False, refine_changed=False,
        ),
        CommandGeneration(
            session_id=session_id, ts=ts, backend=Backend.LLAMA_CPP, duration_ms=840, success=True,
            error_category=None, refine_ran=True, refine_changed=True,
        ),
        BackendError(
            session_id=session_id, ts=ts, backend=Backend.VLLM, error_category=GenerationErrorKind.TIMEOUT,
            recoverable=True,
        ),
        SafetyValidation(
            session_id=session_id, ts=ts, risk=Risk.HIGH, action=Action.CONFIRM,
            categories=(Category.RECURSIVE_OPERATIONS, Category.DESTRUCTIVE_RM),
        ),
        SessionEnd(session_id=session_id, ts=ts, outcome=Outcome.COMMAND, duration_ms=912, executed=False),
    ]


def _row(kind: str, **changes: object) -> dict[str, object]:
    """The sample row of `kind` with some fields changed (a field set to ... is removed)."""
    row = next(e.row() for e in sample_events() if e.event_type.value == kind)
    row.update(changes)
    return {k: v for k, v in row.items() if v is not ...}


def _only_dropped(rows: list[object], sensitive: SensitiveContext = NOTHING) -> dict[str, int]:
    """Validate the good sample events plus `rows`; assert every good one survived; the drops."""
    good = sample_events()
    batch = validate_events([*good, *rows], sensitive)
    assert batch.row_count == len(good)
    assert sorted(r for rs in batch.rows.values() for r in map(str, rs)) == sorted(str(e.row()) for e in good)
    return batch.dropped


def test_every_event_type_validates_and_keeps_its_values() -> None:
    batch = validate_events(sample_events(), NOTHING)
    assert batch.dropped == {}
    assert {k: len(v) for k, v in batch.rows.items()} == {
        "session_start": 1, "command_generation": 2, "backend_error": 1, "safety_validation": 1, "session_end": 1,
    }
    start = batch.rows["session_start"][0]
    assert start["backends"] == '["llama_cpp","static"]'
    assert batch.rows["safety_validation"][0]["risk"] == "high"
    assert batch.rows["safety_validation"][0]["categories"] == '["destructive_rm","recursive_operations"]'
    assert batch.rows["command_generation"][1]["error_category"] is None


def test_helpers_make_values_of_the_stored_formats() -> None:
    ids = {new_session_id() for _ in range(100)}
    assert len(ids) == 100 and all(re.fullmatch("[0-9a-f]{32}", i) for i in ids)
    moment = datetime(2025, 1, 31, 9, 5, 7, 42_999, tzinfo=timezone.utc)
    assert utc_timestamp(moment) == "2025-01-31T09:05:07.042Z"
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", utc_timestamp())
    assert os_family("Darwin") is OsFamily.MACOS and os_family("SunOS") is OsFamily.OTHER
    assert architecture("aarch64") is Arch.ARM64 and architecture("AMD64") is Arch.X86_64
    assert architecture("riscv64") is Arch.OTHER


@pytest.mark.parametrize(
    ("kind", "field", "value"),
    [
        ("session_start", "os", "Linux"),
        ("session_start", "arch", "i686"),
        ("session_start", "safety_level", "paranoid"),
        ("session_start", "backends", '["static","ollama"]'),
        ("session_start", "backends", '["passthrough"]'),  # a mode, not a configurable backend
        ("command_generation", "backend", "openai"),
        ("command_generation", "error_category", "oom"),  # a backend_error kind, not a generation one
        ("backend_error", "error_category", "validation_error"),
        ("backend_error", "backend", ""),
        ("safety_validation", "risk", "extreme"),
        ("safety_validation", "risk", 3),
        ("safety_validation", "action", "allow"),
        ("safety_validation", "categories", '["fork_bomb"]'),
        ("session_end", "outcome", "success"),
        ("session_start", "event_type", "session_end"),  # a row must match its type's model
    ],
)
def test_a_value_outside_its_closed_set_is_dropped_and_counted(kind: str, field: str, value: object) -> None:
    dropped = _only_dropped([_row(kind, **{field: value})])
    expected_kind = "session_end" if field == "event_type" else kind
    assert dropped == {expected_kind: 1}


@pytest.mark.parametrize(
    ("kind", "field"),
    [
        ("command_generation", "backend"),
        ("command_generation", "error_category"),
        ("backend_error", "error_category"),
        ("session_end", "outcome"),
        ("session_start", "caro_version"),
    ],
)
def test_free_text_in_a_closed_or_formatted_column_is_dropped(kind: str, field: str) -> None:
    text = "connection refused by build-server-7 while loading /opt/models/x.gguf"
    assert _only_dropped([_row(kind, **{field: text})]) == {kind: 1}


@pytest.mark.parametrize(
    "session_id",
    [
        SID.upper(),
        SID[:-1],
        SID + "0",
        SID[:-1] + "g",
        SID + "\n",
        "0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0",  # a UUID spelling
        None,
        12345,
    ],
)
def test_a_malformed_session_id_is_dropped(session_id: object) -> None:
    assert _only_dropped([_row("session_end", session_id=session_id)]) == {"session_end": 1}


@pytest.mark.parametrize(
    "ts",
    [
        "2025-03-04T05:06:07.089",  # no zone
        "2025-03-04T05:06:07.089+00:00",
        "2025-03-04 05:06:07.089Z",
        "2025-03-04T05:06:07Z",
        "2025-03-04T05:06:07.089123Z",
        "2025-13-04T05:06:07.089Z",
        "2025-02-30T05:06:07.089Z",  # no such day
        "2025-03-04T24:06:07.089Z",
        TS + "\n",
        1741064767089,
        "yesterday",
    ],
)
def test_a_malformed_timestamp_is_dropped(ts: object) -> None:
    assert _only_dropped([_row("backend_error", ts=ts)]) == {"backend_error": 1}


@pytest.mark.parametrize(
    ("kind", "changes"),
    [
        ("command_generation", {"duration_ms": -1}),
        ("command_generation", {"duration_ms": "12"}),
        ("command_generation", {"duration_ms": 1.5}),
        ("command_generation", {"duration_ms": 10**12}),
        ("command_generation", {"success": "yes"}),
        ("command_generation", {"success": 1}),
        ("command_generation", {"refine_ran": None}),
        ("backend_error", {"recoverable": "true"}),
        ("session_end", {"executed": 0}),
        ("session_end", {"schema_version": 99}),
        ("session_start", {"backends": '["static", "vllm"]'}),  # not the canonical spelling
        ("session_start", {"backends": '["vllm","static"]'}),  # not sorted
        ("session_start", {"backends": '["static","static"]'}),
        ("session_start", {"backends": "static"}),
        ("safety_validation", {"categories": '{"network": 1}'}),
    ],
)
def test_a_value_of_the_wrong_type_or_range_is_dropped(kind: str, changes: dict[str, object]) -> None:
    assert _only_dropped([_row(kind, **changes)]) == {kind: 1}


def test_extra_or_missing_columns_drop_only_those_rows() -> None:
    extra = _row("session_end", note="user asked to clean the downloads folder")
    missing = _row("session_end", executed=...)
    assert _only_dropped([extra, extra, missing]) == {"session_end": 3}


def test_rows_of_no_known_type_are_counted_as_unknown_and_their_type_is_not_kept() -> None:
    dropped = _only_dropped([{"event_type": "/home/alice/secret"}, {"no_type": 1}, "session_start", 42])
    assert dropped == {UNKNOWN_TYPE: 4}


def test_bad_rows_mixed_among_good_ones_of_the_same_type_drop_alone() -> None:
    # A string among integers makes the whole column's dtype wrong; only its row may go.
    good = [_row("session_end", duration_ms=n) for n in range(20)]
    bad = [_row("session_end", duration_ms="ninety"), _row("session_end", executed="no")]
    batch = validate_events([*good[:7], bad[0], *good[7:15], bad[1], *good[15:]], NOTHING)
    assert batch.dropped == {"session_end": 2}
    assert [r["duration_ms"] for r in batch.rows["session_end"]] == list(range(20))


CONTEXT = SensitiveContext(
    request="compress the quarterly reports for Brunhilde",
    command="tar czf reports.tgz ~/Documents/quarterly",
    cwd="/srv/projects/zanzibar",
    home="/home/brunhilde",
    user="brunhilde",
    host="orchid-workstation.corp.example",
    env_values=("s3cr3t-t0ken-value", "/opt/tooling/bin:/usr/bin"),
)


@pytest.mark.parametrize(
    "leak",
    [
        "compress the quarterly reports for Brunhilde",  # the request
        "quarterly",  # a word of it
        "tar czf reports.tgz ~/Documents/quarterly",  # the command
        "reports.tgz",  # a word of the command
        "/srv/projects/zanzibar",  # cwd
        "zanzibar",  # a component of it
        "/home/brunhilde",  # home
        "brunhilde",  # user
        "orchid-workstation.corp.example",  # host
        "orchid-workstation",
        "s3cr3t-t0ken-value",  # an environment value
        "/opt/tooling/bin",  # an entry of a PATH-like one
    ],
)
def test_a_row_holding_any_part_of_the_sensitive_context_is_dropped(leak: str) -> None:
    # In a closed column the schema refuses it; the privacy check refuses it in any column.
    assert _only_dropped([_row("backend_error", backend=leak)], CONTEXT) == {"backend_error": 1}
    frame = pd.DataFrame([{"note": f"while handling {leak.upper()} again"}, {"note": "nothing here"}])
    assert leak_free(frame, CONTEXT.needles()).tolist() == [False, True]


def test_the_privacy_check_catches_what_the_formats_let_through() -> None:
    # A hex API key in the environment, smuggled inside a well-formed session id; and a dated
    # folder in the cwd that is also the timestamp's date.
    key = "9f8e7d6c5b4a3f2e1d0c"
    smuggled = _row("session_end", session_id=key + "0" * 12)
    assert _only_dropped([smuggled], SensitiveContext(env_values=(key,))) == {"session_end": 1}
    dated = _row("session_end", ts="2025-11-30T10:00:00.000Z")
    assert _only_dropped([dated], SensitiveContext(cwd="/data/2025-11-30/raw")) == {"session_end": 1}


def test_public_words_and_chance_fragments_do_not_drop_rows() -> None:
    # "safe", "static" and "command" are category names; "add" and "2025" turn up by chance
    # in a random session id and in this year's timestamps. None of them is a leak.
    context = SensitiveContext(
        request="add a safe static command", command="echo add", cwd="/home/u/2025", user="u", host="ab"
    )
    events = sample_events(session_id="add" + "0" * 29, ts="2025-06-07T08:09:10.111Z")
    events.append(SafetyValidation(session_id=SID, ts=TS, risk=Risk.SAFE, action=Action.ALLOWED, categories=()))
    assert validate_events(events, context).dropped == {}


def test_every_text_column_is_a_closed_set_or_a_fixed_format() -> None:
    for kind, model in MODELS.items():
        schema = model.to_schema()
        assert schema.strict is True, kind
        for name, column in schema.columns.items():
            if str(column.dtype) not in {"str", "string", "string[python]"}:
                continue
            checks = {c.name for c in column.checks}
            constrained = checks & {"isin", "str_matches", "configurable_backends", "safety_categories"}
            assert constrained, f"{kind}.{name} would accept free text"
            if "str_matches" in checks:
                pattern = next(c for c in column.checks if c.name == "str_matches").statistics["pattern"]
                # \Z, not $: `$` also matches before a trailing newline.
                assert pattern.startswith("^") and pattern.endswith("\\Z"), f"{kind}.{name}"


def test_list_values_are_stored_as_canonical_json() -> None:
    event = SafetyValidation(
        session_id=SID, ts=TS, risk=Risk.CRITICAL, action=Action.BLOCKED,
        categories=(Category.NETWORK, Category.DATA_EXFILTRATION, Category.NETWORK),
    )
    assert json.loads(str(event.row()["categories"])) == ["data_exfiltration", "network"]
    assert validate_events([event], NOTHING).row_count == 1


def test_a_trailing_newline_never_passes_a_fixed_format() -> None:
    # The formats are anchored with \Z: with `$`, "value\n" would match and smuggle a line.
    rows = [
        _row("session_end", session_id=SID + "\n"),
        _row("session_end", ts=TS + "\n"),
        _row("session_start", caro_version="0.1.0\n"),
        _row("session_start", caro_version="0.1.0\nhost"),
    ]
    assert _only_dropped(rows) == {"session_end": 2, "session_start": 2}
