"""`caro eval SUITE...`: run JSON-lines suites through the pipeline (or the bare model) and score them."""

from __future__ import annotations

import sys
from pathlib import Path

from pipeline.cli.common import emit_data, settings_from
from pipeline.errors import CaroError, usage_error
from pipeline.settings import OutputFormat


def run_eval(*, suites: list[Path], mode: str, limit: int | None, show_failures: bool, output: OutputFormat | None, config: Path | None) -> int:
    """Evaluate the suites; the exit code is 0 (the report is the result, whatever the rate)."""
    from pipeline.evaluation import bare_model, evaluate, load_suite
    from pipeline.service import Caro

    settings = settings_from(config, output=output)
    cases = []
    for suite in suites:
        try:
            cases.extend(load_suite(suite))
        except (OSError, ValueError) as exc:
            raise CaroError(f"cannot read the suite {suite.name} ({type(exc).__name__})", code="suite_unreadable") from None
    if limit is not None:
        cases = cases[:limit]
    if not cases:
        raise usage_error("the suites hold no request cases")
    caro = Caro.from_settings(settings)
    if mode == "model":
        chain = caro.chain()
        if not chain:
            raise usage_error("the model-only baseline needs a model backend", hint="caro config set backend llama_cpp")
        report = evaluate(cases, bare_model(chain, caro.generation_timeout_s))
    else:
        report = evaluate(cases, caro.handle, caro.check)
    data = {"mode": mode, "suites": [s.name for s in suites], **report.as_dict()}
    if not show_failures:
        data.pop("failures")
    fmt = settings.output
    if fmt is not OutputFormat.PLAIN:
        emit_data(data, fmt)
        return 0
    overall = data["overall"]
    sys.stdout.write(f"{mode}: {overall['passed']}/{overall['total']} passed ({overall['rate']:.1%})\n")
    for title in ("by_source", "by_category"):
        sys.stdout.write(f"{title.replace('_', ' ')}:\n")
        for name, rate in data[title].items():
            sys.stdout.write(f"  {name:<28} {rate['passed']:>4}/{rate['total']:<4} {rate['rate']:.1%}\n")
    for failure in data.get("failures", []):
        sys.stdout.write(f"FAIL {failure['id']}: {failure['request']!r} -> {failure['got']!r} (expected {failure['expected']})\n")
    return 0
