"""`caro telemetry demo`: synthetic telemetry for trying the analysis notebook, in a file of its own."""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Optional

import typer

from pipeline.cli.options import ConfigOpt, OutputOpt
from pipeline.cli.telemetry import _database, _emit, _format, telemetry_app
from pipeline.errors import usage_error
from pipeline.settings import OutputFormat

DEMO_FILE = "telemetry-demo.db"
DemoEventsOpt = Annotated[
    int, typer.Option("--events", "-n", help="How many events to generate, 1 to 10000000 (about 4 per request).", show_default=False)
]


@telemetry_app.command("demo")
def demo(
    events: DemoEventsOpt,
    output_file: Annotated[
        Optional[Path],
        typer.Option(
            "--output-file",
            help=f"Write to this database instead of {DEMO_FILE} beside the real one (which is only written when named here).",
            show_default=False,
        ),
    ] = None,
    seed: Annotated[int, typer.Option("--seed", help="Random seed; the same seed, count and span give the same events.")] = 0,
    days: Annotated[int, typer.Option("--days", help="Days the events span, ending at the start of the current hour (UTC).")] = 30,
    append: Annotated[
        bool, typer.Option("--append", help="Add to a database that already holds events (without it: exit code 2, nothing written).")
    ] = False,
    output: OutputOpt = None,
    config: ConfigOpt = None,
) -> int:
    """Write realistic synthetic telemetry (for the analysis notebook), validated and stored like real events."""
    from pipeline.telemetry.demo import MAX_DAYS, MAX_EVENTS
    from pipeline.telemetry.demo_db import write_demo

    if not 1 <= events <= MAX_EVENTS:
        raise usage_error(f"--events must be 1 to {MAX_EVENTS}", hint="e.g. --events 10000")
    if not 1 <= days <= MAX_DAYS:
        raise usage_error(f"--days must be 1 to {MAX_DAYS}")
    if seed < 0:
        raise usage_error("--seed must be 0 or more")
    fmt = _format(output, config)
    path = output_file if output_file is not None else _database().with_name(DEMO_FILE)
    report = write_demo(path, events, seed=seed, days=days, append=append, on_batch=_demo_progress(events))
    if sys.stderr.isatty():
        sys.stderr.write("\r\033[K")
    if fmt is not OutputFormat.PLAIN:
        _emit(
            {"written": report.written, "dropped": report.dropped, "total": report.total, "appended": report.appended,
             "database": str(report.path), "seed": seed, "days": days},
            fmt,
        )
        return 0
    # The path is printed because the user needs it to open the notebook on this file.
    more = f" ({report.total} in all)" if report.appended else ""
    sys.stdout.write(f"wrote {report.written} demo events to {report.path}{more}\n")
    if report.dropped:
        sys.stderr.write(f"caro: {report.dropped} generated events failed validation and were not stored\n")
    return 0


def _demo_progress(total: int) -> Callable[[int], None]:
    """A progress callback that redraws one stderr line while a terminal watches; otherwise silent."""

    def show(done: int) -> None:
        if sys.stderr.isatty():
            sys.stderr.write(f"\rcaro: writing demo events: {done}/{total}")
            sys.stderr.flush()

    return show
