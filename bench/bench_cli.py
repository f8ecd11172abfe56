"""Wall time of whole `caro` processes against `python -c pass`, measured in the same run.

    .venv/bin/python bench/bench_cli.py [--runs N]

Prints the median and p90 of each, and each one's ratio to the bare interpreter. No target is
asserted here; the figures go into the issue notes.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

BIN = Path(sys.executable).parent
CASES = {
    "python -c pass (baseline)": [sys.executable, "-c", "pass"],
    "caro --version": [str(BIN / "caro"), "--version"],
    "caro config path": [str(BIN / "caro"), "config", "path"],
    'caro --output json "<static request>"': [
        str(BIN / "caro"), "--output", "json", "find python files modified in the last 7 days",
    ],
    'caro check "rm -rf /"': [str(BIN / "caro"), "check", "rm -rf /"],
}


def _time(argv: list[str], env: dict[str, str]) -> float:
    start = time.perf_counter()
    subprocess.run(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env, check=False)
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=15)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as home:
        env = {**os.environ, "CARO_HOME": home}
        for argv in CASES.values():  # warm the OS file cache and the bytecode cache
            _time(argv, env)
        samples: dict[str, list[float]] = {name: [] for name in CASES}
        for _ in range(args.runs):  # interleaved, so drift hits every case alike
            for name, argv in CASES.items():
                samples[name].append(_time(argv, env))
    base = statistics.median(samples["python -c pass (baseline)"])
    print(f"{'case':<42} {'median ms':>10} {'p90 ms':>8} {'x baseline':>11}")
    for name, values in samples.items():
        values.sort()
        median = statistics.median(values)
        p90 = values[min(len(values) - 1, int(0.9 * len(values)))]
        print(f"{name:<42} {median * 1000:>10.1f} {p90 * 1000:>8.1f} {median / base:>11.1f}")


if __name__ == "__main__":
    main()
