"""Helpers for the tests of the caro service: run `caro` as a real process, find its service."""

from __future__ import annotations

import os
import subprocess
import time
from pathlib import Path

from pipeline.serve.endpoint import Endpoint, Unavailable
from tests.conftest import caro_executable


def caro(
    *args: str, env: dict[str, str] | None = None, cwd: Path | str | None = None, stdin: str | None = None, timeout: float = 120
) -> subprocess.CompletedProcess[str]:
    """`caro ARGS` as a real process, with the test's environment (its CARO_HOME and runtime directory)."""
    return subprocess.run(
        [caro_executable(), *args], capture_output=True, text=True, cwd=cwd, env={**os.environ, **(env or {})},
        input=stdin, stdin=None if stdin is not None else subprocess.DEVNULL, timeout=timeout,
    )


def endpoint(env: dict[str, str] | None = None) -> Endpoint:
    return Endpoint.for_environment({**os.environ, **(env or {})}, create=False)


def service_pid(env: dict[str, str] | None = None) -> int | None:
    """The pid of the running service of this environment, or None."""
    try:
        pid = int(Path(endpoint(env).pid_file).read_text())
    except (OSError, ValueError, Unavailable):
        return None
    return pid if alive(pid) else None


def alive(pid: int) -> bool:
    """Whether a process runs (a zombie does not count)."""
    try:
        os.kill(pid, 0)
        status = Path(f"/proc/{pid}/status").read_text()
    except (ProcessLookupError, OSError):
        return False
    return "State:\tZ" not in status


def wait_until(condition, timeout: float = 15.0, step: float = 0.05) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(step)
    return condition()
