"""The schemas of the telemetry tables, one pandera model per event type, and the validator.

No column holds free text: every text column is either one of a closed set of values or a
fixed format (hex session id, UTC timestamp, release version); lists are canonical JSON arrays
whose items come from a closed set. `validate_events` drops every row that breaks a schema or
contains a fragment of the request's sensitive context, and counts what it dropped by type.
"""

from __future__ import annotations

import importlib.util
import json
import sys
from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping
from datetime import date

import pandas as pd
import pandera.pandas as pa
from pandera import dtypes
from pandera.engines import pandas_engine
from pandera.errors import SchemaErrors
from pandera.typing import Series

from pipeline.telemetry.events import (  # TS_RE, UNKNOWN_TYPE, ValidatedBatch: re-exported
    CONFIGURABLE_BACKENDS,
    SCHEMA_VERSION,
    TS_RE,
    UNKNOWN_TYPE,
    ValidatedBatch,
    Arch,
    Backend,
    EventType,
    GenerationFailure,
    OsFamily,
    PromptChoice,
    _Event,
    _plain,
)
from pipeline.telemetry.privacy import Needles, SensitiveContext, leak_free
from pipeline.values import Action, Category, GenerationErrorKind, Outcome, Risk, SafetyLevel


def _note_absent_geopandas() -> None:
    """Tell Python once that geopandas is absent, when it is.

    pandera asks for geopandas in every column's dtype check, and Python does not remember a
    failed import: each check searched the file system again (~0.15 ms a column, a third of a
    small validation). A `None` in `sys.modules` makes the import fail at once, exactly as it
    would have. Left alone when geopandas is installed or already imported.
    """
    if "geopandas" not in sys.modules and importlib.util.find_spec("geopandas") is None:
        sys.modules["geopandas"] = None  # type: ignore[assignment]


_note_absent_geopandas()

SESSION_ID_RE = r"^[0-9a-f]{32}\Z"
# A release version: PEP 440 without a local label (`+...` may carry a branch or host name)
# and with at most three numbers, so that it cannot hold an IPv4 address.
VERSION_RE = r"^[0-9]{1,4}(\.[0-9]{1,4}){1,2}((a|b|rc)[0-9]{1,4})?(\.post[0-9]{1,4})?(\.dev[0-9]{1,6})?\Z"
# Bounds that no real duration reaches (a week), so a number smuggled into one stands out.
MAX_DURATION_MS = 7 * 24 * 3600 * 1000


@pandas_engine.Engine.register_dtype
@dtypes.immutable(init=True)
class Text(pandas_engine.STRING):
    """pandas' string dtype, with a dtype check that answers "all good" in one word when it is.

    pandera judges a string column value by value and then formats a report of the failures
    even when there are none (about 0.5 ms a column, most of a small validation). This check
    returns True when every value passed, and the per-value answer, as before, when one did not,
    so a bad row is still named.
    """

    def check(self, pandera_dtype: dtypes.DataType, data_container: object = None) -> object:
        result = super().check(pandera_dtype, data_container)
        if isinstance(result, bool):
            return result
        return True if bool(result.all()) else result  # type: ignore[union-attr]


def _values(enum: Iterable[object]) -> list[str]:
    return [getattr(e, "label", None) or e.value for e in enum]  # type: ignore[attr-defined]


def _is_date(text: object) -> bool:
    try:
        date.fromisoformat(text)  # type: ignore[arg-type]
        return True
    except (TypeError, ValueError):
        return False


def _canonical_lists(column: Series[str], allowed: frozenset[str]) -> Series[bool]:
    """Per value, whether it is a canonical list of `allowed` items (each distinct value judged once)."""
    try:
        verdicts = {v: _is_canonical_list(v, allowed) for v in column.unique()}
    except TypeError:  # an unhashable value: judge every row
        return column.map(lambda v: _is_canonical_list(v, allowed)).astype(bool)
    return column.map(verdicts).astype(bool)


def _is_canonical_list(value: object, allowed: frozenset[str]) -> bool:
    """True for a JSON array of distinct allowed strings in canonical (sorted, compact) form."""
    if not isinstance(value, str):
        return False
    try:
        items = json.loads(value)
    except ValueError:
        return False
    return (
        isinstance(items, list)
        and all(isinstance(i, str) and i in allowed for i in items)
        and value == json.dumps(sorted(set(items)), separators=(",", ":"))
    )


