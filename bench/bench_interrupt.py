"""The time budget as a wall-clock limit, and how fast Ctrl-C ends a model request (issue 12, finding 9).

    .venv/bin/python bench/bench_interrupt.py [--runs N] [--model NAME_OR_PATH] [--timeout S]

Whole `caro` processes asking the default model for requests the static table does not answer,
in process (`CARO_SERVE_ENABLED=0`) and through a warm service:

- **budget**: `generation.timeout_s = S` (small enough that the model cannot finish); the
  process's wall time beside S. In process the model's load is warm-up, charged to
  `generation.warmup_s`, not to S: that part is printed apart (the time to the first sign that
  the request's budget started is not visible from outside, so the load is measured alone, as
  `caro` answering a table request does not load it: a model request with a budget of 1 ms).
- **Ctrl-C**: a request with a 60 s budget, SIGINT after `--after` (`--after-service`) seconds (while the model
  evaluates or generates); the time from the signal to the process's exit, and its exit code.

No target is asserted: the figures go into the issue notes. Telemetry is off.
"""

from __future__ import annotations

import argparse
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

CARO = str(Path(sys.executable).parent / "caro")
REQUESTS = [
    "rename every jpeg picture here so that it ends in jpg",
    "show the lines of notes.txt that are longer than 80 characters",
    "print the sizes of the three largest folders under here",
    "count how many distinct words appear in notes.txt",
    "list the users that have a login shell",
]


def _env(extra: dict[str, str]) -> dict[str, str]:
    return {**os.environ, "CARO_TELEMETRY_ENABLED": "0", **extra}


def _timed(argv: list[str], env: dict[str, str], cwd: str) -> tuple[float, int]:
    start = time.perf_counter()
    done = subprocess.run(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, stdin=subprocess.DEVNULL, env=env, cwd=cwd)
    return time.perf_counter() - start, done.returncode


def _interrupted(argv: list[str], env: dict[str, str], cwd: str, after: float) -> tuple[float, int]:
    child = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, stdin=subprocess.DEVNULL, env=env, cwd=cwd)
    time.sleep(after)
    sent = time.perf_counter()
    child.send_signal(signal.SIGINT)
    code = child.wait(timeout=120)
    return time.perf_counter() - sent, code


def _line(label: str, values: list[float], codes: list[int]) -> None:
    print(f"{label:<44} median {statistics.median(values) * 1000:8.0f} ms   max {max(values) * 1000:8.0f} ms   exit {sorted(set(codes))}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--model", default="qwen2.5-coder-0.5b")
    parser.add_argument("--timeout", type=float, default=0.5, help="generation.timeout_s for the budget runs")
    parser.add_argument("--after", type=float, default=2.5, help="seconds before SIGINT, in process (loading or evaluating)")
    parser.add_argument("--after-service", type=float, default=0.3, help="seconds before SIGINT, through the warm service")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="caro-bench-") as place:
        runtime = Path(place) / "run"
        runtime.mkdir(mode=0o700)
        work = Path(place) / "work"
        work.mkdir()
        (work / "notes.txt").write_text("a line\n" * 20)
        base = {"CARO_MODEL": args.model, "CARO_BACKEND": "llama_cpp", "XDG_RUNTIME_DIR": str(runtime)}
        modes = {"in process": _env({**base, "CARO_SERVE_ENABLED": "0"}), "warm service": _env(base)}
        print(f"load average {os.getloadavg()[0]:.2f}, {len(os.sched_getaffinity(0))} cores, budget {args.timeout} s")
        for mode, env in modes.items():
            if mode == "warm service":  # start it and load the model: later runs find it warm
                subprocess.run([CARO, "--dry-run", REQUESTS[0]], env={**env, "CARO_GENERATION_TIMEOUT_S": "60"},
                               cwd=work, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, stdin=subprocess.DEVNULL)
            load = [_timed([CARO, "--dry-run", REQUESTS[0]], {**env, "CARO_GENERATION_TIMEOUT_S": "0.001"}, str(work)) for _ in range(args.runs)]
            _line(f"{mode}: budget 1 ms (load and warm-up)", [t for t, _ in load], [c for _, c in load])
            spent = [_timed([CARO, "--dry-run", REQUESTS[i % len(REQUESTS)]], {**env, "CARO_GENERATION_TIMEOUT_S": str(args.timeout)}, str(work))
                     for i in range(args.runs)]
            _line(f"{mode}: budget {args.timeout} s", [t for t, _ in spent], [c for _, c in spent])
            after = args.after if mode == "in process" else args.after_service
            stops = [_interrupted([CARO, "--dry-run", REQUESTS[i % len(REQUESTS)]], {**env, "CARO_GENERATION_TIMEOUT_S": "60"}, str(work), after)
                     for i in range(args.runs)]
            _line(f"{mode}: SIGINT after {after} s -> exit", [t for t, _ in stops], [c for _, c in stops])
        subprocess.run([CARO, "serve", "--stop"], env=modes["warm service"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return 0


if __name__ == "__main__":
    sys.exit(main())
