"""One model, many clients: the tiny real model behind the service, its queue, its budget, its prefix, its crashes."""

from __future__ import annotations

import json
import os
import shutil
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from pipeline.backends.base import BackendFailure, Prompt, cancel_on
from pipeline.backends.llama_cpp import LlamaCppBackend
from pipeline.backends.sharing import FairLock, threads_now, usable_cores
from pipeline.errors import ExitCode
from tests.serving import alive, caro, service_pid, wait_until
from tests.tiny_model import LIST_FILES, TINY_MODEL, needs_tiny_model

# Not in the static table: the model must answer it.
MODEL_REQUEST = "print the weekday of 2024-01-01"


def _model_env(model: Path) -> dict[str, str]:
    # Generous limits: a shared machine can be slow, and these tests are not about the limits (tests/test_budget.py is).
    return {"CARO_BACKEND": "llama_cpp", "CARO_MODEL": str(model), "CARO_GENERATION_TIMEOUT_S": "120", "CARO_GENERATION_WARMUP_S": "600"}


@needs_tiny_model
def test_a_model_request_is_answered_by_the_service_which_keeps_the_model(tmp_path: Path) -> None:
    env = _model_env(TINY_MODEL)
    first = caro("--output", "json", MODEL_REQUEST, env=env, cwd=tmp_path)
    data = json.loads(first.stdout)
    assert first.returncode in (0, ExitCode.BLOCKED, ExitCode.NO_COMMAND) and first.stderr == ""
    assert data["source"] in ("llm", "none") and data["backend"] in ("llama_cpp", None)
    status = json.loads(caro("serve", "--status", "-o", "json").stdout)
    assert status["models"] == [TINY_MODEL.name]  # loaded in the service, not in the client
    # Temperature 0, same prompt, same cache state: the same answer. (The first answer may differ:
    # then the request's own tokens were evaluated in one batch after the primed prefix; later,
    # llama.cpp reuses the whole cached prompt and evaluates its last token alone, and batch-size
    # arithmetic can flip a near-tie of the 135M model, as it did once the code block was opened.)
    second = caro("--output", "json", MODEL_REQUEST, env=env, cwd=tmp_path)
    third = caro("--output", "json", MODEL_REQUEST, env=env, cwd=tmp_path)
    assert json.loads(second.stdout)["source"] == data["source"]
    assert json.loads(third.stdout)["command"] == json.loads(second.stdout)["command"]
    assert service_pid() == status["pid"]


@needs_tiny_model
def test_clients_take_turns_on_one_model(tmp_path: Path) -> None:
    env = _model_env(TINY_MODEL)
    assert caro("check", "ls", env=env).returncode == 0  # the service is up
    requests = [MODEL_REQUEST, "replace tabs with commas in data.tsv and print the result", "show the numbers from 1 to 20 in reverse", "print my user id"]

    def ask(request: str) -> dict:
        done = caro("--output", "json", request, env=env, cwd=tmp_path)
        assert "Traceback" not in done.stderr
        return json.loads(done.stdout)

    with ThreadPoolExecutor(max_workers=4) as pool:
        answers = list(pool.map(ask, requests))
    # With a budget that counts only a request's own work, nobody times out behind the others.
    assert all(a["error"] is None or a["error"]["code"] != "timeout" for a in answers), [a["error"] for a in answers]
    assert json.loads(caro("serve", "--status", "-o", "json").stdout)["models"] == [TINY_MODEL.name]


def test_the_model_lock_serves_in_the_order_asked() -> None:
    lock = FairLock()
    assert lock.acquire()
    order: list[int] = []
    started: list[threading.Event] = []

    def worker(n: int) -> None:
        assert lock.acquire()
        order.append(n)
        lock.release()

    threads = []
    for n in range(5):
        thread = threading.Thread(target=worker, args=(n,))
        thread.start()
        threads.append(thread)
        wait_until(lambda: len(lock._waiting) == n + 1, timeout=5)  # queued in this order
    assert not lock.acquire(timeout=0.05)  # a waiter that gives up leaves the queue
    lock.release()
    for thread in threads:
        thread.join(5)
    assert order == [0, 1, 2, 3, 4]
    assert lock.acquire(timeout=0.05)


@needs_tiny_model
def test_time_in_the_queue_is_not_taken_from_the_budget() -> None:
    backend = LlamaCppBackend(TINY_MODEL, n_ctx=2048)
    model = backend.load()
    assert model.lock.acquire()  # another client's request holds the model for 3 s
    releaser = threading.Timer(3.0, model.lock.release)
    releaser.start()
    started = time.monotonic()
    reply = backend.generate(LIST_FILES, timeout_s=2.0)  # failed with "stayed busy" before the fix
    assert time.monotonic() - started >= 3.0 and reply.command
    assert reply.latency_ms < 3000  # its own work only


