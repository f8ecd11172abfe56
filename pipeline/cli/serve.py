"""`caro serve`: start the resident service, show its status, stop it, or run it in this terminal."""

from __future__ import annotations

import sys
import time
from typing import Any

from pipeline.cli.common import emit_data, settings_from
from pipeline.errors import CaroError, usage_error
from pipeline.settings import OutputFormat


def serve_command(*, status: bool, stop: bool, foreground: bool, output: OutputFormat | None) -> int:
    """The exit code of `caro serve [--status | --stop | --foreground]`."""
    from pipeline.serve.client import Service
    from pipeline.serve.endpoint import Unavailable

    if status + stop + foreground > 1:
        raise usage_error("give at most one of --status, --stop and --foreground")
    fmt = settings_from(None, output=output).output
    if foreground:
        from pipeline.serve.__main__ import run

        sys.stderr.write("caro: serving requests in this terminal; Ctrl-C stops\n")
        return run()
    try:
        service = Service.connect(start=not (status or stop))
    except Unavailable as why:
        if status or stop:
            return _show({"running": False}, fmt)
        raise CaroError(f"the caro service cannot start: {why.reason}", code="serve_unavailable") from None
    try:
        if stop:
            service.ask({"op": "stop"})
            service.close()
            _wait_until_stopped()
            return _show({"running": False, "stopped": True}, fmt)
        return _show(service.ask({"op": "status"})["status"], fmt)  # type: ignore[arg-type]
    finally:
        service.close()


def _wait_until_stopped(timeout_s: float = 10.0) -> None:
    from pipeline.serve.client import Service
    from pipeline.serve.endpoint import Unavailable

    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        try:
            Service.connect(start=False).close()
        except Unavailable:
            return
        time.sleep(0.05)


def _show(state: dict[str, Any], fmt: OutputFormat) -> int:
    if fmt is not OutputFormat.PLAIN:
        emit_data(state, fmt)
        return 0
    if not state.get("running"):
        sys.stdout.write("caro service: stopped\n" if state.get("stopped") else "caro service: not running\n")
        return 0
    models = ", ".join(state["models"]) or "none loaded yet"
    sys.stdout.write(
        f"caro service: running (pid {state['pid']}, version {state['version']})\n"
        f"up: {state['uptime_s']:.0f} s, requests: {state['requests']}, exits after {state['idle_s']:.0f} s idle\n"
        f"models: {models}\nsocket: {state['socket']}\n"
    )
    return 0
