"""The caro service against the physical floors, measured in one interleaved run.

    .venv/bin/python bench/bench_service.py [--runs N] [--model-runs N] [--model NAME_OR_PATH] [--busy N]

Whole `caro` processes, timed from start to exit, against `python -c pass` (the floor of any
Python command): a table answer and `caro check "rm -rf /"` through a warm service, and the
same answered in process (`serve.enabled = false`, today's path without a service).

A model answer through the warm service against the floor of a bare llama-cpp-python call:
the same model and threads, loaded in this process, already holding the prompt's shared
prefix and the start of the notes, the platform and the folder's names (as the warm service does for requests from one
folder), given exactly the prompt the pipeline builds for the request, so that it evaluates
only the request's own turns (its retrieved examples and its words) and generates the same
answer. A stricter floor beside it: the request's words alone after the shared prefix, what
any design must evaluate (the gap is the price of the retrieved examples). Also the prompt's size and the
share of it that is cached, the first request of a cold service (table and model), and 4
concurrent clients.

`--busy N` then runs N model requests in a row with two `yes > /dev/null` in the background
and says how many got a command. The service and its files live in a temporary runtime
directory; the model comes from CARO_HOME as usual. Telemetry is off (CARO_TELEMETRY=0).
No target is asserted: the figures go into the issue notes.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

BIN = Path(sys.executable).parent
CARO = str(BIN / "caro")
TABLE = "find python files modified in the last 7 days"
MODEL_REQUESTS = [
    "print the current date in ISO 8601 format",
    "print the 10th line of notes.txt",
    "list environment variables that contain PATH",
    "replace tabs with commas in data.tsv and print the result",
    "print the weekday of 2024-01-01",
    "show the numbers from 1 to 20 in reverse",
    "print my user id and group id",
    "count the words in notes.txt",
    "convert notes.txt to upper case",
    "print the number of CPU cores",
    "show the first 5 characters of each line in names.txt",
]


def _run(argv: list[str], env: dict[str, str]) -> tuple[float, subprocess.CompletedProcess[str]]:
    start = time.perf_counter()
    done = subprocess.run(argv, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, stdin=subprocess.DEVNULL, env=env, text=True)
    return time.perf_counter() - start, done


def _ms(values: list[float]) -> str:
    values = sorted(values)
    return f"{statistics.median(values) * 1000:8.1f} {values[min(len(values) - 1, int(0.9 * len(values)))] * 1000:8.1f}"


def _load() -> str:
    one, five, _ = os.getloadavg()
    return f"load average {one:.2f} (1 min), {five:.2f} (5 min) on {len(os.sched_getaffinity(0))} cores"


def fast_paths(env: dict[str, str], runs: int) -> None:
    here = {**env, "CARO_SERVE_ENABLED": "0"}
    cases = {
        "python -c pass (floor)": ([sys.executable, "-c", "pass"], env),
        "table answer, warm service": ([CARO, TABLE], env),
        'caro check "rm -rf /", warm service': ([CARO, "check", "rm -rf /"], env),
        "table answer, in process": ([CARO, TABLE], here),
        'caro check "rm -rf /", in process': ([CARO, "check", "rm -rf /"], here),
    }
    _run([CARO, "check", "ls"], env)  # start the service
    for argv, case_env in cases.values():  # warm the file and bytecode caches
        _run(argv, case_env)
    samples: dict[str, list[float]] = {name: [] for name in cases}
    for _ in range(runs):  # interleaved, so drift hits every case alike
        for name, (argv, case_env) in cases.items():
            samples[name].append(_run(argv, case_env)[0])
    base = statistics.median(samples["python -c pass (floor)"])
    print(f"\n{'case':<40} {'p50 ms':>8} {'p90 ms':>8} {'x floor':>8}")
    for name, values in samples.items():
        print(f"{name:<40} {_ms(values)} {statistics.median(values) / base:8.2f}")


def _prompt_tokens(llama, prompt) -> tuple[int, int]:
    """(all tokens, shared-prefix tokens) of a prompt as the model's chat template renders it."""
    from llama_cpp.llama_chat_format import Jinja2ChatFormatter

    template = llama.metadata["tokenizer.chat_template"]
    eos = llama._model.token_get_text(llama.token_eos())
    formatter = Jinja2ChatFormatter(template=template, eos_token=eos, bos_token="", add_generation_prompt=True)

    def count(messages) -> int:
        return len(llama.tokenize(formatter(messages=messages).prompt.encode(), add_bos=False, special=True))

    full = count(prompt.messages())
    shared = count(prompt.prefix_messages()) - 1  # less the generation prompt's start the formatter adds
    return full, shared


