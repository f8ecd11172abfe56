"""Safety stage: the validator's verdict on the candidate command."""

from __future__ import annotations

from pipeline.judgement import verdict_for
from pipeline.telemetry.builders import safety_events
from pipeline.telemetry.declare import emits
from pipeline.telemetry.events import EventType
from pipeline.safety.rules import RuleSet
from pipeline.values import Candidate, Platform, SafetyLevel, SafetyVerdict


@emits(EventType.SAFETY_VALIDATION, build=safety_events)
def safety_verdict(
    candidate: Candidate | None,
    platform_profile: Platform,
    safety_level: SafetyLevel,
    safety_rules: RuleSet,
    working_directory: str,
    home_directory: str,
) -> SafetyVerdict | None:
    """The risk, action and findings for the candidate; None when there is no candidate.

    A template's slots (`cat <file>`) are judged as operands the validator cannot see."""
    if candidate is None:
        return None
    return verdict_for(
        candidate,
        shell=platform_profile.shell,
        level=safety_level,
        rules=safety_rules,
        cwd=working_directory,
        home=home_directory,
    )
