"""Emit stage: the request's final value, which the CLI renders and telemetry records."""

from __future__ import annotations

from dataclasses import replace

from pipeline.judgement import judged
from pipeline.telemetry.builders import generation_events
from pipeline.telemetry.declare import emits
from pipeline.telemetry.events import EventType
from pipeline.values import (
    Action,
    Candidate,
    Generation,
    InputProblem,
    Outcome,
    Refusal,
    Result,
    Risk,
    SafetyLevel,
    SafetyVerdict,
    Source,
    TextKind,
)


@emits(EventType.COMMAND_GENERATION, build=generation_events)
def result(
    request_problem: InputProblem | None,
    candidate: Candidate | None,
    safety_verdict: SafetyVerdict | None,
    refined_generation: Generation,
    safety_level: SafetyLevel,
    text_kind: TextKind = TextKind.REQUEST,
    other_commands: tuple[Result, ...] = (),
    request_refusal: Refusal | None = None,
) -> Result:
    """The outcome of the request: a judged command, no command (and why), a refusal, or unusable input."""
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
    if request_refusal is not None:
        # Blocked as the commands it asks for would be; no command is shown, so none can run.
        return Result(
            outcome=Outcome.REFUSED,
            command=None,
            source=Source.NONE,
            backend=None,
            risk=Risk.CRITICAL,
            action=Action.BLOCKED,
            categories=(request_refusal.category,),
            explanation=request_refusal.why,
        )
    if candidate is None or safety_verdict is None:
        # caro gave up after the last failure, whatever its kind: nothing came after it (as telemetry says).
        error = refined_generation.error
        failures = refined_generation.failures
        if failures:
            failures = (*failures[:-1], replace(failures[-1], recoverable=False))
        if error is not None:
            error = replace(error, recoverable=False)
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
            backend_failures=failures,
        )
    first = judged(candidate, safety_verdict, refined_generation, safety_level, text_kind)
    return replace(first, alternatives=other_commands) if other_commands else first
