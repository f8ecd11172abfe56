"""`caro eval SUITE...`: run JSON-lines suites through the pipeline (or the bare model) and score them."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

from pipeline.cli.common import emit_data, settings_from
from pipeline.errors import CaroError, usage_error
from pipeline.settings import OutputFormat


def run_eval(
    *,
    suites: list[Path],
    mode: str,
    limit: int | None,
    show_failures: bool,
    output: OutputFormat | None,
    config: Path | None,
    fixtures: Path | None = None,
    sample_size: int | None = None,
    needs_model: bool = False,
) -> int:
    """Evaluate the suites; the exit code is 0 (the report is the result, whatever the rate)."""
    from pipeline.evaluation import ExecutionJudge, bare_model, evaluate, load_builder, load_suite, sample
    from pipeline.evaluation.judges import FixtureBuilderError
    from pipeline.cli.remote import pipeline_for
    from pipeline.service import Caro

    settings = settings_from(config, output=output)
    cases = []
    for suite in suites:
        try:
            cases.extend(load_suite(suite))
        except (OSError, ValueError) as exc:
            raise CaroError(f"cannot read the suite {suite.name} ({exc if isinstance(exc, ValueError) else type(exc).__name__})", code="suite_unreadable") from None
    if needs_model:
        from pipeline.evaluation import model_path

        cases = model_path(cases, settings["extra_static_tables"])
    if sample_size is not None:
        cases = sample(cases, sample_size)
    if limit is not None:
        cases = cases[:limit]
    if not cases:
        raise usage_error("the suites hold no request cases")
    builder = None
    if fixtures is not None:
        try:
            builder = load_builder(fixtures)
        except (OSError, FixtureBuilderError) as exc:
            raise CaroError(f"cannot load the fixture builder {fixtures.name}: {exc}", code="fixtures_unreadable") from None
    # The pipeline's requests go to the caro service when the console script can use it (warm model).
    caro = Caro.from_settings(settings) if mode == "model" else pipeline_for(settings, config)
    with ExecutionJudge(builder) as execution:
        if mode == "model":
            chain = caro.chain()
            if not chain:
                raise usage_error("the model-only baseline needs a model backend", hint="caro config set backend llama_cpp")
            report = evaluate(cases, bare_model(chain, caro.generation_timeout_s), caro.check, execution)
        else:
            report = evaluate(cases, caro.handle, caro.check, execution)
    data = {"mode": mode, "suites": [s.name for s in suites], **report.as_dict()}
    if not show_failures:
        data.pop("failures")
    fmt = settings.output
    if fmt is not OutputFormat.PLAIN:
        emit_data(data, fmt)
        return 0
    sys.stdout.write(_plain(mode, data))
    return 0


def _cell(rate: dict[str, Any] | None) -> str:
    if not rate or not rate["total"]:
        return f"{'-':>15}"
    return f"{rate['passed']:>4}/{rate['total']:<4} {rate['rate']:>6.1%}"


def _plain(mode: str, data: dict[str, Any]) -> str:
    judges = data["judges"]
    overall = data["overall"]
    lines = [
        f"{mode}: {overall['passed']}/{overall['total']} passed ({overall['rate']:.1%});"
        " combined = the execution judge where it ran, equivalence elsewhere",
        f"{'':<24} {'combined':>15} {'equivalence':>15} {'execution':>15}",
        f"{'overall':<24} {_cell(overall)} {_cell(judges['equivalence']['overall'])} {_cell(judges['execution']['overall'])}",
    ]
    for title in ("by_source", "by_category"):
        lines.append(f"{title.replace('_', ' ')}:")
        for name, rate in data[title].items():
            equivalence = judges["equivalence"][title].get(name)
            execution = judges["execution"][title].get(name)
            lines.append(f"  {name:<22} {_cell(rate)} {_cell(equivalence)} {_cell(execution)}")
    templates = data.get("templates", {}).get("passed", 0)
    if templates:
        lines.append(
            f"{templates} of the passes are templates: a slot (<file>) where the expected command has a stand-in"
            f" for what the request does not name (file.txt); without them {overall['passed'] - templates}/{overall['total']}"
        )
    not_judged = judges["execution"]["not_judged"]
    if not_judged:
        lines.append("not run by the execution judge (equivalence decides):")
        lines.extend(f"  {count:>4}  {reason}" for reason, count in not_judged.items())
    for failure in data.get("failures", []):
        why = f"; {failure['execution_reason']}" if failure.get("execution_reason") else ""
        lines.append(
            f"FAIL {failure['id']}: {failure['request']!r} -> {failure['got']!r} (expected {failure['expected']}{why})"
        )
    return "\n".join(lines) + "\n"
