"""Alternatives stage (`caro -n N`): up to N - 1 other commands for the request, each judged, best first.

The request's own answer stays first (the static table's when it has one, else the model's
refined command). The others are the model's different answers (`pipeline/candidates.py`: no
two do the same thing), in the order the generate stage ranks them (most answers agree, then
the linters find least wrong). Each is linted (what the linters find becomes its warnings;
only the first answer gets a repair round, as a repair is a model call) and judged by the
safety validator at the request's level, exactly as the first one is.
"""

from __future__ import annotations

from pipeline.candidates import Answers, ranked
from pipeline.equivalence import equivalent
from pipeline.judgement import judged, verdict_for
from pipeline.lint import check_command, score
from pipeline.safety.rules import RuleSet
from pipeline.values import Candidate, Generation, Platform, Result, SafetyLevel, Source

MAX_COMMANDS = 3


def other_commands(
    candidate: Candidate | None,
    refined_generation: Generation,
    llm_answers: Answers,
    platform_profile: Platform,
    task_text: str,
    working_directory: str,
    home_directory: str,
    safety_level: SafetyLevel,
    safety_rules: RuleSet,
    command_count: int = 1,
) -> tuple[Result, ...]:
    """The other commands asked for with `command_count`, best first; none for one, or for a command the user typed."""
    if command_count <= 1 or candidate is None or candidate.source is Source.PASSTHROUGH:
        return ()

    def lint(command: str) -> tuple[str, ...]:
        return tuple(f.message for f in check_command(command, platform_profile, request=task_text, cwd=working_directory))

    replies = llm_answers.replies
    order = ranked([r.command for r in replies], lambda c: score(check_command(c, platform_profile, request=task_text, cwd=working_directory)))
    pool = [(refined_generation.command, refined_generation.backend)] if refined_generation.command else []
    pool += [(replies[i].command, replies[i].backend) for i in order]
    chosen: list[tuple[str, str | None]] = []
    for command, backend in pool:
        if command is None or any(equivalent(command, c) for c in (candidate.command, *(c for c, _ in chosen))):
            continue
        chosen.append((command, backend))
        if len(chosen) == min(command_count, MAX_COMMANDS) - 1:
            break
    results = []
    for command, backend in chosen:
        candidate = Candidate(command, Source.LLM, backend)
        verdict = verdict_for(
            candidate, shell=platform_profile.shell, level=safety_level, rules=safety_rules, cwd=working_directory, home=home_directory
        )
        generation = Generation(ran=True, command=command, backend=backend, findings=lint(command))
        results.append(judged(candidate, verdict, generation, safety_level))
    return tuple(results)
