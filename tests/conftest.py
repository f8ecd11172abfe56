"""Test fixtures: every test gets its own CARO_HOME and a clean CARO_* environment."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(autouse=True)
def caro_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
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
    return home


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


from tests.tiny_model import tiny_model_required  # noqa: E402,F401  (a fixture the model tests use)
