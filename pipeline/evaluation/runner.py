"""Running cases through the pipeline (or the bare model) and judging every answer."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from pipeline.evaluation.judges import ExecutionJudge, judge, template_passes
from pipeline.evaluation.report import Outcome, Report
from pipeline.evaluation.suites import EvalCase
from pipeline.service import RequestOptions
from pipeline.values import Action, Result


def evaluate(
    cases: Iterable[EvalCase],
    answer: Callable[..., Result],
    check: Callable[..., Result] | None = None,
    execution: ExecutionJudge | None = None,
) -> Report:
    """Run every case through `answer` and judge it by equivalence and, where it can, by execution.

    A case with a fixture is asked from inside the fixture (its working directory), as a user
    standing in that folder would ask it. Before the execution judge runs an answer, `check`
    (the safety validator) judges it: a blocked command is never run. Without `check`, the
    answer's own action decides.
    """
    report = Report()
    for case in cases:
        options = _options(case, execution)
        result = answer(case.request) if options is None else answer(case.request, options)
        verdict = None
        if execution is not None:
            action: Action | None = result.action
            if result.command is not None and check is not None:
                action = (check(result.command) if options is None else check(result.command, options)).action
            verdict = execution.verdict(case, result.command, action)
        equivalent = judge(case, result, check)
        template = not equivalent and template_passes(case, result, check)
        report.add(Outcome(case, result.source.value, result.command, equivalent or template, verdict, template=template))
    return report


def model_path(cases: Iterable[EvalCase], extra_tables: Iterable[str] = ()) -> list[EvalCase]:
    """The cases that reach the model: neither the static table nor passthrough answers them."""
    from pathlib import Path

    from pipeline.passthrough import looks_like_command
    from pipeline.platform import resolve_platform
    from pipeline.static.table import StaticTable, default_table_paths

    table = StaticTable.load([*default_table_paths(), *map(Path, extra_tables)])
    platform = resolve_platform(None, None)
    return [c for c in cases if not looks_like_command(c.request) and table.match(c.request, platform) is None]


def _options(case: EvalCase, execution: ExecutionJudge | None) -> RequestOptions | None:
    """Request options that put the user in the case's fixture, or None to ask from here."""
    if execution is None or execution.builder is None or case.fixture is None:
        return None
    folder = execution.template(case.fixture)
    return None if isinstance(folder, str) else RequestOptions(working_directory=str(folder))


BARE_SYSTEM = 'Reply with a JSON object {"cmd": "<command>"} holding one POSIX shell command for the request.'


def bare_model(chain: Any, timeout_s: float) -> Callable[[str], Result]:
    """The model alone, JSON-constrained, with no context, examples, refine or safety stage: the baseline."""
    from pipeline.backends.base import Prompt, generate_with_fallback
    from pipeline.values import Outcome as RequestOutcome
    from pipeline.values import Source

    def answer(request: str, _options: object = None) -> Result:
        # The baseline sees the request only: no working directory, no context.
        outcome = generate_with_fallback(chain, Prompt(system=BARE_SYSTEM, user=request), timeout_s=timeout_s, retries=0)
        command = outcome.reply.command if outcome.reply else None
        return Result(
            outcome=RequestOutcome.COMMAND if command else RequestOutcome.NO_COMMAND,
            command=command,
            source=Source.LLM if command else Source.NONE,
            backend=outcome.reply.backend if outcome.reply else None,
            risk=None,
            action=Action.ALLOWED if command else None,  # nothing judges the bare model's answer
            categories=(),
            explanation="",
        )

    return answer
