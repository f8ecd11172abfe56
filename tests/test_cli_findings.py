"""What a new user met (issue 12): `caro check`'s noise, a silent decline, failures JSON calls recoverable,
hints that do not fit, and commands escaped for a pipe.

Each runs through the caro service and in process (`CARO_SERVE_ENABLED=0`) as real processes.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from pipeline.errors import ExitCode
from tests.conftest import free_port
from tests.serving import caro
from tests.terminal import at_terminal, finish, spawn
from tests.test_safety_cli import model_answering, needs_bash  # noqa: F401  (a fixture, and a marker)
from tests.tiny_model import TINY_MODEL, needs_tiny_model

MODEL_REQUEST = "print the weekday of 2024-01-01"  # not in the static table: the model must answer it

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


# -- the hint names the real cause (finding 6) ------------------------------------------------

@needs_tiny_model
@pytest.mark.parametrize("path", PATHS)
def test_a_request_out_of_time_gets_the_timeout_hint_not_configure_a_backend(path: str, tmp_path: Path) -> None:
    """"add it to a static table, or configure a model backend" was the hint of every request without a command."""
    env = {**PATHS[path], "CARO_BACKEND": "llama_cpp", "CARO_MODEL": str(TINY_MODEL), "CARO_GENERATION_TIMEOUT_S": "0.001"}
    plain = caro(MODEL_REQUEST, env=env, cwd=tmp_path)
    assert plain.returncode == ExitCode.NO_COMMAND and plain.stdout == ""
    [line] = plain.stderr.splitlines()
    assert line.startswith("caro: no command: the model did not answer within") and "raise generation.timeout_s" in line
    assert "configure a model backend" not in line
    data = json.loads(caro("--output", "json", MODEL_REQUEST, env=env, cwd=tmp_path).stdout)
    assert data["error"]["code"] == "timeout" and "generation.timeout_s" in data["error"]["hint"]


@pytest.mark.parametrize("path", PATHS)
@pytest.mark.parametrize(
    ("env", "says", "hint"),
    [
        ({"CARO_BACKEND": "none"}, "no language model configured", "configure a model backend"),
        ({"CARO_BACKEND": "llama_cpp", "CARO_MODEL": "{root}/not-a-model.gguf"}, "the model file cannot be loaded", "`caro model pull`"),
        ({"CARO_BACKEND": "vllm", "CARO_FALLBACK": "vllm", "CARO_VLLM_RETRIES": "0", "CARO_GENERATION_RETRIES": "0",
          "CARO_VLLM_BASE_URL": "http://127.0.0.1:{port}"}, "the vLLM server cannot be reached", "vllm.base_url"),
    ],
    ids=["no_backend", "damaged_model_file", "server_down"],
)
def test_each_cause_gets_its_own_hint(path: str, env: dict[str, str], says: str, hint: str, tmp_path: Path) -> None:
    (tmp_path / "not-a-model.gguf").write_bytes(b"GGUF but not really a model" * 100)
    env = {k: v.format(root=tmp_path, port=free_port()) for k, v in {**PATHS[path], **env}.items()}
    done = caro("frobnicate the wibble", env=env, cwd=tmp_path)
    assert done.returncode == ExitCode.NO_COMMAND
    [line] = done.stderr.splitlines()
    assert says in line and f"(hint: " in line and hint in line.split("(hint: ", 1)[1], line


# -- stdout is data: exact to a pipe, escaped on a terminal ((b)) -----------------------------

@pytest.mark.parametrize("path", PATHS)
def test_a_command_goes_exactly_to_a_pipe_and_escaped_to_a_terminal(path: str, tmp_path: Path) -> None:
    """printable() escaped stdout everywhere: a pipe (the shell key binding, a file) got `\\u202e` instead of the command."""
    command = "ls ./x\u202e"
    piped = caro("--dry-run", "--", command, env=PATHS[path], cwd=tmp_path)
    assert piped.returncode == 0 and piped.stdout == command + "\n"  # the exact command, for the program reading it
    assert "\u202e" not in piped.stderr  # stderr is for the person
    seen = at_terminal(["--dry-run", "--", command], env=PATHS[path], cwd=tmp_path)
    assert seen.status == 0 and "ls ./x\\u202e" in seen.screen and "\u202e" not in seen.screen


@needs_bash
@pytest.mark.parametrize("path", PATHS)
def test_a_model_command_with_escape_sequences_is_escaped_on_a_terminal(path: str, tmp_path: Path, model_answering) -> None:
    command = "touch X; \x1b[2K\x1b[1Gls -la"
    env = {**PATHS[path], **model_answering(command)}
    seen = at_terminal(["--dry-run", "frobnicate the quux widgets"], env=env, cwd=tmp_path)
    assert "\x1b[2K" not in seen.screen and "\x1b[1G" not in seen.screen  # (the sign of life draws with \x1b[K)
    assert "touch X; \\e[2K\\e[1Gls -la" in seen.screen
    piped = caro("--dry-run", "frobnicate the quux widgets", env=env, cwd=tmp_path)
    assert piped.stdout == command + "\n" and "\x1b" not in piped.stderr
