"""Whole `caro` processes on the static path with telemetry on and off, in the same run.

    .venv/bin/python bench/bench_telemetry_cli.py [--runs N]

Target: on/off ratio <= 1.10. Each run alternates the two so drift hits both alike.
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

CARO = str(Path(sys.executable).parent / "caro")
REQUEST = "find python files modified in the last 7 days"


def _time(env: dict[str, str]) -> float:
    start = time.perf_counter()
    subprocess.run([CARO, "--output", "json", REQUEST], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env, check=True)
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=15)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as home:
        base = {k: v for k, v in os.environ.items() if not k.startswith("CARO_") and k != "DO_NOT_TRACK"}
        off = {**base, "CARO_HOME": home, "CARO_TELEMETRY_ENABLED": "0"}
        on = {**base, "CARO_HOME": home, "CARO_TELEMETRY_ENABLED": "1"}
        _time(off), _time(on)  # warm caches; creates the database
        offs, ons = [], []
        for _ in range(args.runs):
            offs.append(_time(off))
            ons.append(_time(on))
    m_off, m_on = statistics.median(offs), statistics.median(ons)
    print(f"telemetry off: median {m_off * 1000:.0f} ms")
    print(f"telemetry on:  median {m_on * 1000:.0f} ms")
    print(f"ratio on/off:  {m_on / m_off:.2f} (target <= 1.10)")


if __name__ == "__main__":
    main()
