"""How each decorated stage's value becomes event drafts: categories only, never content."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timezone

from pipeline.telemetry.declare import Draft
from pipeline.telemetry.events import Backend, EventType, GenerationFailure, PromptChoice, utc_timestamp
from pipeline.values import Generation, GenerationErrorKind, Outcome, Result, SafetyVerdict, Source

_FAILURE = {GenerationErrorKind.TIMEOUT: GenerationFailure.TIMEOUT, GenerationErrorKind.PARSE_ERROR: GenerationFailure.PARSE_ERROR}
# The nodes whose run time is the generation's duration, by where the command came from.
_TIMED_BY = {
    Source.STATIC: ("static_match",),
    Source.PASSTHROUGH: ("passthrough_command",),
    Source.LLM: ("llm_generation", "candidate_findings", "refined_generation"),
    Source.NONE: ("static_match", "llm_generation", "candidate_findings", "refined_generation"),
}


def _backend(name: str | None) -> Backend | None:
    try:
        return Backend(name) if name else None
    except ValueError:
        return None


def generation_events(result: Result) -> list[Draft]:
    """One command_generation event: which backend answered (or failed), and whether refine changed it."""
    if result.outcome in (Outcome.BAD_INPUT, Outcome.REFUSED):
        return []  # nothing was generated (the session's end records a refusal)
    if result.source is Source.PASSTHROUGH:
        backend = Backend.PASSTHROUGH
    else:
        backend = _backend(result.backend) or (_backend(result.generation_error.backend) if result.generation_error else None) or Backend.STATIC
    error = result.generation_error
    failure = None
    if result.command is None:
        failure = _FAILURE.get(error.kind, GenerationFailure.BACKEND_ERROR) if error else GenerationFailure.BACKEND_ERROR
    fields = {
        "backend": backend,
        "success": result.command is not None,
        "error_category": failure,
        "refine_ran": result.refine_ran,
        "refine_changed": result.refine_changed,
    }
    return [Draft(EventType.COMMAND_GENERATION, fields, timed_by=_TIMED_BY[result.source])]


def safety_events(safety_verdict: SafetyVerdict | None) -> list[Draft]:
    """One safety_validation event: risk, action and the categories of the rules that matched."""
    if safety_verdict is None:
        return []
    categories = tuple(dict.fromkeys(f.category for f in safety_verdict.findings))
    return [
        Draft(EventType.SAFETY_VALIDATION, {"risk": safety_verdict.risk, "action": safety_verdict.action, "categories": categories})
    ]


def backend_error_events(refined_generation: Generation) -> list[Draft]:
    """One backend_error event per model backend failure on the way, recovered from or not.

    `recoverable` says whether caro went on after the failure (a retry, the next backend, or
    a command it already had), not whether its kind could pass on a retry: the last failure of
    a request that ended without a command is where caro gave up, so it is never recoverable.
    """
    failures = refined_generation.failures
    gave_up = refined_generation.command is None
    drafts = []
    for position, failure in enumerate(failures, start=1):
        backend = _backend(failure.backend)
        if backend is not None:
            went_on = not (gave_up and position == len(failures))
            drafts.append(Draft(EventType.BACKEND_ERROR, {"backend": backend, "error_category": failure.kind, "recoverable": went_on}))
    return drafts


def prompt_action_events(taken: Iterable[object]) -> list[Draft]:
    """One prompt_action event per choice made at the interactive prompt, timed when it was made.

    Not a stage of the DAG: the CLI collects the choices (`pipeline/cli/interactive.py`) as
    (choice, seconds since the epoch) pairs, sent by the client when the service answered. Only
    a known choice becomes an event; the closed category is all that is kept of it.
    """
    drafts = []
    for item in taken:
        if not isinstance(item, (list, tuple)) or len(item) != 2:
            continue
        choice, when = item
        try:
            category = PromptChoice(choice)
            at = utc_timestamp(datetime.fromtimestamp(float(when), timezone.utc))
        except (ValueError, TypeError, OverflowError, OSError):
            continue
        drafts.append(Draft(EventType.PROMPT_ACTION, {"choice": category}, at=at))
    return drafts
