"""Whether telemetry is on for this process, and why: the user's consent, read from settings and environment.

Precedence, first match wins:

1. `DO_NOT_TRACK` set to anything but empty or `0`: off, no debug output either.
2. `CARO_TELEMETRY=0` (or false/no/off): off, no debug output either. Other values of it are
   ignored: it is an off switch only, so a stray `CARO_TELEMETRY=1` turns nothing on.
3. `CARO_TELEMETRY_DEBUG=1` (or true/yes/on): debug. Events are built and printed to stderr as
   JSON, and nothing is stored, whatever `telemetry.enabled` says: it shows what *would* be
   recorded without recording it, so a user can look before they opt in.
4. `CARO_TELEMETRY_ENABLED=1`/`=0`, then `telemetry.enabled` in the user config: on or off.
5. Otherwise off: telemetry is off until the user turns it on.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from pipeline.settings import KEYS, Layer

ENABLED_KEY = "telemetry.enabled"
ENABLED_ENV = KEYS[ENABLED_KEY].env_var  # CARO_TELEMETRY_ENABLED
OFF_SWITCH_ENV = "CARO_TELEMETRY"
DEBUG_ENV = "CARO_TELEMETRY_DEBUG"
DO_NOT_TRACK_ENV = "DO_NOT_TRACK"

_TRUE = frozenset({"1", "true", "yes", "on"})
_FALSE = frozenset({"0", "false", "no", "off"})


@dataclass(frozen=True)
class Consent:
    """The telemetry state of this process: whether events are stored, printed, and the reason in words."""

    enabled: bool  # events are stored in the telemetry database
    debug: bool  # events are printed to stderr as JSON and not stored
    reason: str  # one short clause, e.g. "DO_NOT_TRACK is set"; never holds an environment value

    @property
    def records(self) -> bool:
        """Whether events are built at all (to store them, or to print them in debug mode)."""
        return self.enabled or self.debug


def _flag(value: str | None) -> bool | None:
    """True, False, or None for unset, empty or unrecognised text."""
    if value is None:
        return None
    text = value.strip().lower()
    return True if text in _TRUE else False if text in _FALSE else None


def do_not_track(environ: Mapping[str, str]) -> bool:
    """Whether DO_NOT_TRACK asks every tool not to track: set, non-empty, and not `0`."""
    value = environ.get(DO_NOT_TRACK_ENV, "").strip()
    return value not in ("", "0")


def telemetry_state(
    settings_values: Mapping[str, Any], environ: Mapping[str, str], *, source: Layer | None = None
) -> Consent:
    """The telemetry consent for these effective settings and this environment (see the module doc).

    `source` is where `telemetry.enabled` came from (`Settings.layers`), used only to word the
    reason; without it a true value is credited to the user config.
    """
    if do_not_track(environ):
        return Consent(False, False, f"{DO_NOT_TRACK_ENV} is set")
    if _flag(environ.get(OFF_SWITCH_ENV)) is False:
        return Consent(False, False, f"{OFF_SWITCH_ENV}=0 is set")
    if _flag(environ.get(DEBUG_ENV)):
        return Consent(False, True, f"{DEBUG_ENV}=1 is set: events are printed to stderr, nothing is stored")
    from_env = _flag(environ.get(ENABLED_ENV))
    if from_env is not None:
        return Consent(from_env, False, f"{ENABLED_ENV}={int(from_env)} is set")
    enabled = settings_values.get(ENABLED_KEY) is True
    if enabled:
        return Consent(True, False, "on in the defaults file" if source is Layer.DEFAULT else "enabled in the user config")
    if source is Layer.USER:
        return Consent(False, False, "disabled in the user config")
    return Consent(False, False, "off by default")
