"""The telemetry events: what caro records about a request, and nothing about its content.

Every field is a closed category, a bounded number, a flag, a random session id or a UTC
timestamp; there is no field that could hold the user's words, a command, a path, a name or
an environment value. `schemas.py` enforces the same on the rows before anything is stored.
"""

from __future__ import annotations

import json
import platform
import secrets
from dataclasses import dataclass, fields
from datetime import datetime, timezone
from enum import Enum
from functools import cache, lru_cache
from typing import ClassVar, NamedTuple, TypeAlias

from pipeline.values import Action, Category, GenerationErrorKind, Outcome, Risk, SafetyLevel

SCHEMA_VERSION = 1
# A stored timestamp (see utc_timestamp); \Z, not $, which also matches before a trailing newline.
TS_RE = r"^[0-9]{4}-(0[1-9]|1[0-2])-(0[1-9]|[12][0-9]|3[01])T([01][0-9]|2[0-3]):[0-5][0-9]:[0-5][0-9]\.[0-9]{3}Z\Z"
# The event type under which rows of no known type are counted (their own value is not stored).
UNKNOWN_TYPE = "unknown"


class EventType(str, Enum):
    """The kinds of telemetry event; one table row each, told apart by this value."""

    SESSION_START = "session_start"
    COMMAND_GENERATION = "command_generation"
    SAFETY_VALIDATION = "safety_validation"
    BACKEND_ERROR = "backend_error"
    SESSION_END = "session_end"
    PROMPT_ACTION = "prompt_action"


class OsFamily(str, Enum):
    """The operating-system family, coarse on purpose (no release or kernel version)."""

    LINUX = "linux"
    MACOS = "macos"
    WINDOWS = "windows"
    OTHER = "other"


class Arch(str, Enum):
    """The CPU architecture family."""

    X86_64 = "x86_64"
    ARM64 = "arm64"
    OTHER = "other"


class Backend(str, Enum):
    """What produced (or tried to produce) a command."""

    STATIC = "static"
    LLAMA_CPP = "llama_cpp"
    VLLM = "vllm"
    PASSTHROUGH = "passthrough"


# Backends a user can configure; passthrough is a mode of the request, not a setting.
CONFIGURABLE_BACKENDS: tuple[Backend, ...] = (Backend.STATIC, Backend.LLAMA_CPP, Backend.VLLM)


class GenerationFailure(str, Enum):
    """Why a command_generation produced no command."""

    TIMEOUT = "timeout"
    PARSE_ERROR = "parse_error"
    BACKEND_ERROR = "backend_error"
    VALIDATION_ERROR = "validation_error"


class PromptChoice(str, Enum):
    """What the user chose at the interactive prompt (`pipeline/cli/interactive.py`), never what they typed."""

    RUN = "run"
    EDIT = "edit"
    REVISE = "revise"
    EXPLAIN = "explain"
    COPY = "copy"
    QUIT = "quit"


def new_session_id() -> str:
    """A fresh random session id: 32 lowercase hex characters, unrelated to the machine or user."""
    return secrets.token_hex(16)


def utc_timestamp(moment: datetime | None = None) -> str:
    """A UTC timestamp as stored: ISO 8601 with milliseconds and `Z` (`2025-01-31T09:05:07.042Z`).

    One fixed width and zone, so text order is time order and `since` filters in SQL.
    """
    when = (moment or datetime.now(timezone.utc)).astimezone(timezone.utc)
    return when.strftime("%Y-%m-%dT%H:%M:%S.") + f"{when.microsecond // 1000:03d}Z"


def os_family(system: str | None = None) -> OsFamily:
    """The OS family of `platform.system()` (or of the name given)."""
    name = (platform.system() if system is None else system).lower()
    return {"linux": OsFamily.LINUX, "darwin": OsFamily.MACOS, "windows": OsFamily.WINDOWS}.get(name, OsFamily.OTHER)


def architecture(machine: str | None = None) -> Arch:
    """The architecture family of `platform.machine()` (or of the name given)."""
    name = (platform.machine() if machine is None else machine).lower()
    if name in {"x86_64", "amd64"}:
        return Arch.X86_64
    if name in {"arm64", "aarch64"}:
        return Arch.ARM64
    return Arch.OTHER


def canonical_list(items: object) -> str | None:
    """A list of categories as stored: sorted, unique, compact JSON (`["a","b"]`); None if not a list of str.

    One spelling per set, so equal sets compare equal in SQL and the validator can insist on it.
    """
    if type(items) is tuple:
        try:
            return _canonical_tuple(items)
        except TypeError:  # an unhashable item
            pass
    return _canonical(items)


@lru_cache(maxsize=4096)
def _canonical_tuple(items: tuple[object, ...]) -> str | None:
    return _canonical(items)


def _canonical(items: object) -> str | None:
    if isinstance(items, (str, bytes)) or not hasattr(items, "__iter__"):
        return None
    values = [_plain(item) for item in items]  # type: ignore[union-attr]
    if not all(isinstance(v, str) for v in values):
        return None
    return json.dumps(sorted(set(values)), separators=(",", ":"))


_AS_IS = frozenset({str, int, bool, float, type(None)})
_RISK_LABELS = {risk: risk.label for risk in Risk}


