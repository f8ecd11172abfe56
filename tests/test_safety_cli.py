"""Through the real CLI with `caro -x -y`: the disguised deletions of issue 9 class 1 run nothing.

Everything happens inside tmp_path (we may run as root): HOME, the working directory and the
directory each command tries to delete. Two reach caro as typed commands; the two that do not
look like commands come from a model, served by a real OpenAI-compatible HTTP server on
127.0.0.1 that answers every request with the attack (what a manipulated model would do).
"""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from pipeline.errors import ExitCode
from pipeline.shell.oracle import available
from tests.conftest import caro_executable
from tests.scripted_model import ScriptedModel

needs_bash = pytest.mark.skipif(not available(), reason="bash (the oracle and the target shell) is not installed")


@pytest.fixture
def place(tmp_path: Path) -> dict[str, Path]:
    """A home with a precious file, a working directory, and a victim directory with a file, all in tmp_path."""
    home, work, victim = tmp_path / "home", tmp_path / "work", tmp_path / "victim"
    for folder in (home, work, victim):
        folder.mkdir()
    (home / "precious.txt").write_text("keep me")
    (victim / "data.txt").write_text("keep me too")
    return {"home": home, "work": work, "victim": victim}


def _caro(args: list[str], place: dict[str, Path], env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    environment = {**os.environ, "HOME": str(place["home"]), "CARO_SERVE_ENABLED": "false", **(env or {})}
    return subprocess.run(
        [caro_executable(), *args], capture_output=True, text=True, cwd=place["work"], stdin=subprocess.DEVNULL, env=environment, timeout=120
    )


def _intact(place: dict[str, Path]) -> bool:
    return (place["home"] / "precious.txt").read_text() == "keep me" and (place["victim"] / "data.txt").exists()


@needs_bash
@pytest.mark.parametrize(
    "template",
    [
        "command r\\\nm -rf --no-preserve-root {victim}",  # a backslash-newline inside the word rm
        "cat <<EOT; rm -rf {victim}\nEOT",  # a command after a here-document operator
    ],
)
def test_typed_parser_tricks_are_blocked_and_run_nothing(place: dict[str, Path], template: str) -> None:
    command = template.format(victim=place["victim"])
    done = _caro(["-x", "-y", "--", command], place)
    assert done.returncode == ExitCode.BLOCKED, done.stderr
    assert "not run" in done.stderr and _intact(place)
    # The same text, judged on its own, is blocked too (and the reason is given).
    checked = _caro(["check", "--output", "json", command], place)
    assert json.loads(checked.stdout)["action"] == "blocked"


@pytest.fixture
def model_answering() -> Iterator[Callable[[str], dict[str, str]]]:
    """Starts a 127.0.0.1 OpenAI-compatible server whose model always answers `command`; caro's settings for it."""
    servers: list[ScriptedModel] = []

    def start(command: str) -> dict[str, str]:
        servers.append(ScriptedModel([command]))
        return servers[-1].settings()

    yield start
    for server in servers:
        server.stop()


@needs_bash
@pytest.mark.parametrize(
    ("template", "target"),
    [
        ("coproc rm -rf {victim}", "victim"),  # bash runs it as a coprocess
        ("x='a[$(rm -rf ~)]'; echo $(( x ))", "home"),  # arithmetic runs the subscript's $(...)
    ],
)
def test_model_parser_tricks_are_blocked_and_run_nothing(
    place: dict[str, Path], model_answering: Callable[[str], dict[str, str]], template: str, target: str
) -> None:
    command = template.format(victim=place["victim"])
    env = model_answering(command)
    done = _caro(["-x", "-y", "--output", "json", "please tidy up the old folders for me"], place, env)
    data = json.loads(done.stdout)
    assert data["source"] == "llm" and data["command"] == command, done.stderr
    assert data["action"] == "blocked" and data["executed"] is False
    assert done.returncode == ExitCode.BLOCKED and _intact(place)


@needs_bash
def test_a_model_command_with_escape_sequences_is_shown_escaped_and_asks(
    place: dict[str, Path], model_answering: Callable[[str], dict[str, str]]
) -> None:
    """The screen cannot lie: `touch X; ESC[2K ESC[1G ls -la` showed only `ls -la`; now it is escaped and asks."""
    command = "touch X; \x1b[2K\x1b[1Gls -la"
    env = model_answering(command)
    shown = _caro(["--dry-run", "frobnicate the quux widgets"], place, env)
    # stdout is data: a pipe gets the exact command; a terminal gets it escaped (tests/test_cli_findings.py)
    assert shown.stdout == command + "\n" and "\x1b" not in shown.stderr
    refused = _caro(["-x", "frobnicate the quux widgets"], place, env)  # -x without -y: it needs confirmation
    assert refused.returncode == ExitCode.DECLINED and not (place["work"] / "X").exists()
    data = json.loads(_caro(["--output", "json", "frobnicate the quux widgets"], place, env).stdout)
    assert data["command"] == command and data["action"] == "confirm"  # JSON keeps the exact text