@needs_tiny_model
def test_a_request_whose_client_left_stops_generating() -> None:
    backend = LlamaCppBackend(TINY_MODEL, n_ctx=2048)
    gone = threading.Event()
    gone.set()
    with cancel_on(gone), pytest.raises(BackendFailure, match="cancelled"):
        backend.generate(LIST_FILES, timeout_s=60)
    assert backend.generate(LIST_FILES, timeout_s=60).command  # the next request is served


@needs_tiny_model
def test_the_shared_prefix_is_evaluated_once_and_each_request_pays_for_its_own_tokens() -> None:
    backend = LlamaCppBackend(TINY_MODEL, n_ctx=2048)
    llama = backend.load().llama
    evaluated: list[int] = []
    original = llama.eval

    def counting_eval(tokens):  # instrumentation of the real call: how many tokens each decode takes
        evaluated.append(len(tokens))
        return original(tokens)

    llama.eval = counting_eval
    system = "Turn the request into one POSIX shell command. " * 20 + 'Answer as JSON: {"cmd": "..."}'
    first = Prompt(system=system, user="list the files in this folder", max_tokens=48)
    second = Prompt(system=system, user="show the current folder", examples=(("count the lines", '{"cmd": "wc -l"}'),), max_tokens=48)
    backend.generate(first, timeout_s=60)
    prefix_tokens = len(llama.tokenize(system.encode(), add_bos=False))
    assert evaluated[0] > prefix_tokens  # the prime: the shared turns, outside the budget
    evaluated.clear()
    backend.generate(second, timeout_s=60)
    prompt_eval = evaluated[0]  # the first decode of the call is the prompt's uncached part
    assert prompt_eval < 40 < prefix_tokens, (prompt_eval, prefix_tokens)


def test_threads_follow_the_cores_this_process_may_use() -> None:
    import subprocess
    import sys

    assert usable_cores() == len(os.sched_getaffinity(0))
    assert 1 <= threads_now() <= usable_cores()
    assert LlamaCppBackend("/nonexistent.gguf").n_threads == 0  # automatic: chosen for each generation
    # A process confined to one core uses one thread, however many the machine has.
    probe = "from pipeline.backends.sharing import threads_now, usable_cores; print(usable_cores(), threads_now())"
    done = subprocess.run(["taskset", "-c", "0", sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    assert done.stdout.split() == ["1", "1"]


def test_busy_cores_leave_fewer_threads() -> None:
    import subprocess

    if usable_cores() < 2:
        pytest.skip("needs two cores to see one taken")
    hogs = [subprocess.Popen(["yes"], stdout=subprocess.DEVNULL) for _ in range(usable_cores())]
    try:
        time.sleep(0.5)
        assert threads_now() == 1
    finally:
        for hog in hogs:
            hog.kill()


# The damaged copy aborts llama.cpp in the JSON grammar's sampler; free text only yields garbage.
CRASH_FORMAT = {"CARO_GENERATION_ANSWER_FORMAT": "json"}


def _damaged_copy(tmp_path: Path) -> Path:
    """The tiny model with 40 MB of its weights overwritten: it loads, and llama.cpp aborts while
    sampling JSON answers (`CRASH_FORMAT`)."""
    damaged = tmp_path / "damaged.gguf"
    shutil.copy(TINY_MODEL, damaged)
    with damaged.open("r+b") as handle:
        handle.seek(30_000_000)
        handle.write(b"\xff" * 40_000_000)
    return damaged


@needs_tiny_model
def test_a_model_that_crashes_takes_the_service_down_not_the_client(tmp_path: Path) -> None:
    env = {**_model_env(_damaged_copy(tmp_path)), **CRASH_FORMAT}
    assert caro("check", "ls", env=env).returncode == 0
    pid = service_pid()
    done = caro(MODEL_REQUEST, env=env, cwd=tmp_path)
    assert done.returncode == ExitCode.ERROR  # not 134: the client did not run the model itself
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and "caro model pull" in lines[0] and lines[0].startswith("caro: error: ")
    assert done.stdout == "" and "Traceback" not in done.stderr and str(tmp_path) not in done.stderr
    assert wait_until(lambda: not alive(pid))
    as_json = caro("--output", "json", MODEL_REQUEST, env=env, cwd=tmp_path)
    assert as_json.returncode == ExitCode.ERROR and json.loads(as_json.stdout)["error"]["code"] == "model_crashed"
    # Requests that need no model are answered by the next service as usual.
    assert caro("check", "ls", env=env).returncode == 0 and service_pid() not in (None, pid)


@needs_tiny_model
def test_the_readmes_first_command_is_answered_on_a_fresh_machine(tmp_path: Path) -> None:
    # A new CARO_HOME, no service running, nothing configured but the (small, installed) model.
    assert service_pid() is None
    readme = (Path(__file__).resolve().parents[1] / "README.md").read_text()
    request = "print the current date in ISO 8601 format"
    assert f'caro "{request}"' in readme
    done = caro(request, env={"CARO_BACKEND": "llama_cpp", "CARO_MODEL": "smollm2-135m"}, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert len(done.stdout.splitlines()) == 1 and done.stdout.strip()
    assert "Traceback" not in done.stderr and service_pid() is not None
