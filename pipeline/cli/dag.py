"""`caro dag`: write the request DAG as DOT, SVG or PNG."""

from __future__ import annotations

import sys
from pathlib import Path

from pipeline.cli.common import settings_from
from pipeline.errors import CaroError


def draw_dag(*, output: Path | None, config: Path | None) -> int:
    """Draw the DAG to a file, or print its DOT source; the exit code."""
    from pipeline.dag import dag_source, render

    settings = settings_from(config)
    source = dag_source(settings["backend"])
    if output is None:
        sys.stdout.write(source)
        return 0
    data = render(source, output.suffix.lower().lstrip("."))
    try:
        output.write_bytes(data)
    except OSError as exc:
        raise CaroError(f"cannot write the DAG file ({exc.strerror})", code="io_error") from None
    sys.stderr.write(f"caro: wrote the DAG ({len(data)} bytes)\n")
    return 0