def shared_context(context: str) -> str:
    """The part of a prompt's notes that every request from one folder shares (the platform and
    the folder's names), without what is this request's own (the columns of the files it names,
    its utilities' one-liners, its retrieved examples): the floor may hold only what a warm
    service can hold."""
    from pipeline.backends.base import SIMILAR

    own = ("\nColumns of ", "\nRelevant utilities:", f"\n{SIMILAR}")
    for start in own:
        context = context.split(start, 1)[0]
    return "" if context.startswith(tuple(start.lstrip("\n") for start in own)) else context


def model_answers(env: dict[str, str], model: str, runs: int) -> list[str]:
    """Print the model figures; the requests the model answers (not the static table)."""
    from pipeline.backends.answers import answer_ended
    from pipeline.backends.base import response_format
    from pipeline.backends.chain import catalogue_model_path
    from dataclasses import replace

    from pipeline.backends.llama_cpp import CODE_OPENING, LlamaCppBackend, _opened_code_block, _prime, _set_threads
    from pipeline.backends.sharing import threads_now
    from pipeline.service import Caro, RequestOptions
    from pipeline.values import TextKind

    path = catalogue_model_path(model) if not model.endswith(".gguf") else Path(model)
    caro = Caro(backend="none")  # builds the prompts exactly as the service does
    floor = LlamaCppBackend(path)  # the same parameters the service uses (threads: the CPU affinity)
    llama = floor.load().llama
    prompts = {}
    for request in MODEL_REQUESTS:
        inputs = caro.inputs(request, TextKind.REQUEST, RequestOptions())
        prompt = caro.driver.execute(["generation_prompt"], inputs=inputs)["generation_prompt"]
        if prompt is not None:  # not answered by the static table
            prompts[request] = prompt
    requests = list(prompts)
    _prime(llama, next(iter(prompts.values())))

    def bare(prompt, words_only: bool = False) -> float:
        _set_threads(llama, threads_now())  # the service's choice of threads for a generation
        # Untimed: the context holds what the warm service holds when this request arrives: the
        # shared prefix and the start of the notes (platform, folder names), the same for every
        # request from this folder; nothing of this request's own (its one-liners, examples, words).
        shared = shared_context(prompt.context)
        held = [*prompt.prefix_messages(), *([{"role": "system", "content": shared}] if shared else [])]
        llama.create_chat_completion(messages=[*held, {"role": "user", "content": ""}], max_tokens=1, temperature=0.0)
        # words_only: the stricter floor, the request's words alone after the shared prefix (no
        # retrieved examples, no folder names): what any design must evaluate for this request.
        messages = [*prompt.prefix_messages(), {"role": "user", "content": prompt.user}] if words_only else prompt.messages()
        # The answer is generated as the backend does: in the plan's format (a JSON grammar, or
        # free text read until its code block closes), streamed, stopped where the backend stops.
        # A code answer opens with the block's fence already written, as the backend opens it
        # (`_opened_code_block`); a JSON answer goes through the chat path with its grammar.
        asked = replace(prompt, context="", examples=()) if words_only else prompt  # its messages() are `messages`
        start = time.perf_counter()
        stream = _opened_code_block(llama, replace(asked, temperature=0.0))
        text = CODE_OPENING if stream is not None else ""
        if stream is None:
            stream = llama.create_chat_completion(
                messages=messages, response_format=response_format(prompt), max_tokens=prompt.max_tokens, temperature=0.0, stream=True
            )
        for chunk in stream:
            choice = chunk["choices"][0]
            text += (choice["delta"].get("content") if "delta" in choice else choice.get("text")) or ""
            if answer_ended(text, prompt.answer_format):
                break
        stream.close()
        return time.perf_counter() - start

    model_env = {**env, "CARO_BACKEND": "llama_cpp", "CARO_MODEL": str(path)}
    _run([CARO, "serve", "--stop"], env)
    cold_table = _run([CARO, "--output", "json", TABLE], model_env)[0]
    cold_model = _run([CARO, "--output", "json", requests[0]], model_env)[0]
    print(f"\nfirst request of a cold service: table answer {cold_table * 1000:.0f} ms;"
          f" then the first model answer (loads the model, evaluates the shared prefix) {cold_model:.2f} s")

    served_t: dict[str, list[float]] = {r: [] for r in prompts}
    floor_t: dict[str, list[float]] = {r: [] for r in prompts}
    words_t: dict[str, list[float]] = {r: [] for r in prompts}
    answers: dict[str, set[str]] = {r: set() for r in prompts}
    repaired: dict[str, bool] = dict.fromkeys(prompts, False)
    for _ in range(runs):  # interleaved; one request after another, as a user asks them (no answer cached whole)
        for request, prompt in prompts.items():
            seconds, done = _run([CARO, "--output", "json", request], model_env)
            served_t[request].append(seconds)
            data = json.loads(done.stdout)
            repaired[request] |= data["refine"]["ran"]
            answers[request].add(data["error"]["code"] if data["error"] else "command")
            floor_t[request].append(bare(prompt))
            words_t[request].append(bare(prompt, words_only=True))
    rows = []
    for request, prompt in prompts.items():
        full, shared = _prompt_tokens(llama, prompt)
        rows.append((request, statistics.median(served_t[request]), statistics.median(floor_t[request]), repaired[request],
                     full, shared, answers[request]))
    print(f"\n{'model request':<44} {'service s':>9} {'floor s':>8} {'ratio':>6} {'repair':>6} {'prompt':>6} {'cached':>7}  answer")
    for request, served, floor_s, repaired, full, shared, answers in rows:
        print(f"{request[:44]:<44} {served:9.3f} {floor_s:8.3f} {served / floor_s:6.2f} {'yes' if repaired else 'no':>6}"
              f" {full:6d} {shared / full:7.0%}  {','.join(sorted(answers))}")
    served_all = [r[1] for r in rows]
    floor_all = [r[2] for r in rows]
    plain = [r for r in rows if not r[3]]
    words_all = [statistics.median(words_t[r[0]]) for r in rows]
    print(f"p50 model answer through the service: {statistics.median(served_all):.3f} s; floor p50 {statistics.median(floor_all):.3f} s;"
          f" ratio of p50s {statistics.median(served_all) / statistics.median(floor_all):.2f}")
    print(f"stricter floor, the request's words alone after the shared prefix: p50 {statistics.median(words_all):.3f} s;"
          f" service / that floor {statistics.median(served_all) / statistics.median(words_all):.2f}")
    if plain:
        print(f"without a repair round ({len(plain)} of {len(rows)}): p50 ratio"
              f" {statistics.median(r[1] / r[2] for r in plain):.2f}, service p50 {statistics.median(r[1] for r in plain):.3f} s")
    print(f"prompt: {statistics.median(r[4] for r in rows):.0f} tokens (p50), {statistics.median(r[5] / r[4] for r in rows):.0%} of it"
          " shared and cached; the rest is each request's own")
    concurrent(env, model_env, requests)
    return requests


