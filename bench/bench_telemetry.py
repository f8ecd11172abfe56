"""Throughput of the telemetry path (validate, insert, both) and read times over a large store.

    .venv/bin/python bench/bench_telemetry.py [--events N] [--batch N] [--stored N]

Part 1 validates `--events` realistic events in batches of `--batch` and inserts each batch in
one transaction with sqlite-utils' `insert_all`; it prints events/s for validate only, insert
only, and both, beside a plain `sqlite3.executemany` insert of the same rows as the baseline.
Part 2 fills a store with `--stored` events through the same validated path, then times
`query(last=50)`, `query(event_type=..., last=50)`, `query(since=...)` with and without a
limit, and `counts()` in process, then whole `caro telemetry show` and `status` processes over
that store beside `python -c pass`.
Everything lives in a temporary folder. No target is asserted; the figures go into the notes.
"""

from __future__ import annotations

import argparse
import os
import random
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import datetime, timedelta, timezone
from pathlib import Path

from pipeline.telemetry.events import Arch, Backend, BackendError, CommandGeneration, Event, GenerationFailure, OsFamily, SafetyValidation, SessionEnd, SessionStart, new_session_id, utc_timestamp

from pipeline.telemetry.privacy import SensitiveContext

from pipeline.telemetry.schemas import ValidatedBatch, validate_events

from pipeline.telemetry.store import TelemetryStore
from pipeline.telemetry.store import ALL_COLUMNS
from pipeline.values import Action, Category, GenerationErrorKind, Outcome, Risk, SafetyLevel

# A request as caro would see it, so the privacy check searches for realistic fragments.
SENSITIVE = SensitiveContext(
    request="find all python files under my projects folder changed this week",
    command="find ~/projects -name '*.py' -mtime -7",
    cwd="/home/benchuser/projects/caro",
    home="/home/benchuser",
    user="benchuser",
    host="bench-host.example.org",
    env_values=("/usr/local/bin:/usr/bin:/bin", "xterm-256color", "en_US.UTF-8", "/home/benchuser"),
)


def _session(rng: random.Random, start: datetime) -> list[Event]:
    """One request's events: start, one or two generations, maybe an error, a verdict, the end."""
    sid = new_session_id()
    ts = utc_timestamp(start)
    events: list[Event] = [
        SessionStart(
            session_id=sid, ts=ts, caro_version="0.1.0", os=OsFamily.LINUX, arch=Arch.X86_64,
            backends=(Backend.STATIC, Backend.LLAMA_CPP), safety_level=SafetyLevel.MODERATE,
        )
    ]
    for backend in rng.sample([Backend.STATIC, Backend.LLAMA_CPP, Backend.VLLM], k=rng.randint(1, 2)):
        ok = rng.random() < 0.8
        events.append(CommandGeneration(
            session_id=sid, ts=ts, backend=backend, duration_ms=rng.randint(1, 4000), success=ok,
            error_category=None if ok else rng.choice(list(GenerationFailure)),
            refine_ran=rng.random() < 0.2, refine_changed=rng.random() < 0.1,
        ))
    if rng.random() < 0.1:
        events.append(BackendError(
            session_id=sid, ts=ts, backend=Backend.LLAMA_CPP,
            error_category=rng.choice(list(GenerationErrorKind)), recoverable=rng.random() < 0.5,
        ))
    events.append(SafetyValidation(
        session_id=sid, ts=ts, risk=rng.choice(list(Risk)), action=rng.choice(list(Action)),
        categories=tuple(rng.sample(list(Category), k=rng.randint(0, 2))),
    ))
    events.append(SessionEnd(
        session_id=sid, ts=ts, outcome=rng.choice(list(Outcome)), duration_ms=rng.randint(5, 9000),
        executed=rng.random() < 0.5,
    ))
    return events


def _events(count: int, rng: random.Random, start: datetime) -> list[Event]:
    out: list[Event] = []
    moment = start
    while len(out) < count:
        out.extend(_session(rng, moment))
        moment += timedelta(milliseconds=rng.randint(1, 400))
    return out[:count]


def _timed(work: Callable[[], object]) -> tuple[float, object]:
    start = time.perf_counter()
    result = work()
    return time.perf_counter() - start, result


def _rate(n: int, seconds: float) -> str:
    return f"{n / seconds:>12,.0f} events/s  ({seconds:.2f} s)"


