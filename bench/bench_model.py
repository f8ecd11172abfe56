"""Per-request time of the whole pipeline against a bare llama-cpp-python call, same prompts and model.

    .venv/bin/python bench/bench_model.py [--model NAME_OR_PATH] [--runs N]

For each request (none is in the static table), the bare call sends exactly the prompt the
pipeline built for it to the same loaded `llama_cpp.Llama`, JSON-constrained, temperature 0;
the pipeline time covers every stage (parse, static match, context, generation, lint, the
repair round when refine asks for one, safety, emit). Also prints the model's load time.
Ratios are printed overall and for the requests where refine did not ask for a repair (a
repair is a second model call, by design).
"""

from __future__ import annotations

import argparse
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
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--model", default="qwen2.5-coder-0.5b")
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()

    from pipeline.backends.base import BackendChain, command_schema
    from pipeline.backends.chain import catalogue_model_path
    from pipeline.backends.llama_cpp import LlamaCppBackend
    from pipeline.service import Caro, RequestOptions
    from pipeline.values import TextKind

    backend = LlamaCppBackend(catalogue_model_path(args.model))
    start = time.perf_counter()
    llama = backend.load().llama
    print(f"model load: {time.perf_counter() - start:.2f} s ({args.model})")
    caro = Caro(llm_chain=BackendChain((backend,)))

    def bare(prompt) -> None:
        llama.create_chat_completion(
            messages=prompt.messages(),
            response_format={"type": "json_object", "schema": command_schema(prompt.max_command_chars)},
            max_tokens=prompt.max_tokens,
            temperature=0.0,
        )

    rows = []
    for request in REQUESTS:
        prompt = caro.driver.execute(["generation_prompt"], inputs=caro.inputs(request, TextKind.REQUEST, RequestOptions()))[
            "generation_prompt"
        ]
        if prompt is None:
            print(f"skipped (answered by the static table): {request}")
            continue
        bare(prompt)  # warm the prompt cache path alike for both
        pipe_times, bare_times, repaired = [], [], False
        for _ in range(args.runs):  # interleaved so drift hits both alike
            t0 = time.perf_counter()
            result = caro.handle(request)
            pipe_times.append(time.perf_counter() - t0)
            repaired = result.refine_ran
            t0 = time.perf_counter()
            bare(prompt)
            bare_times.append(time.perf_counter() - t0)
        rows.append((request, statistics.median(pipe_times), statistics.median(bare_times), repaired))

    print(f"{'request':<48} {'pipeline s':>10} {'bare s':>8} {'ratio':>6} repair")
    for request, pipe, bare_s, repaired in rows:
        print(f"{request[:48]:<48} {pipe:>10.3f} {bare_s:>8.3f} {pipe / bare_s:>6.2f} {'yes' if repaired else 'no'}")
    total_pipe, total_bare = sum(r[1] for r in rows), sum(r[2] for r in rows)
    print(f"all requests: pipeline {total_pipe:.2f} s, bare {total_bare:.2f} s, ratio {total_pipe / total_bare:.2f}")
    print(f"median per-request ratio: {statistics.median(r[1] / r[2] for r in rows):.2f}")
    plain = [r for r in rows if not r[3]]
    if plain:
        p, b = sum(r[1] for r in plain), sum(r[2] for r in plain)
        print(f"without a repair round ({len(plain)} of {len(rows)}): ratio {p / b:.2f}")


if __name__ == "__main__":
    main()
