"""caro's opt-in, anonymous usage telemetry: events, their schemas, the privacy check and the store.

Telemetry stays on the user's machine, in a SQLite file under CARO_HOME. Events hold closed
categories, numbers, flags, a random session id and a UTC time; every row is validated, and
searched for the request's sensitive context, before it is stored.
"""

from pipeline.telemetry.events import (
    SCHEMA_VERSION,
    Arch,
    Backend,
    BackendError,
    CommandGeneration,
    Event,
    EventType,
    GenerationFailure,
    OsFamily,
    SafetyValidation,
    SessionEnd,
    SessionStart,
    architecture,
    new_session_id,
    os_family,
    utc_timestamp,
)
from pipeline.telemetry.privacy import SensitiveContext
from pipeline.telemetry.schemas import ValidatedBatch, validate_events
from pipeline.telemetry.store import TelemetryStore, WriteFailure, WriteOutcome

__all__ = [
    "SCHEMA_VERSION",
    "Arch",
    "Backend",
    "BackendError",
    "CommandGeneration",
    "Event",
    "EventType",
    "GenerationFailure",
    "OsFamily",
    "SafetyValidation",
    "SensitiveContext",
    "SessionEnd",
    "SessionStart",
    "TelemetryStore",
    "ValidatedBatch",
    "WriteFailure",
    "WriteOutcome",
    "architecture",
    "new_session_id",
    "os_family",
    "utc_timestamp",
    "validate_events",
]
