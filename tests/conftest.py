"""Test fixtures: every test gets its own CARO_HOME and a clean CARO_* environment."""

from __future__ import annotations

import os
import shutil
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(autouse=True)
def caro_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A private CARO_HOME for the test; no CARO_* variable from the developer's shell leaks in."""
    for name in list(os.environ):
        if (name.startswith("CARO_") and name != "CARO_CASES_DIR") or name in ("DO_NOT_TRACK", "VLLM_NO_USAGE_STATS"):
            monkeypatch.delenv(name)
    home = tmp_path / "caro-home"
    monkeypatch.setenv("CARO_HOME", str(home))
    # Tests never download: a pull can only use what a test provides with --find-links.
    monkeypatch.setenv("CARO_PIP_ARGS", "--no-index")
    # Without a model unless a test asks for one, so "no static match" is a quick, known outcome.
    monkeypatch.setenv("CARO_BACKEND", "none")
    # A caro service started by a test's `caro` process lives in the test's own runtime
    # directory (short: a socket path must fit in 108 bytes) and is stopped when the test ends.
    runtime = Path(tempfile.mkdtemp(prefix="caro-run-", dir="/tmp"))
    monkeypatch.setenv("XDG_RUNTIME_DIR", str(runtime))
    yield home
    stop_services(runtime, tmp_path)
    shutil.rmtree(runtime, ignore_errors=True)


def stop_services(runtime: Path, tmp_path: Path) -> None:
    """End the caro services this test started (SIGTERM, then SIGKILL).

    Those in its runtime directory, and those a `caro` run with an environment of its own
    started elsewhere: any service whose CARO_HOME lies in the test's folder.
    """
    import signal
    import time

    pids = []
    for pid_file in runtime.glob("caro/*.pid"):
        try:
            pids.append(int(pid_file.read_text()))
        except (OSError, ValueError):
            continue
    home_prefix = f"CARO_HOME={tmp_path}".encode()
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit() or int(proc.name) in pids:
            continue
        try:
            if b"pipeline.serve" in (proc / "cmdline").read_bytes() and any(
                entry.startswith(home_prefix) for entry in (proc / "environ").read_bytes().split(b"\0")
            ):
                pids.append(int(proc.name))
        except OSError:
            continue
    for sig in (signal.SIGTERM, signal.SIGKILL):
        alive = []
        for pid in pids:
            try:
                os.kill(pid, sig)
                alive.append(pid)
            except ProcessLookupError:
                pass
        deadline = time.monotonic() + 5
        while alive and time.monotonic() < deadline:
            alive = [pid for pid in alive if _alive(pid)]
            time.sleep(0.02)
        pids = alive


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # A service is not our child: once it has exited it is reaped by init, but a zombie
    # still answers kill(0); /proc tells them apart.
    try:
        return Path(f"/proc/{pid}/status").read_text().find("State:\tZ") < 0
    except OSError:
        return False


@pytest.fixture(scope="session")
def caro():
    """One loaded pipeline shared by the tests that only read from it."""
    from pipeline.service import Caro

    return Caro(backend="llama_cpp")


def free_port() -> int:
    """A port on 127.0.0.1 nothing listens on (bound, read, released)."""
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def caro_executable() -> str:
    """The installed `caro` console script of this environment."""
    return str(Path(sys.executable).parent / "caro")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Tests left without parameters because the shared suites are absent skip with the reason why.

    Modules parametrize over the suites' rows while they are collected (tests/cases.py); with no
    `../shared/cases` there are no rows, and pytest's own reason ("got empty parameter set") would
    not say what is missing or where it comes from.
    """
    from tests.cases import absent_reason

    reason = absent_reason()
    if reason is None:
        return
    for item in items:
        if any(m.name == "skip" and str(m.kwargs.get("reason", "")).startswith("got empty parameter set") for m in item.own_markers):
            item.add_marker(pytest.mark.skip(reason=reason), append=False)


from tests.tiny_model import tiny_model_required  # noqa: E402,F401  (a fixture the model tests use)