def throughput(total: int, batch: int, folder: Path) -> None:
    rng = random.Random(1)
    events = _events(total, rng, datetime(2025, 1, 1, tzinfo=timezone.utc))
    chunks = [events[i : i + batch] for i in range(0, total, batch)]

    validate_s, batches = _timed(lambda: [validate_events(c, SENSITIVE) for c in chunks])
    batches_list: list[ValidatedBatch] = batches  # type: ignore[assignment]
    kept = sum(b.row_count for b in batches_list)
    assert kept == total, f"bench events must all be valid, {total - kept} were dropped"

    with TelemetryStore(folder / "insert.db") as store:
        insert_s, outcomes = _timed(lambda: [store.write(b) for b in batches_list])
    assert all(o.ok for o in outcomes)  # type: ignore[union-attr]

    with TelemetryStore(folder / "both.db") as store:
        both_s, _ = _timed(lambda: [store.write(validate_events(c, SENSITIVE)) for c in chunks])

    # Baseline: the same rows through bare sqlite3, one executemany per batch, same pragmas.
    with TelemetryStore(folder / "baseline.db") as store:
        store.counts()  # create the schema
    conn = sqlite3.connect(folder / "baseline.db")
    conn.execute("PRAGMA synchronous = NORMAL")
    columns = [c for c in ALL_COLUMNS if c != "id"]
    sql = f"INSERT INTO events ({', '.join(columns)}) VALUES ({', '.join('?' * len(columns))})"

    def raw() -> None:
        for b in batches_list:
            with conn:
                conn.executemany(sql, ([r.get(c) for c in columns] for rs in b.rows.values() for r in rs))

    raw_s, _ = _timed(raw)
    conn.close()

    print(f"throughput: {total:,} events, batches of {batch:,}")
    print(f"  validate only                 {_rate(total, validate_s)}")
    print(f"  insert only (insert_all)      {_rate(total, insert_s)}")
    print(f"  validate + insert             {_rate(total, both_s)}")
    print(f"  baseline: sqlite3 executemany {_rate(total, raw_s)}")


def reads(stored: int, batch: int, folder: Path) -> None:
    rng = random.Random(2)
    path = folder / "home" / "data" / "telemetry.db"  # where `caro` finds it with CARO_HOME=folder/home
    start = datetime(2024, 1, 1, tzinfo=timezone.utc)
    fill_start = time.perf_counter()
    with TelemetryStore(path) as store:
        done = 0
        while done < stored:
            n = min(batch, stored - done)
            # ~45 ms apart on average, as _events spaces them, so the batches form one timeline
            events = _events(n, rng, start + timedelta(milliseconds=45 * done))
            outcome = store.write(validate_events(events, SENSITIVE))
            assert outcome.ok and outcome.written == n
            done += n
    fill_s = time.perf_counter() - fill_start
    size_mb = path.stat().st_size / 1e6
    print(f"\nstore of {stored:,} events (filled through validate + write: {_rate(stored, fill_s)}; {size_mb:,.0f} MB)")

    with TelemetryStore(path) as store:
        newest = datetime.fromisoformat(str(store.query(last=1)[0]["ts"]))
        since = utc_timestamp(newest - timedelta(hours=1))
        cases: dict[str, Callable[[], object]] = {
            "query(last=50)": lambda: store.query(last=50),
            "query(event_type='backend_error', last=50)": lambda: store.query(event_type="backend_error", last=50),
            "query(since=<last hour>, last=50)": lambda: store.query(since=since, last=50),
            "query(since=<last hour>) (all rows, decoded)": lambda: store.query(since=since),
            "counts()": store.counts,
        }
        store.counts()  # open and warm the page cache once, as a second `show` would find it
        for name, work in cases.items():
            times = []
            for _ in range(7):
                seconds, result = _timed(work)
                times.append(seconds)
            size = len(result) if isinstance(result, (list, dict)) else 0  # type: ignore[arg-type]
            print(f"  {name:<44} median {statistics.median(times) * 1000:8.2f} ms  ({size} rows)")
    processes(folder / "home")


def processes(home: Path) -> None:
    """Whole `caro telemetry show|status` processes over the same store, beside `python -c pass`."""
    caro = str(Path(sys.executable).parent / "caro")
    env = {**{k: v for k, v in os.environ.items() if not k.startswith("CARO_")}, "CARO_HOME": str(home)}
    cases = {
        "python -c pass (baseline)": [sys.executable, "-c", "pass"],
        "caro telemetry show": [caro, "telemetry", "show"],
        "caro telemetry show --type backend_error -n 50": [caro, "telemetry", "show", "--type", "backend_error", "-n", "50"],
        "caro telemetry status": [caro, "telemetry", "status"],
    }
    times: dict[str, list[float]] = {name: [] for name in cases}
    for _ in range(7):  # interleaved, so drift hits every case alike
        for name, argv in cases.items():
            seconds, _ = _timed(lambda: subprocess.run(argv, env=env, capture_output=True, check=True))
            times[name].append(seconds)
    base = statistics.median(times["python -c pass (baseline)"])
    print("  whole processes (median of 7):")
    for name, values in times.items():
        median = statistics.median(values)
        print(f"    {name:<46} {median * 1000:8.0f} ms  ({median / base:.1f}x baseline)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--events", type=int, default=200_000, help="events for the throughput part")
    parser.add_argument("--batch", type=int, default=10_000, help="events per validated batch")
    parser.add_argument("--stored", type=int, default=1_000_000, help="events in the store for the read part")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="caro-bench-") as name:
        folder = Path(name)
        throughput(args.events, args.batch, folder)
        if args.stored:
            reads(args.stored, args.batch, folder)


if __name__ == "__main__":
    main()
