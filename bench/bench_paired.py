"""Two generation plans, paired on the same requests: the model's own work per request, and its tokens.

    .venv/bin/python bench/bench_paired.py [--variants default,default+notes] [--sample 40] [--model qwen2.5-coder-1.5b]

A plan change that takes tokens off each request is worth a few tenths of a second at most, less
than this machine's drift between two runs of `bench_prompt.py` (its `python -c pass` moved from
30 to 76 ms within an hour). So the two plans run here in one process, one request after the
other, in a random order per request, and each timing is paired with the other plan's on the same
request. What is timed is what a warm service pays for a request, measured with llama.cpp alone:
the context holds the shared prefix and the folder's part of the notes (as the service holds
them for requests from one folder); the request's own tokens are evaluated and the greedy answer
is decoded to the end of its first command line, as the backend stops. The requests are an even
sample of the development set's model path. Prints each plan's median and mean seconds, own
(uncached) tokens and generated tokens, and the paired difference. No target is asserted.
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--variants", default="default,default+notes", help="two of bench_prompt.py's variants")
    parser.add_argument("--sample", type=int, default=40)
    parser.add_argument("--model", default="qwen2.5-coder-1.5b")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()

    from bench_prompt import VARIANTS
    from bench_service import shared_context

    from pipeline.backends.answers import answer_ended
    from pipeline.backends.chain import catalogue_model_path
    from pipeline.backends.llama_cpp import CODE_OPENING, LlamaCppBackend, _chat_formatter, _set_threads
    from pipeline.evaluation import load_suite, model_path, sample
    from pipeline.service import Caro, RequestOptions
    from pipeline.values import TextKind

    names = [n.strip() for n in args.variants.split(",") if n.strip()]
    if len(names) != 2 or any(n not in VARIANTS for n in names):
        parser.error(f"give two of: {', '.join(VARIANTS)}")
    cases = sample(model_path(load_suite(ROOT / "bench/devset/devset.jsonl")), args.sample)
    caro = Caro(backend="none")  # builds the prompts exactly as the service does
    llama = LlamaCppBackend(catalogue_model_path(args.model)).load().llama
    _set_threads(llama, len(os.sched_getaffinity(0)))  # every core, for both plans alike
    eos = llama.token_eos()
    formatter = _chat_formatter(
        llama.metadata["tokenizer.chat_template"], llama._model.token_get_text(eos), llama._model.token_get_text(llama.token_bos()), eos
    )

    def tokens(messages: list[dict[str, str]]) -> list[int]:
        return llama.tokenize(formatter(messages=messages).prompt.encode(), add_bos=False, special=True)

    def one(request: str, name: str) -> tuple[float, int, int]:
        inputs = {**caro.inputs(request, TextKind.REQUEST, RequestOptions()), "generation_plan": VARIANTS[name]}
        prompt = caro.driver.execute(["generation_prompt"], inputs=inputs)["generation_prompt"]
        shared = shared_context(prompt.context)
        held = tokens([*prompt.prefix_messages(), *([{"role": "system", "content": shared}] if shared else []), {"role": "user", "content": ""}])
        full = tokens(prompt.messages()) + llama.tokenize(CODE_OPENING.encode(), add_bos=False, special=True)
        common = 0
        while common < min(len(held), len(full)) and held[common] == full[common]:
            common += 1
        if llama.n_tokens < common or list(llama.input_ids[:common]) != full[:common]:
            llama.reset()
            llama.eval(full[:common])  # untimed: what the warm service already holds
        llama.n_tokens = common
        start = time.perf_counter()
        llama.eval(full[common:])
        text, generated = CODE_OPENING, 0
        while generated < prompt.max_tokens:
            token = llama.sample(temp=0.0)
            generated += 1
            text += llama.detokenize([token]).decode("utf-8", errors="ignore")
            if token == eos or answer_ended(text, prompt.answer_format):
                break
            llama.eval([token])
        return time.perf_counter() - start, len(full) - common, generated

    one(cases[0].request, names[0])  # warm-up, untimed
    rng = random.Random(args.seed)
    results: dict[str, list[tuple[float, int, int]]] = {name: [] for name in names}
    for case in cases:
        for name in rng.sample(names, 2):
            results[name].append(one(case.request, name))
    load, _, _ = os.getloadavg()
    print(f"{len(cases)} model-path requests, model {args.model}, {len(os.sched_getaffinity(0))} cores, load average {load:.2f} at the end")
    for name, rows in results.items():
        seconds = [row[0] for row in rows]
        print(
            f"{name:16} p50 {statistics.median(seconds):.3f} s  mean {statistics.mean(seconds):.3f} s"
            f"  own tokens {statistics.mean(row[1] for row in rows):.1f}  generated {statistics.mean(row[2] for row in rows):.1f}"
        )
    first, second = (results[name] for name in names)
    diffs = [a[0] - b[0] for a, b in zip(first, second)]
    print(
        f"paired {names[0]} - {names[1]}: median {statistics.median(diffs):+.3f} s, mean {statistics.mean(diffs):+.3f} s;"
        f" {names[1]} faster on {sum(d > 0 for d in diffs)} of {len(diffs)}"
    )


if __name__ == "__main__":
    main()