def concurrent(env: dict[str, str], model_env: dict[str, str], requests: list[str]) -> None:
    def timed(argv: list[str], case_env: dict[str, str]) -> float:
        return _run(argv, case_env)[0]

    for label, argv, case_env in (
        ("table answers", [CARO, TABLE], env),
        ("model answers", None, model_env),
    ):
        calls = [argv or [CARO, "--output", "json", requests[(i + 1) % len(requests)]] for i in range(4)]
        start = time.perf_counter()
        with ThreadPoolExecutor(max_workers=4) as pool:
            each = list(pool.map(lambda a: timed(a, case_env), calls))
        wall = time.perf_counter() - start
        print(f"4 concurrent clients, {label}: all answered in {wall * 1000:.0f} ms; each {', '.join(f'{s * 1000:.0f}' for s in each)} ms")


def busy(model_env: dict[str, str], requests: list[str], count: int) -> None:
    hogs = [subprocess.Popen(["yes"], stdout=subprocess.DEVNULL) for _ in range(2)]
    try:
        time.sleep(1)
        got, times = 0, []
        for i in range(count):
            seconds, done = _run([CARO, "--output", "json", requests[i % len(requests)]], model_env)
            data = json.loads(done.stdout)
            times.append(seconds)
            got += data["command"] is not None
            print(f"  busy request {i + 1:2d}: {seconds:6.2f} s {'command' if data['command'] else data['error']['code']}")
        print(f"with two `yes` running: {got} of {count} model requests got a command; p50 {statistics.median(times):.2f} s,"
              f" max {max(times):.2f} s ({_load()})")
    finally:
        for hog in hogs:
            hog.kill()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=15)
    parser.add_argument("--model-runs", type=int, default=3)
    parser.add_argument("--model", default="qwen2.5-coder-0.5b", help="a catalogue name (from CARO_HOME) or a .gguf path")
    parser.add_argument("--busy", type=int, default=0, help="then N model requests with two `yes` running")
    parser.add_argument("--no-model", action="store_true", help="only the table answers and checks")
    args = parser.parse_args()
    runtime = tempfile.mkdtemp(prefix="caro-bench-", dir="/tmp")
    env = {**os.environ, "XDG_RUNTIME_DIR": runtime, "CARO_TELEMETRY": "0", "CARO_BACKEND": "none"}
    print(f"caro service bench: {_load()}")
    try:
        fast_paths(env, args.runs)
        if not args.no_model:
            requests = model_answers(env, args.model, args.model_runs)
            if args.busy:
                from pipeline.backends.chain import catalogue_model_path

                path = catalogue_model_path(args.model) if not args.model.endswith(".gguf") else Path(args.model)
                busy({**env, "CARO_BACKEND": "llama_cpp", "CARO_MODEL": str(path)}, requests, args.busy)
    finally:
        _run([CARO, "serve", "--stop"], env)
        shutil.rmtree(runtime, ignore_errors=True)
        print(f"\nat the end: {_load()}")


if __name__ == "__main__":
    main()
