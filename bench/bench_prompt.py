"""Each prompt and answer change against the others, on the same development-set cases, in one run.

    .venv/bin/python bench/bench_prompt.py [--sample N] [--category text,...] [--requests REGEX] [--variants a,b,...] [--model NAME_OR_PATH] [--output FILE]

One process, one loaded model (as the caro service holds it), the development set's model path
(the rows neither the static table nor passthrough answers; `--sample N` an even sample of
them), judged by both judges (equivalence, and execution in the confined fixture), per category.
Every variant is a `GenerationPlan` (pipeline/generation_plan.py) passed to the pipeline as its
DAG input; everything else (refine, safety) is the pipeline's own. Variants run one after the
other over all cases: a greedy answer does not depend on the machine's load, so pass rates are
comparable; the per-request times are not as exact (the load drifts) and are printed beside
`python -c pass`'s, measured in the same run. `--seen FILE` reports, beside the totals, the
cases listed in FILE (ids whose failures were read while writing the example corpus) apart
from the rest, so that fitting the corpus to them would show.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from dataclasses import replace
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from pipeline.backends.answers import AnswerFormat  # noqa: E402
from pipeline.generation_plan import BASELINE_PLAN, DEFAULT_PLAN, ExampleForm, ExampleSource, GenerationPlan  # noqa: E402

_CORPUS = replace(BASELINE_PLAN, example_source=ExampleSource.CORPUS)  # names_from_words, nearest_last: off, as before
_CONTEXT = replace(_CORPUS, folder_names=True)
_FIXED = replace(_CONTEXT, fixed_examples=True)
_WORDS = replace(_FIXED, names_from_words=True)
VARIANTS: dict[str, GenerationPlan] = {
    # The ladder: each change added to the one before.
    "baseline": BASELINE_PLAN,  # the prompt before issue 13's second part
    "+corpus": _CORPUS,  # retrieved examples from the corpus, with the request's paths
    "+context": _CONTEXT,  # + the platform and the folder's names, in the request's part
    "+fixed": _FIXED,  # + the fixed few-shot block in the shared prefix
    "+words": _WORDS,  # + examples take other names (a package, a user) from the request's words
    # Alternatives to the ladder's last step, one change each.
    "+code": replace(_FIXED, answer_format=AnswerFormat.CODE),  # a free answer, its first code block
    "+samples3": replace(_FIXED, samples=3),  # the greedy answer and 2 sampled ones, by agreement
    "+last": replace(_WORDS, nearest_last=True),  # the nearest example right before the request
    "+words-k3": replace(_WORDS, retrieved=3),
    "+words-k2": replace(_WORDS, retrieved=2),
    "+words+code": replace(_WORDS, answer_format=AnswerFormat.CODE),
    "+words+samples3": replace(_WORDS, samples=3),
    "+words-installed": replace(_WORDS, installed_list=False),
    # Ablations of caro's own plan.
    "default": DEFAULT_PLAN,
    "default-fixed": replace(DEFAULT_PLAN, fixed_examples=False),
    "default-context": replace(DEFAULT_PLAN, folder_names=False),
    "default-headers": replace(DEFAULT_PLAN, csv_headers=False),  # no numbered columns of the CSV files named
    "default-corpus": replace(DEFAULT_PLAN, example_source=ExampleSource.TABLE),
    "default-retrieved": replace(DEFAULT_PLAN, retrieved=0),  # no retrieved examples: the fewest tokens per request
    "default+code": replace(DEFAULT_PLAN, answer_format=AnswerFormat.CODE),
    "default+json": replace(DEFAULT_PLAN, answer_format=AnswerFormat.JSON),
    "default+notes": replace(DEFAULT_PLAN, example_form=ExampleForm.NOTES),  # retrieved examples as lines of the notes, not turns
    # The plan before it was made lean for the 1.5B model: 3 retrieved examples and the one-liners.
    "default+k3+notes": replace(DEFAULT_PLAN, retrieved=3, utility_notes=True),
    "default+oneliners": replace(DEFAULT_PLAN, utility_notes=True),  # + the one-line notes on the utilities the request names
    "default+k3": replace(DEFAULT_PLAN, retrieved=3),  # JSON-constrained answers (the default before code blocks)
    "default+samples3": replace(DEFAULT_PLAN, samples=3),
    "default-slots": replace(DEFAULT_PLAN, slots=False),  # the rule "never invent placeholder paths", no slot examples
}


def _floor_ms() -> float:
    start = time.perf_counter()
    subprocess.run([sys.executable, "-c", "pass"], check=True)
    return (time.perf_counter() - start) * 1000


def _cell(rate: dict) -> str:
    return f"{rate['passed']}/{rate['total']} ({rate['rate']:.0%})" if rate["total"] else "-"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sample", type=int, default=None)
    parser.add_argument("--category", default=None, help="only these categories (comma-separated), before --sample")
    parser.add_argument("--requests", default=None, help="only cases whose request matches this regular expression (e.g. 'csv|column')")
    parser.add_argument("--variants", default="baseline,+corpus,+context,+fixed,+code")
    parser.add_argument("--model", default="qwen2.5-coder-0.5b")
    parser.add_argument("--suite", default=str(ROOT / "bench/devset/devset.jsonl"))
    parser.add_argument("--seen", default=None, help="a file of case ids to report apart")
    parser.add_argument("--output", default=None, help="write every outcome as JSON here")
    args = parser.parse_args()

    from pipeline.evaluation import ExecutionJudge, evaluate, load_builder, load_suite, model_path, sample
    from pipeline.service import Caro, RequestOptions
    from pipeline.settings import default_values

    names = [n.strip() for n in args.variants.split(",") if n.strip()]
    unknown = [n for n in names if n not in VARIANTS]
    if unknown:
        parser.error(f"unknown variants: {', '.join(unknown)} (known: {', '.join(VARIANTS)})")
    cases = model_path(load_suite(Path(args.suite)))
    if args.category:
        wanted = {c.strip() for c in args.category.split(",")}
        cases = [case for case in cases if case.category in wanted]
    if args.requests:
        import re

        cases = [case for case in cases if re.search(args.requests, case.request, re.I)]
    if args.sample:
        cases = sample(cases, args.sample)
    seen = set(Path(args.seen).read_text().split()) if args.seen else set()
    one, five, _ = os.getloadavg()
    print(f"{len(cases)} cases, model {args.model}; load average {one:.2f} (1 min), {five:.2f} (5 min) on {len(os.sched_getaffinity(0))} cores")
    settings = {**default_values(), "model": args.model, "generation.timeout_s": 60.0}

    class Planned(Caro):
        plan: GenerationPlan = DEFAULT_PLAN

        def inputs(self, text, kind, options):  # type: ignore[no-untyped-def]
            return {**super().inputs(text, kind, options), "generation_plan": self.plan}

    caro = Planned(llm_settings=settings, generation_timeout_s=60.0)
    rows = {}
    dump = {}
    with ExecutionJudge(load_builder(ROOT / "bench/devset/fixtures.py")) as execution:
        caro.handle("print the weekday of 2024-01-01")  # load the model before anything is timed
        for name in names:
            caro.plan = VARIANTS[name]
            # Untimed: the variant's shared prefix and the fixture's names, as a warm service holds them.
            caro.handle("print the weekday of 2024-01-01", RequestOptions(working_directory=str(execution.template("project"))))
            times: list[float] = []

            def answer(request: str, options: RequestOptions | None = None) -> object:
                start = time.perf_counter()
                result = caro.handle(request, options or RequestOptions())
                times.append(time.perf_counter() - start)
                return result

            started = time.perf_counter()
            report = evaluate(cases, answer, caro.check, execution)
            data = report.as_dict()
            floor = _floor_ms()
            rows[name] = (data, statistics.median(times), sorted(times)[int(0.9 * (len(times) - 1))], time.perf_counter() - started, floor)
            dump[name] = [
                {"id": o.case.id, "passed": o.passed, "equivalent": o.equivalent, "executed": o.executed, "command": o.command}
                for o in report.outcomes
            ]
            seen_part = ""
            if seen:
                mine = [o for o in report.outcomes if o.case.id in seen]
                rest = [o for o in report.outcomes if o.case.id not in seen]
                seen_part = f"; seen {sum(o.passed for o in mine)}/{len(mine)}, unseen {sum(o.passed for o in rest)}/{len(rest)}"
            print(
                f"{name:<18} combined {_cell(data['overall'])}, equivalence {_cell(data['judges']['equivalence']['overall'])},"
                f" execution {_cell(data['judges']['execution']['overall'])}; p50 {rows[name][1]:.2f} s, p90 {rows[name][2]:.2f} s"
                f" (python -c pass {floor:.0f} ms){seen_part}",
                flush=True,
            )
    categories = sorted({c for data, *_ in rows.values() for c in data["by_category"]})
    print(f"\n{'category':<12}" + "".join(f"{n:>20}" for n in names))
    for category in categories:
        print(f"{category:<12}" + "".join(f"{_cell(rows[n][0]['by_category'].get(category, {'total': 0})):>20}" for n in names))
    if args.output:
        Path(args.output).write_text(json.dumps({"cases": [c.id for c in cases], "variants": dump}, indent=1))


if __name__ == "__main__":
    main()
