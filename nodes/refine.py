"""Refine stage: the model's command checked and repaired, and the one candidate for the safety stage."""

from __future__ import annotations

from pipeline.values import Candidate, Generation, Source, StaticMatch


def refined_generation(llm_generation: Generation) -> Generation:
    """The model's command after linting and repair.

    Only a generated command can be refined; a failure or a skipped generation has nothing
    to repair and flows on unchanged so that emit and telemetry see it.
    """
    return llm_generation


def candidate(
    passthrough_command: str | None,
    static_match: StaticMatch | None,
    refined_generation: Generation,
) -> Candidate | None:
    """The command to judge, with its source; None when no stage produced one."""
    if passthrough_command is not None:
        return Candidate(passthrough_command, Source.PASSTHROUGH, backend=None)
    if static_match is not None:
        return Candidate(static_match.command, Source.STATIC, backend="static", confidence=static_match.confidence)
    if refined_generation.command is not None:
        return Candidate(refined_generation.command, Source.LLM, backend=refined_generation.backend)
    return None