class EventRow(pa.DataFrameModel):
    """Columns every event row has."""

    event_type: Series[Text] = pa.Field(isin=_values(EventType))
    # Anchored with \Z, not $: `$` also matches before a trailing newline.
    session_id: Series[Text] = pa.Field(str_matches=SESSION_ID_RE)
    ts: Series[Text] = pa.Field(str_matches=TS_RE)
    schema_version: Series[int] = pa.Field(ge=1, le=SCHEMA_VERSION)

    @pa.check("ts", name="real_date")
    def _real_date(cls, ts: Series[str]) -> Series[bool]:
        # The pattern bounds each part; only the day of the month needs a calendar (no Feb 30).
        # A batch spans few days, so each distinct date is checked once.
        dates = ts.str.slice(0, 10)
        try:
            verdicts = {d: _is_date(d) for d in dates.unique()}
        except TypeError:
            return dates.map(_is_date).astype(bool)
        return dates.map(verdicts).astype(bool)

    class Config:
        strict = True


class SessionStartRow(EventRow):
    """A `session_start` row."""

    event_type: Series[Text] = pa.Field(isin=[EventType.SESSION_START.value])
    caro_version: Series[Text] = pa.Field(str_matches=VERSION_RE)
    os: Series[Text] = pa.Field(isin=_values(OsFamily))
    arch: Series[Text] = pa.Field(isin=_values(Arch))
    backends: Series[Text]
    safety_level: Series[Text] = pa.Field(isin=_values(SafetyLevel))

    @pa.check("backends", name="configurable_backends")
    def _backends(cls, backends: Series[str]) -> Series[bool]:
        return _canonical_lists(backends, frozenset(_values(CONFIGURABLE_BACKENDS)))


class CommandGenerationRow(EventRow):
    """A `command_generation` row."""

    event_type: Series[Text] = pa.Field(isin=[EventType.COMMAND_GENERATION.value])
    backend: Series[Text] = pa.Field(isin=_values(Backend))
    duration_ms: Series[int] = pa.Field(ge=0, le=MAX_DURATION_MS)
    success: Series[bool]
    error_category: Series[Text] = pa.Field(isin=_values(GenerationFailure), nullable=True)
    refine_ran: Series[bool]
    refine_changed: Series[bool]


class SafetyValidationRow(EventRow):
    """A `safety_validation` row."""

    event_type: Series[Text] = pa.Field(isin=[EventType.SAFETY_VALIDATION.value])
    risk: Series[Text] = pa.Field(isin=_values(Risk))
    action: Series[Text] = pa.Field(isin=_values(Action))
    categories: Series[Text]

    @pa.check("categories", name="safety_categories")
    def _categories(cls, categories: Series[str]) -> Series[bool]:
        return _canonical_lists(categories, frozenset(_values(Category)))


class BackendErrorRow(EventRow):
    """A `backend_error` row."""

    event_type: Series[Text] = pa.Field(isin=[EventType.BACKEND_ERROR.value])
    backend: Series[Text] = pa.Field(isin=_values(Backend))
    error_category: Series[Text] = pa.Field(isin=_values(GenerationErrorKind))
    recoverable: Series[bool]


class SessionEndRow(EventRow):
    """A `session_end` row."""

    event_type: Series[Text] = pa.Field(isin=[EventType.SESSION_END.value])
    outcome: Series[Text] = pa.Field(isin=_values(Outcome))
    duration_ms: Series[int] = pa.Field(ge=0, le=MAX_DURATION_MS)
    executed: Series[bool]


class PromptActionRow(EventRow):
    """A `prompt_action` row."""

    event_type: Series[Text] = pa.Field(isin=[EventType.PROMPT_ACTION.value])
    choice: Series[Text] = pa.Field(isin=_values(PromptChoice))


MODELS: dict[str, type[EventRow]] = {
    EventType.SESSION_START.value: SessionStartRow,
    EventType.COMMAND_GENERATION.value: CommandGenerationRow,
    EventType.SAFETY_VALIDATION.value: SafetyValidationRow,
    EventType.BACKEND_ERROR.value: BackendErrorRow,
    EventType.SESSION_END.value: SessionEndRow,
    EventType.PROMPT_ACTION.value: PromptActionRow,
}


