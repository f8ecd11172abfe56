"""What a new user met (issue 12): `caro check`'s noise, a silent decline, failures JSON calls recoverable.

Each runs through the caro service and in process (`CARO_SERVE_ENABLED=0`) as real processes.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from pipeline.errors import ExitCode
from tests.conftest import free_port
from tests.serving import caro
from tests.terminal import finish, spawn

PATHS = {"service": {}, "in_process": {"CARO_SERVE_ENABLED": "0"}}
PASSED_THROUGH = "taken as a shell command"


@pytest.mark.parametrize("path", PATHS)
def test_check_does_not_say_that_it_judged_a_command(path: str, tmp_path: Path) -> None:
    """`caro check` always warned "the text was taken as a shell command": judging a command is its whole point."""
    env = PATHS[path]
    plain = caro("check", "ls -la", env=env, cwd=tmp_path)
    assert plain.returncode == 0 and PASSED_THROUGH not in plain.stdout + plain.stderr
    assert "warning:" not in plain.stdout
    data = json.loads(caro("check", "--output", "json", "rm -rf ./build", env=env, cwd=tmp_path).stdout)
    assert data["source"] == "passthrough" and not any(PASSED_THROUGH in w for w in data["warnings"])
    explained = caro("explain", "ls -la", env=env, cwd=tmp_path)
    assert explained.returncode == 0 and PASSED_THROUGH not in explained.stdout + explained.stderr


@pytest.mark.parametrize("path", PATHS)
def test_a_request_taken_as_a_command_still_says_so(path: str, tmp_path: Path) -> None:
    done = caro("--dry-run", "--", "rm -rf ./build", env=PATHS[path], cwd=tmp_path)
    assert done.stdout.strip() == "rm -rf ./build" and PASSED_THROUGH in done.stderr


@pytest.mark.parametrize("path", PATHS)
@pytest.mark.parametrize("answer", ["n\r", "\r", "\x04"])  # no, Enter (the default), Ctrl-D
def test_declining_at_the_prompt_says_so_in_one_line(path: str, answer: str, tmp_path: Path) -> None:
    """Declining exited 11 with no word said."""
    # A command that needs confirmation (a right-to-left override hides part of it): `-x` at a terminal asks.
    child = spawn(["-x", "touch ./made\u202e"], env=PATHS[path], cwd=tmp_path)
    child.expect_exact("Run it? [y/N] ")
    child.send(answer)
    seen = finish(child)
    assert seen.status == ExitCode.DECLINED
    lines = [line for line in seen.screen.splitlines() if line.strip() and line.strip() != "n"]  # but the echoed answer
    assert lines == ["caro: not run"], seen.screen
    assert not list(tmp_path.glob("made*"))


@pytest.mark.parametrize("path", PATHS)
def test_the_failure_caro_gave_up_after_is_not_recoverable_in_json(path: str, tmp_path: Path) -> None:
    """Telemetry said recoverable=false for it; the JSON result said true."""
    env = {**PATHS[path], "CARO_BACKEND": "vllm", "CARO_FALLBACK": "vllm", "CARO_VLLM_BASE_URL": f"http://127.0.0.1:{free_port()}",
           "CARO_VLLM_RETRIES": "0", "CARO_GENERATION_RETRIES": "1"}
    done = caro("--output", "json", "frobnicate the wibble", env=env, cwd=tmp_path)
    data = json.loads(done.stdout)
    assert done.returncode == ExitCode.NO_COMMAND and data["outcome"] == "no_command"
    failures = data["backend_failures"]
    assert [f["kind"] for f in failures] == ["inference_failed", "inference_failed"]  # the first attempt, then its retry
    assert [f["recoverable"] for f in failures] == [True, False]  # a retry followed the first; nothing the last
