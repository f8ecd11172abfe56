"""Refine stage: the model's command checked by tools, repaired once if needed, and the one candidate.

The linters (shell parser, shellcheck, installed utilities, platform flags, placeholders, and,
from the request and the working directory, invented paths and unasked installs) look at the
generated command; when they find something, the model gets one bounded repair round with the
concrete findings, the answer is checked again, and the better of the two is kept, unless the
repair answers a different question (drops everything the request named, or installs software
nobody asked for): then the first command stays.
"""

from __future__ import annotations

from dataclasses import replace

from pipeline.backends.base import BackendChain, Prompt, generate_with_fallback
from pipeline.lint import Finding, Severity, check_command, mend, score
from pipeline.lint_context import task_drift
from pipeline.telemetry.builders import backend_error_events
from pipeline.telemetry.declare import emits
from pipeline.telemetry.events import EventType
from pipeline.prompting import borrowed_names, repair_prompt
from pipeline.values import Candidate, Generation, Platform, Source, StaticMatch

# Below this much of the time budget left, a repair round is not attempted.
_MIN_REPAIR_SECONDS = 1.0


def candidate_findings(
    llm_generation: Generation,
    platform_profile: Platform,
    task_text: str,
    generation_prompt: Prompt | None,
    working_directory: str,
) -> tuple[Finding, ...]:
    """What the linters find in the model's command (given the request, with any it follows up,
    and the folder it runs in), and names it copied from the examples."""
    if llm_generation.command is None:
        return ()
    return _findings(llm_generation.command, platform_profile, task_text, generation_prompt, working_directory)


def _findings(command: str, platform: Platform, request: str, prompt: Prompt | None, cwd: str) -> tuple[Finding, ...]:
    findings = check_command(command, platform, request=request, cwd=cwd)
    borrowed = borrowed_names(command, request, prompt.examples if prompt is not None else ())
    if borrowed:
        names = ", ".join(borrowed)
        findings += (Finding("example", Severity.ERROR, f"{names} comes from an example, not from the request; use the request's names or ."),)
    return findings


@emits(EventType.BACKEND_ERROR, build=backend_error_events)
def refined_generation(
    llm_generation: Generation,
    candidate_findings: tuple[Finding, ...],
    generation_prompt: Prompt | None,
    llm_chain: BackendChain,
    generation_timeout_s: float,
    platform_profile: Platform,
    task_text: str,
    working_directory: str,
) -> Generation:
    """The model's command after at most one repair round: the better-scoring of the two.

    A failure, or a command the linters have nothing against, flows on unchanged. A repair
    that changes the task is discarded, however clean it is. What needs no model to put
    right (`lint.mend`: an option value no option takes, a named file that is further down, a
    generic noun such as "text" as an operand) is put right first, and the model is not asked
    again when that was all.
    """
    first = llm_generation.command
    if first is not None and candidate_findings and (mended := mend(first, task_text, working_directory)) != first:
        findings = _findings(mended, platform_profile, task_text, generation_prompt, working_directory)
        if all(f.severity is Severity.INFO for f in findings):  # put right without asking the model again
            return replace(llm_generation, command=mended, refine_ran=True, refine_changed=True, findings=tuple(f.message for f in findings))
    kept = _repaired(
        llm_generation, candidate_findings, generation_prompt, llm_chain, generation_timeout_s, platform_profile, task_text, working_directory
    )
    if kept.command is None or not kept.findings:
        return kept
    mended = mend(kept.command, task_text, working_directory)
    if mended == kept.command:
        return kept
    findings = _findings(mended, platform_profile, task_text, generation_prompt, working_directory)
    return replace(kept, command=mended, refine_changed=True, findings=tuple(f.message for f in findings))


def _repaired(  # refined_generation's inputs, in its order
    llm_generation: Generation, candidate_findings: tuple[Finding, ...], generation_prompt: Prompt | None, llm_chain: BackendChain,
    generation_timeout_s: float, platform_profile: Platform, task_text: str, working_directory: str,
) -> Generation:
    first = llm_generation.command
    if first is None or generation_prompt is None or not candidate_findings:
        return llm_generation
    remaining = generation_timeout_s - (llm_generation.latency_ms or 0.0) / 1000
    unrepaired = replace(llm_generation, findings=tuple(f.message for f in candidate_findings))
    if remaining < _MIN_REPAIR_SECONDS:
        return unrepaired
    outcome = generate_with_fallback(
        llm_chain, repair_prompt(generation_prompt, first, candidate_findings), timeout_s=remaining, retries=0
    )
    failures = llm_generation.failures + outcome.failures
    if outcome.reply is None or outcome.reply.command == first:
        return replace(unrepaired, refine_ran=True, failures=failures)
    if task_drift(task_text, first, outcome.reply.command) is not None:
        # A repair that answers another question is no repair: the first command and its
        # findings stand, and the user is warned about those.
        return replace(unrepaired, refine_ran=True, failures=failures)
    second_findings = _findings(outcome.reply.command, platform_profile, task_text, generation_prompt, working_directory)
    if score(second_findings) < score(candidate_findings):
        return replace(
            llm_generation,
            command=outcome.reply.command,
            backend=outcome.reply.backend,
            refine_ran=True,
            refine_changed=True,
            failures=failures,
            findings=tuple(f.message for f in second_findings),
        )
    return replace(unrepaired, refine_ran=True, failures=failures)


def candidate(
    passthrough_command: str | None,
    static_match: StaticMatch | None,
    refined_generation: Generation,
) -> Candidate | None:
    """The command to judge, with its source; None when no stage produced one.

    A model's command reaches the safety stage only through `refined_generation`.
    """
    if passthrough_command is not None:
        return Candidate(passthrough_command, Source.PASSTHROUGH, backend=None)
    if static_match is not None:
        return Candidate(static_match.command, Source.STATIC, backend="static", confidence=static_match.confidence)
    if refined_generation.command is not None:
        return Candidate(refined_generation.command, Source.LLM, backend=refined_generation.backend)
    return None
