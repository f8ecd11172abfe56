"""Per-request time of the whole pipeline against the floor: a bare llama-cpp-python call that
evaluates only the request's own tokens.

    .venv/bin/python bench/bench_model.py [--model NAME_OR_PATH] [--runs N] [--plan NAME] [--devset N]

Both run in this process on one loaded `llama_cpp.Llama` with the same threads. The pipeline
time covers every stage (parse, static match, context, generation, lint, the repair round when
refine asks for one, safety, emit). The floor is given exactly the prompt the pipeline built
for the request, JSON-constrained, temperature 0, on a context that already holds the prompt's
shared prefix (rules, platform, installed utilities) and nothing of the request: what any
resident model must at least evaluate and generate for it. Requests alternate, as a user asks
them, so neither side finds a whole prompt cached. Also prints the model's load time, the
prompt's size and the share of it that is shared. A repair is a second model call, by design:
ratios are printed overall and without it. (bench/bench_service.py adds the client process.)

`--plan` builds the prompts by one of bench/bench_prompt.py's variants (the default: caro's
own, `DEFAULT_PLAN`), so a plan's cost is measured beside the floor; `--devset N` asks N of the
development set's model-path requests (an even sample) from inside its fixture, instead of the
requests below. The process's peak memory (resident set) is printed after the load and at the end.
"""

from __future__ import annotations

import argparse
import os
import statistics
import time

REQUESTS = [
    "print the current date in ISO 8601 format",
    "print the 10th line of notes.txt",
    "list environment variables that contain PATH",
    "print lines 5 to 10 of notes.txt",
    "replace tabs with commas in data.tsv and print the result",
    "print the weekday of 2024-01-01",
    "show the numbers from 1 to 20 in reverse",
    "print my user id and group id",
]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default="qwen2.5-coder-0.5b")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--plan", default="default", help="a variant of bench/bench_prompt.py (default: caro's own plan)")
    parser.add_argument("--devset", type=int, default=0, help="N of the development set's model-path requests, in its fixture")
    args = parser.parse_args()

    import resource

    from bench_prompt import VARIANTS  # bench/ is on the path of a script run from it

    from pipeline.backends.base import BackendChain, response_format
    from pipeline.backends.chain import catalogue_model_path
    from pipeline.backends.llama_cpp import LlamaCppBackend, _prime, _set_threads
    from pipeline.backends.sharing import threads_now
    from pipeline.service import Caro, RequestOptions
    from pipeline.settings import default_values
    from pipeline.values import TextKind

    def peak_mb() -> float:
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024

    one, five, _ = os.getloadavg()
    print(f"load average {one:.2f} (1 min), {five:.2f} (5 min) on {len(os.sched_getaffinity(0))} cores; plan {args.plan}")
    path = catalogue_model_path(args.model) if not args.model.endswith(".gguf") else args.model
    backend = LlamaCppBackend(path, n_ctx=default_values()["llama_cpp.n_ctx"])
    start = time.perf_counter()
    llama = backend.load().llama
    print(f"model load: {time.perf_counter() - start:.2f} s ({args.model}); peak memory {peak_mb():.0f} MB")
    plan = VARIANTS[args.plan]

    class Planned(Caro):
        def inputs(self, text, kind, options):  # type: ignore[no-untyped-def]
            return {**super().inputs(text, kind, options), "generation_plan": plan}

    caro = Planned(llm_chain=BackendChain((backend,)))
    requests, options, judge = _requests(args.devset)

    def bare(prompt) -> float:
        _set_threads(llama, threads_now())  # the threads the pipeline's backend would choose now
        _prime(llama, prompt)  # untimed: the shared prefix is there, nothing of this request
        start = time.perf_counter()
        llama.create_chat_completion(
            messages=prompt.messages(),
            response_format=response_format(prompt),
            max_tokens=prompt.max_tokens,
            temperature=0.0,
        )
        return time.perf_counter() - start

    prompts = {}
    for request in requests:
        prompt = caro.driver.execute(["generation_prompt"], inputs=caro.inputs(request, TextKind.REQUEST, options))[
            "generation_prompt"
        ]
        if prompt is None:
            print(f"skipped (answered by the static table): {request}")
        else:
            prompts[request] = prompt
    pipe_times = {r: [] for r in prompts}
    bare_times = {r: [] for r in prompts}
    repaired = dict.fromkeys(prompts, False)
    for _ in range(args.runs):  # interleaved, so drift hits both alike
        for request, prompt in prompts.items():
            t0 = time.perf_counter()
            result = caro.handle(request, options)
            pipe_times[request].append(time.perf_counter() - t0)
            repaired[request] |= result.refine_ran
            bare_times[request].append(bare(prompt))

    from bench_service import _prompt_tokens  # bench/ is on the path of a script run from it

    rows = []
    for request, prompt in prompts.items():
        full, shared = _prompt_tokens(llama, prompt)
        rows.append((request, statistics.median(pipe_times[request]), statistics.median(bare_times[request]), repaired[request], full, shared))
    print(f"{'request':<48} {'pipeline s':>10} {'floor s':>8} {'ratio':>6} {'repair':>6} {'prompt':>6} {'shared':>6}")
    for request, pipe, floor, repair, full, shared in rows:
        print(f"{request[:48]:<48} {pipe:>10.3f} {floor:>8.3f} {pipe / floor:>6.2f} {'yes' if repair else 'no':>6} {full:>6} {shared / full:>6.0%}")
    print(f"p50: pipeline {statistics.median(r[1] for r in rows):.3f} s, floor {statistics.median(r[2] for r in rows):.3f} s;"
          f" median per-request ratio {statistics.median(r[1] / r[2] for r in rows):.2f}")
    plain = [r for r in rows if not r[3]]
    if plain:
        print(f"without a repair round ({len(plain)} of {len(rows)}): median ratio {statistics.median(r[1] / r[2] for r in plain):.2f}")
    print(f"prompt: {statistics.median(r[4] for r in rows):.0f} tokens (p50), {statistics.median(r[5] / r[4] for r in rows):.0%} shared;"
          f" peak memory {peak_mb():.0f} MB")
    if judge is not None:
        judge.close()


def _requests(devset: int):  # type: ignore[no-untyped-def]
    """The requests to time, the options to ask them with, and the judge whose fixture they run in (to close)."""
    from pathlib import Path

    from pipeline.service import RequestOptions

    if not devset:
        return REQUESTS, RequestOptions(), None
    from pipeline.evaluation import ExecutionJudge, load_builder, load_suite, model_path, sample

    root = Path(__file__).resolve().parents[1]
    cases = sample(model_path(load_suite(root / "bench/devset/devset.jsonl")), devset)
    judge = ExecutionJudge(load_builder(root / "bench/devset/fixtures.py"))
    folder = judge.template("project")
    return [c.request for c in cases], RequestOptions(working_directory=str(folder)), judge


if __name__ == "__main__":
    main()