def _plain(value: object) -> object:
    """The stored form of a field value: enums by their text, everything else as it is."""
    kind = type(value)
    if kind in _AS_IS:
        return value
    if kind is Risk:
        return _RISK_LABELS[value]  # type: ignore[index]
    enum = _IS_ENUM.get(kind)
    if enum is None:  # first value of this type (isinstance on enums is slow in bulk)
        enum = _IS_ENUM[kind] = issubclass(kind, Enum)
    return value._value_ if enum else value  # type: ignore[attr-defined]  # `.value` is a slower descriptor


_IS_ENUM: dict[type, bool] = {}


@dataclass(frozen=True, kw_only=True)
class _Event:
    """Fields every event carries."""

    event_type: ClassVar[EventType]
    list_fields: ClassVar[tuple[str, ...]] = ()

    session_id: str
    ts: str
    schema_version: int = SCHEMA_VERSION

    def row(self) -> dict[str, object]:
        """This event as a flat row: enum values as text, lists as canonical JSON."""
        # Hot in bulk writes (a demo database of a million events): read the instance dict
        # directly and convert only what is not already plain.
        out: dict[str, object] = {"event_type": self.event_type._value_}
        values = self.__dict__
        lists = self.list_fields
        for name in _field_names(type(self)):
            value = values[name]
            if name in lists:
                value = canonical_list(value)
            elif type(value) not in _AS_IS:
                value = _plain(value)
            out[name] = value
        return out


@cache
def _field_names(cls: type[_Event]) -> tuple[str, ...]:
    return tuple(f.name for f in fields(cls))


@dataclass(frozen=True, kw_only=True)
class SessionStart(_Event):
    """A caro process started handling a request."""

    event_type: ClassVar[EventType] = EventType.SESSION_START
    list_fields: ClassVar[tuple[str, ...]] = ("backends",)

    caro_version: str
    os: OsFamily
    arch: Arch
    backends: tuple[Backend, ...]
    safety_level: SafetyLevel


@dataclass(frozen=True, kw_only=True)
class CommandGeneration(_Event):
    """One attempt to produce a command, by the static table, a model or passthrough."""

    event_type: ClassVar[EventType] = EventType.COMMAND_GENERATION

    backend: Backend
    duration_ms: int
    success: bool
    error_category: GenerationFailure | None
    refine_ran: bool
    refine_changed: bool


@dataclass(frozen=True, kw_only=True)
class SafetyValidation(_Event):
    """The safety stage's verdict on the command, by category only."""

    event_type: ClassVar[EventType] = EventType.SAFETY_VALIDATION
    list_fields: ClassVar[tuple[str, ...]] = ("categories",)

    risk: Risk
    action: Action
    categories: tuple[Category, ...]


@dataclass(frozen=True, kw_only=True)
class BackendError(_Event):
    """A model backend failed, recovered from or not."""

    event_type: ClassVar[EventType] = EventType.BACKEND_ERROR

    backend: Backend
    error_category: GenerationErrorKind
    recoverable: bool


@dataclass(frozen=True, kw_only=True)
class SessionEnd(_Event):
    """How the request ended and how long it took in all."""

    event_type: ClassVar[EventType] = EventType.SESSION_END

    outcome: Outcome
    duration_ms: int
    executed: bool


@dataclass(frozen=True, kw_only=True)
class PromptAction(_Event):
    """One choice the user made at the interactive prompt: which action, by name only."""

    event_type: ClassVar[EventType] = EventType.PROMPT_ACTION

    choice: PromptChoice


Event: TypeAlias = SessionStart | CommandGeneration | SafetyValidation | BackendError | SessionEnd | PromptAction

EVENT_CLASSES: dict[EventType, type[_Event]] = {
    cls.event_type: cls for cls in (SessionStart, CommandGeneration, SafetyValidation, BackendError, SessionEnd, PromptAction)
}

# Every text value a stored row may hold in a closed column. Public by construction: seeing one
# of these in the database says nothing about a request (the privacy check relies on that).
VOCABULARY: frozenset[str] = frozenset(
    [e.value for e in EventType]
    + [e.value for e in OsFamily]
    + [e.value for e in Arch]
    + [e.value for e in Backend]
    + [e.value for e in GenerationFailure]
    + [e.value for e in GenerationErrorKind]
    + [e.value for e in SafetyLevel]
    + [r.label for r in Risk]
    + [e.value for e in Action]
    + [e.value for e in Category]
    + [e.value for e in Outcome]
    + [e.value for e in PromptChoice]
)


class ValidatedBatch(NamedTuple):
    """A request's events after validation (`schemas.validate_events`): the rows to store by
    type, how many were dropped by type, and how many of those the privacy check dropped.
    Defined here, with no pandas or pandera, so the store and the reading commands load light."""

    rows: dict[str, list[dict[str, object]]]
    dropped: dict[str, int]
    sensitive: dict[str, int] = {}  # noqa: RUF012  (never mutated; a part of `dropped`)

    @property
    def row_count(self) -> int:
        return sum(len(r) for r in self.rows.values())

    @property
    def dropped_count(self) -> int:
        return sum(self.dropped.values())


def own_fields(kind: EventType) -> tuple[str, ...]:
    """The fields of an event type beyond the common ones, in declaration order."""
    return tuple(name for name in _field_names(EVENT_CLASSES[kind]) if name not in _field_names(_Event))
