"""The telemetry notebook on a large database: generation time, notebook wall time, kernel peak memory.

    .venv/bin/python bench/bench_notebook.py [--events N] [--database PATH] [--seed S] [--repeat N]

1. Generation: `--events` demo events (default 1,000,000) through `write_demo` (validate + write
   in batches of 10,000), beside the time to only make the same events (no validation, no write)
   as the baseline. With `--database PATH` an existing file that holds events is reused as it
   is; a missing one is generated there and kept.
2. The notebook, executed with nbclient in a fresh `python3` kernel: on the large database, then
   on an empty one as the baseline (same kernel start, imports and figures setup, no data).
   Peak memory is the kernel's own: its `ru_maxrss` read by a cell appended to the copy that
   runs, and, for the large run, `RUSAGE_CHILDREN` of this process after the kernel exited
   (the largest child waited for; the kernel is the only child at that point).
3. Each analysis function alone on the large database (median of `--repeat` runs), beside a
   baseline that loads the generation rows into pandas and takes numpy quantiles: what the
   SQL window query replaces.

Nothing is asserted; the figures go into the notes. Load on a shared machine skews times, so
the load average is printed before and after.
"""

from __future__ import annotations

import argparse
import os
import resource
import sqlite3
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import nbformat
from nbclient import NotebookClient
from nbformat.v4 import new_code_cell

from pipeline.telemetry import analysis
from pipeline.telemetry.demo import demo_events
from pipeline.telemetry.demo_db import stored_events, write_demo
from pipeline.telemetry.store import TelemetryStore

NOTEBOOK = Path(__file__).resolve().parents[1] / "notebooks" / "telemetry_analysis.ipynb"
PEAK_CELL = "import resource\nprint('kernel peak RSS KiB', resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)"


def _load() -> str:
    return "load average %.2f %.2f %.2f" % os.getloadavg()


def generate(path: Path, events: int, seed: int) -> None:
    """Fill `path` with demo events unless it already holds some; print the times."""
    held = stored_events(path)
    if held:
        print(f"generation: reusing {held:,} events ({path.stat().st_size / 1e6:,.0f} MB)")
        return
    start = time.perf_counter()
    made = sum(1 for _ in demo_events(events, seed=seed))
    make_s = time.perf_counter() - start
    start = time.perf_counter()
    report = write_demo(path, events, seed=seed)
    write_s = time.perf_counter() - start
    assert report.written == made == events and report.dropped == 0
    print(f"generation: {events:,} events, {path.stat().st_size / 1e6:,.0f} MB")
    print(f"  write_demo (make + validate + write)  {write_s:8.1f} s  {events / write_s:>10,.0f} events/s")
    print(f"  baseline: make the events only         {make_s:8.1f} s  {events / make_s:>10,.0f} events/s")


def run_notebook(database: Path, folder: Path) -> tuple[float, int, int]:
    """Execute the notebook on `database`: wall seconds, images drawn, and the kernel's peak RSS in KiB."""
    nb = nbformat.read(NOTEBOOK, as_version=4)
    at = next(i for i, c in enumerate(nb.cells) if "parameters" in c.metadata.get("tags", []))
    nb.cells.insert(at + 1, new_code_cell(f"database = {str(database)!r}"))
    nb.cells.append(new_code_cell(PEAK_CELL))
    start = time.perf_counter()
    NotebookClient(nb, kernel_name="python3", timeout=600, resources={"metadata": {"path": str(folder)}}).execute()
    wall = time.perf_counter() - start
    outputs = [o for c in nb.cells if c.cell_type == "code" for o in c.outputs]
    errors = [o for o in outputs if o["output_type"] == "error"]
    if errors:
        raise SystemExit(f"the notebook failed: {errors[0]['ename']}")
    images = sum("image/png" in o.get("data", {}) for o in outputs)
    peak = int(nb.cells[-1].outputs[0]["text"].split()[-1])
    return wall, images, peak


def _timed(work: Callable[[], object], repeat: int) -> float:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        work()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def functions(database: Path, repeat: int) -> None:
    cases: dict[str, Callable[[], object]] = {
        "summary": lambda: analysis.summary(database),
        "requests_over_time(day)": lambda: analysis.requests_over_time(database, "day"),
        "requests_over_time(hour)": lambda: analysis.requests_over_time(database, "hour"),
        "backend_share": lambda: analysis.backend_share(database),
        "backend_share_over_time": lambda: analysis.backend_share_over_time(database),
        "latency_by_backend": lambda: analysis.latency_by_backend(database),
        "generation_failure_rates": lambda: analysis.generation_failure_rates(database),
        "backend_error_rates": lambda: analysis.backend_error_rates(database),
        "safety_actions_over_time": lambda: analysis.safety_actions_over_time(database),
        "safety_categories": lambda: analysis.safety_categories(database),
        "safety_categories_over_time": lambda: analysis.safety_categories_over_time(database),
        "refine_rates": lambda: analysis.refine_rates(database),
    }
    analysis.summary(database)  # warm the page cache once, as the notebook's first cell does
    print(f"analysis functions alone (median of {repeat}):")
    total = 0.0
    for name, work in cases.items():
        seconds = _timed(work, repeat)
        total += seconds
        print(f"  {name:<30} {seconds * 1000:9.1f} ms")
    print(f"  {'all of them':<30} {total * 1000:9.1f} ms")

    def naive() -> object:
        import pandas as pd

        conn = sqlite3.connect(database)
        try:
            rows = pd.read_sql_query("SELECT backend, duration_ms FROM events WHERE event_type = 'command_generation'", conn)
        finally:
            conn.close()
        return rows.groupby("backend")["duration_ms"].quantile([0.5, 0.95])

    print(f"  baseline: load generations into pandas, numpy quantiles {_timed(naive, repeat) * 1000:9.1f} ms")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--events", type=int, default=1_000_000, help="demo events to generate")
    parser.add_argument("--database", type=Path, help="reuse (or create and keep) this database")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--repeat", type=int, default=3, help="runs per analysis function")
    args = parser.parse_args()
    print(_load())
    with tempfile.TemporaryDirectory(prefix="caro-bench-") as name:
        folder = Path(name)
        database = args.database or folder / "demo.db"
        generate(database, args.events, args.seed)

        wall, images, peak = run_notebook(database, folder)
        children = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss  # KiB on Linux
        empty = folder / "empty.db"
        with TelemetryStore(empty) as store:
            store.counts()
        base_wall, base_images, base_peak = run_notebook(empty, folder)
        print(f"notebook on {stored_events(database):,} events: {wall:6.1f} s wall, {images} figures, "
              f"kernel peak RSS {peak / 1024:,.0f} MiB (RUSAGE_CHILDREN after exit: {children / 1024:,.0f} MiB)")
        print(f"  baseline, empty database:   {base_wall:6.1f} s wall, {base_images} figures, kernel peak RSS {base_peak / 1024:,.0f} MiB")

        functions(database, args.repeat)
    print(_load())


if __name__ == "__main__":
    main()