def validate_events(
    events: Iterable[_Event | Mapping[str, object]], sensitive: SensitiveContext
) -> ValidatedBatch:
    """The rows of `events` that pass their schema and the privacy check; the rest only counted.

    Never raises for a bad row. Rows are grouped by type and by their set of keys, so a row
    with an extra or a missing column fails as a whole group (the models are strict) without
    dragging down well-formed rows of the same type. (Keys in another order make another
    group, which validates the same way.)
    """
    needles = sensitive.needles()
    groups: dict[tuple[str, tuple[str, ...]], list[dict[str, object]]] = defaultdict(list)
    dropped: Counter[str] = Counter()
    for event in events:
        row = _row_of(event)
        kind = row.get("event_type") if row is not None else None
        if row is None or not isinstance(kind, str) or kind not in MODELS:
            dropped[UNKNOWN_TYPE] += 1
            continue
        groups[(kind, tuple(row))].append(row)

    valid: dict[str, list[dict[str, object]]] = defaultdict(list)
    sensitive: Counter[str] = Counter()
    schemas = {kind: _schema(kind, needles) for kind in {kind for kind, _ in groups}}
    for (kind, keys), rows in groups.items():
        if set(keys) != set(schemas[kind].columns):
            # Strict models refuse a frame with other columns whole; no need to ask pandera.
            dropped[kind] += len(rows)
            continue
        bad = _failing_rows(schemas[kind], rows, list(range(len(rows))))
        dropped[kind] += len(bad)
        sensitive[kind] += _leaking(rows, bad, needles)
        # No column coerces, so the rows that passed are stored exactly as they were checked.
        valid[kind].extend(row for i, row in enumerate(rows) if i not in bad)
    return ValidatedBatch(
        {k: v for k, v in valid.items() if v}, {k: n for k, n in dropped.items() if n}, {k: n for k, n in sensitive.items() if n}
    )


def _leaking(rows: list[dict[str, object]], bad: set[int], needles: Needles) -> int:
    """How many of the dropped rows hold a sensitive fragment (the rest failed their schema).

    Searched again only when rows were dropped, so a clean batch pays nothing for the count.
    """
    if not bad or needles.pattern is None:
        return 0
    dropped = [rows[i] for i in sorted(bad)]
    frame = pd.DataFrame({key: [row[key] for row in dropped] for key in dropped[0]})
    return int((~leak_free(frame, needles)).sum())


def _row_of(event: object) -> dict[str, object] | None:
    if isinstance(event, _Event):
        return event.row()
    if isinstance(event, Mapping) and all(isinstance(k, str) for k in event):
        return {k: _plain(v) for k, v in event.items()}
    return None


def _schema(kind: str, needles: Needles) -> pa.DataFrameSchema:
    """The model of `kind` as a schema, plus the privacy check for this request.

    Building one copies the model's columns (a few ms); a bulk writer validating many batches
    against the same context reuses the last one built for each type.
    """
    cached = _LAST_SCHEMA.get(kind)
    if cached is not None and cached[0] == needles:
        return cached[1]
    schema = _built_schema(kind, needles)
    _LAST_SCHEMA[kind] = (needles, schema)
    return schema


_LAST_SCHEMA: dict[str, tuple[Needles, pa.DataFrameSchema]] = {}


def _built_schema(kind: str, needles: Needles) -> pa.DataFrameSchema:
    base = MODELS[kind].to_schema()
    privacy = pa.Check(lambda frame: leak_free(frame, needles), name="no_sensitive_values")
    return pa.DataFrameSchema(
        columns=base.columns, checks=[*base.checks, privacy], strict=base.strict, name=base.name, coerce=base.coerce
    )


# Failures that concern the frame's columns, not any row: every row of the group fails.
_FRAME_CHECKS = {"column_in_schema", "column_in_dataframe"}


def _failing_rows(schema: pa.DataFrameSchema, rows: list[dict[str, object]], index: list[int]) -> set[int]:
    """The positions (among `index`) of the rows that fail `schema`.

    Most failures name their row. A few do not (a column's dtype is wrong because some rows
    hold the wrong type of value): then the named rows are set aside and the rest is halved
    until the culprits are single rows. Each part is a new frame, so pandas infers its dtypes
    afresh; this costs extra validations only when bad rows are present.
    """
    try:
        whole = len(index) == len(rows)  # the first call: every row, in order
        part = rows if whole else [rows[i] for i in index]
        # Column by column: several times faster than a frame built from row dicts. Every row
        # of a group has the same keys (validate_events groups them so).
        frame = pd.DataFrame({key: [row[key] for row in part] for key in part[0]}, index=None if whole else index)
        schema.validate(frame, lazy=True)
        return set()
    except SchemaErrors as err:
        cases = err.failure_cases
    if cases["check"].isin(_FRAME_CHECKS).any() or len(index) == 1:
        return set(index)
    located = cases["index"].dropna()
    named = {int(i) for i in located}
    if len(located) == len(cases):
        return named
    rest = [i for i in index if i not in named]
    if not rest:
        return named
    middle = max(1, len(rest) // 2)
    halves = (rest[:middle], rest[middle:]) if len(rest) > 1 else (rest,)
    return named.union(*(_failing_rows(schema, rows, part) for part in halves))
