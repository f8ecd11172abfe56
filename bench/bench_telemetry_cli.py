"""Whole `caro` processes on the static path with telemetry on and off, in the same run.

    .venv/bin/python bench/bench_telemetry_cli.py [--runs N]

Target: on/off ratio <= 1.10, for what the user waits for: the `caro` process, from start
to exit. Three configurations run alternately so that drift hits them alike:

- off: telemetry disabled;
- on (default): `telemetry.flush = "background"`, the events validated and stored by a child
  forked after the answer is out; the bench also reports when that child's write was done
  (waiting on the lock readers use), which the user does not wait for;
- on, inline: `telemetry.flush = "inline"`, validated and stored before caro exits.

Each run of an "on" configuration checks that its request's events were stored.
"""

from __future__ import annotations

import argparse
import os
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from pipeline.telemetry.pending import wait_for_writes

CARO = str(Path(sys.executable).parent / "caro")
REQUEST = "find python files modified in the last 7 days"
EVENTS_PER_REQUEST = 4  # session_start, command_generation, safety_validation, session_end


def _run(env: dict[str, str], database: Path | None) -> tuple[float, float]:
    """Seconds until `caro` exited, and until its events were stored (same when off or inline)."""
    start = time.perf_counter()
    subprocess.run([CARO, "--output", "json", REQUEST], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env, check=True)
    exited = time.perf_counter() - start
    if database is None:
        return exited, exited
    wait_for_writes(database)
    return exited, time.perf_counter() - start


def _stored(database: Path) -> int:
    with sqlite3.connect(database) as conn:
        return conn.execute("SELECT count(*) FROM events").fetchone()[0]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=15)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as home:
        database = Path(home) / "data" / "telemetry.db"
        base = {k: v for k, v in os.environ.items() if not k.startswith("CARO_") and k != "DO_NOT_TRACK"}
        base.update(CARO_HOME=home, CARO_BACKEND="none")
        configs = {
            "off": ({**base, "CARO_TELEMETRY_ENABLED": "0"}, None),
            "on (background flush)": ({**base, "CARO_TELEMETRY_ENABLED": "1", "CARO_TELEMETRY_FLUSH": "background"}, database),
            "on (inline flush)": ({**base, "CARO_TELEMETRY_ENABLED": "1", "CARO_TELEMETRY_FLUSH": "inline"}, database),
        }
        for env, db in configs.values():
            _run(env, db)  # warm caches; creates the database
        exits: dict[str, list[float]] = {name: [] for name in configs}
        stored: dict[str, list[float]] = {name: [] for name in configs}
        for _ in range(args.runs):
            for name, (env, db) in configs.items():
                before = _stored(db) if db is not None else 0
                exited, done = _run(env, db)
                if db is not None and _stored(db) != before + EVENTS_PER_REQUEST:
                    raise SystemExit(f"{name}: the request's events were not all stored")
                exits[name].append(exited)
                stored[name].append(done)
    off = statistics.median(exits["off"])
    print(f"{args.runs} runs of each, alternating; median wall time of the whole process")
    for name in configs:
        m = statistics.median(exits[name])
        line = f"  {name:<22} {m * 1000:6.0f} ms   ratio {m / off:.2f}"
        if name.startswith("on (background"):
            line += f"   (events stored {statistics.median(stored[name]) * 1000:.0f} ms after start)"
        print(line)
    print(f"target: on/off <= 1.10 for the default (background) flush")


if __name__ == "__main__":
    main()
