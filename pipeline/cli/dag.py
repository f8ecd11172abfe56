"""`caro dag`: write the request DAG, or the path one request took through it, as DOT, SVG or PNG."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING

from pipeline.cli.common import read_text, settings_from
from pipeline.errors import CaroError

if TYPE_CHECKING:
    from pipeline.settings import Settings


def draw_dag(*, output: Path | None, config: Path | None, execution: str | None = None) -> int:
    """Draw the DAG (or one request's path through it) to a file, or print its DOT source; the exit code."""
    from pipeline.dag import check_format, dag_source, render

    fmt = output.suffix.lower().lstrip(".") if output is not None else "dot"
    check_format(fmt)
    settings = settings_from(config)
    source = dag_source(settings["backend"]) if execution is None else _execution(settings, execution, config)
    if output is None:
        sys.stdout.write(source)
        return 0
    data = render(source, fmt)
    try:
        output.write_bytes(data)
    except OSError as exc:
        raise CaroError(f"cannot write the DAG file ({exc.strerror})", code="io_error") from None
    sys.stderr.write(f"caro: wrote the DAG ({len(data)} bytes)\n")
    return 0


def _execution(settings: Settings, request: str, config: Path | None = None) -> str:
    """The DOT source of the path one request takes through the DAG (in the caro service when it can)."""
    import os

    from pipeline.cli.remote import ask_once
    from pipeline.dag import execution_source, trace
    from pipeline.service import Caro, RequestOptions

    # `-` reads the request from stdin, like `caro run` does when it is piped.
    text = read_text(None) if request == "-" else read_text(None, request)
    if settings["serve.enabled"]:
        traced = ask_once("trace", text, {"config": os.path.abspath(config) if config is not None else None})
        if traced is not None:
            return str(traced["dot"])
    caro = Caro.from_settings(settings)
    options = RequestOptions(safety=settings.safety, shell=settings.shell, userland=settings.userland)
    # The request runs through the pipeline only: its command is never run, no telemetry is
    # recorded, and no model is downloaded (a missing one shows as the generation's failure).
    return execution_source(caro, trace(caro, text, options))
