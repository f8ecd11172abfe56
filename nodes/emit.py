"""Emit stage: the request's final value, which the CLI renders and telemetry records."""

from __future__ import annotations

from pipeline.values import (
    Action,
    Candidate,
    Generation,
    InputProblem,
    Outcome,
    Result,
    SafetyLevel,
    SafetyVerdict,
    Source,
)

def _warnings(candidate: Candidate, verdict: SafetyVerdict, safety_level: SafetyLevel) -> tuple[str, ...]:
    notes: list[str] = []
    if candidate.source is Source.PASSTHROUGH:
        notes.append("the text was taken as a shell command: it was judged, not generated")
    if not verdict.parsed:
        notes.append("the command could not be fully parsed as shell, so it is not trusted")
    if verdict.action is Action.CONFIRM:
        notes.append(f"needs confirmation before it runs (safety level {safety_level.value})")
    elif verdict.action is Action.BLOCKED:
        notes.append(f"blocked at safety level {safety_level.value}: it will not run")
    worst = verdict.explanation
    notes.extend(f.message for f in verdict.findings if f.message != worst)
    return tuple(dict.fromkeys(notes))


def result(
    request_problem: InputProblem | None,
    candidate: Candidate | None,
    safety_verdict: SafetyVerdict | None,
    refined_generation: Generation,
    safety_level: SafetyLevel,
) -> Result:
    """The outcome of the request: a judged command, no command (and why), or unusable input."""
    if request_problem is not None:
        return Result(
            outcome=Outcome.BAD_INPUT,
            command=None,
            source=Source.NONE,
            backend=None,
            risk=None,
            action=None,
            categories=(),
            explanation=request_problem.message,
            problem=request_problem,
        )
    if candidate is None or safety_verdict is None:
        error = refined_generation.error
        return Result(
            outcome=Outcome.NO_COMMAND,
            command=None,
            source=Source.NONE,
            backend=error.backend if error else None,
            risk=None,
            action=None,
            categories=(),
            explanation=error.message if error else "no stage produced a command",
            generation_error=error,
        )
    return Result(
        outcome=Outcome.COMMAND,
        command=candidate.command,
        source=candidate.source,
        backend=candidate.backend,
        risk=safety_verdict.risk,
        action=safety_verdict.action,
        categories=safety_verdict.categories,
        explanation=safety_verdict.explanation,
        warnings=_warnings(candidate, safety_verdict, safety_level),
        confidence=candidate.confidence,
        generation_error=refined_generation.error,
    )
