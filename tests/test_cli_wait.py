"""While caro waits for the model (issue 12, findings 9, 10 and (c)), as real processes on a terminal, with the tiny model.

- a sign of life on stderr (never on stdout, never with --output json, never without a
  terminal), cleared before the answer, through the caro service and in process;
- Ctrl-C ends a request at once (exit 130, one line), and the service stops that request's
  generation and goes on serving;
- a model that crashes llama.cpp ends a child of caro, not caro, when caro answers in process.

A long request (about 4,000 tokens) keeps the model busy long enough to be seen and interrupted.
Times are bounded generously (see tests/test_budget.py); the measured figures are in the report.
"""

from __future__ import annotations

import json
import os
import re
import time
from pathlib import Path

import pytest

from pipeline.errors import ExitCode
from tests.serving import alive, caro, service_pid
from tests.test_serve_model import CRASH_FORMAT, _damaged_copy
from tests.terminal import finish, spawn
from tests.tiny_model import TINY_MODEL, needs_tiny_model

PATHS = {"service": {}, "in_process": {"CARO_SERVE_ENABLED": "0"}}
LONG_REQUEST = "list the files in this folder, sorted by size, largest first, with sizes people can read; " * 200
SHORT_REQUEST = "print the weekday of 2024-01-01"
SPINNER = re.compile(r"caro: (loading the model|asking the model|starting the caro service)\.\.\. \d+ s")


def _env(path: str, **extra: str) -> dict[str, str]:
    return {
        **PATHS[path], "CARO_BACKEND": "llama_cpp", "CARO_MODEL": str(TINY_MODEL), "CARO_LLAMA_CPP_N_CTX": "8192",
        "CARO_GENERATION_TIMEOUT_S": "600", "CARO_GENERATION_WARMUP_S": "600", **extra,
    }


@needs_tiny_model
@pytest.mark.parametrize("path", PATHS)
def test_a_sign_of_life_on_stderr_while_the_model_works_cleared_before_the_answer(path: str, tmp_path: Path) -> None:
    """Nothing moved while a model request ran: a person could not tell caro from a hung program."""
    request = "list the files in this folder, sorted by size, largest first, with sizes people can read; " * 12
    seen = finish(spawn(["--dry-run", request], env=_env(path), cwd=tmp_path, stdout_file=tmp_path / "out"))
    assert seen.status in (0, ExitCode.NO_COMMAND), seen.screen
    frames = list(SPINNER.finditer(seen.screen))
    assert frames, seen.screen
    # Cleared before the answer: the last frame (which ends erasing the rest of its line) is erased itself.
    assert seen.screen[frames[-1].end() :].startswith("\x1b[K\r\x1b[K"), seen.screen[frames[-1].start() :]
    stdout = (tmp_path / "out").read_text()
    assert "caro:" not in stdout and "\x1b" not in stdout and "\r" not in stdout  # stdout is data only


@needs_tiny_model
@pytest.mark.parametrize("path", PATHS)
def test_no_sign_of_life_with_json_output_or_without_a_terminal(path: str, tmp_path: Path) -> None:
    request = "list the files in this folder, sorted by size, largest first, with sizes people can read; " * 12
    seen = finish(spawn(["--output", "json", request], env=_env(path), cwd=tmp_path, stdout_file=tmp_path / "out"))
    assert not SPINNER.search(seen.screen) and "\x1b[K" not in seen.screen
    assert json.loads((tmp_path / "out").read_text())["outcome"] in ("command", "no_command")
    piped = caro("--dry-run", request, env=_env(path), cwd=tmp_path, timeout=600)  # stderr is a pipe
    assert not SPINNER.search(piped.stderr) and "\x1b" not in piped.stderr and "\r" not in piped.stderr


def _interrupt_while_asking(path: str, tmp_path: Path) -> tuple[float, object]:
    """Start the long request on a terminal, press Ctrl-C while the model reads it; seconds to exit, and what was seen."""
    child = spawn([LONG_REQUEST], env=_env(path), cwd=tmp_path, timeout=300)
    child.expect("caro: asking the model")  # the request's own work has begun
    time.sleep(0.5)
    pressed = time.monotonic()
    child.sendintr()
    seen = finish(child)
    return time.monotonic() - pressed, seen


@needs_tiny_model
def test_ctrl_c_in_process_ends_the_request_at_once(tmp_path: Path) -> None:
    """Ctrl-C waited for llama.cpp to finish evaluating the prompt (about 15 s on the issue's machine)."""
    took, seen = _interrupt_while_asking("in_process", tmp_path)
    assert seen.status == 130
    lines = [line for line in seen.screen.split("\r\x1b[K")[-1].splitlines() if line.strip() and line.strip() != "^C"]
    assert lines == ["caro: interrupted"], seen.screen
    assert took < 5.0, took  # about a second at most; generous for a busy machine
    assert "Traceback" not in seen.screen


def _cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")  # utime + stime


@needs_tiny_model
def test_ctrl_c_through_the_service_ends_the_request_and_the_service_stops_its_generation(tmp_path: Path) -> None:
    env = _env("service")
    assert caro("check", "ls", env=env).returncode == 0
    pid = service_pid(env)
    took, seen = _interrupt_while_asking("service", tmp_path)
    assert seen.status == 130 and took < 5.0, (seen.status, took)
    assert [line for line in seen.screen.split("\r\x1b[K")[-1].splitlines() if line.strip() and line.strip() != "^C"] == ["caro: interrupted"]
    # The service noticed the client leave and stopped that generation: it goes idle within seconds.
    time.sleep(3.0)
    before = _cpu_seconds(pid)
    time.sleep(2.0)
    assert _cpu_seconds(pid) - before < 0.5, "the service still works for a client that left"
    # ... and it serves the next request as usual.
    done = caro("--output", "json", SHORT_REQUEST, env=env, cwd=tmp_path)
    assert done.returncode in (0, ExitCode.NO_COMMAND) and json.loads(done.stdout)["backend"] in ("llama_cpp", None)
    assert service_pid(env) == pid and alive(pid)


@needs_tiny_model
@pytest.mark.parametrize("why", ["service_off", "service_unusable"])
def test_a_model_that_crashes_in_process_takes_down_a_child_not_caro(why: str, tmp_path: Path) -> None:
    """In process, llama.cpp's abort killed caro itself: exit 134 and a backtrace, nothing said."""
    env = {"CARO_BACKEND": "llama_cpp", "CARO_MODEL": str(_damaged_copy(tmp_path)), "CARO_GENERATION_TIMEOUT_S": "120", **CRASH_FORMAT}
    if why == "service_off":
        env["CARO_SERVE_ENABLED"] = "0"
    else:  # a service folder others may enter is never used: caro answers in its own process
        runtime = tmp_path / "runtime"
        (runtime / "caro").mkdir(parents=True)
        (runtime / "caro").chmod(0o777)
        env["XDG_RUNTIME_DIR"] = str(runtime)
        assert "answering in this process: the runtime directory is open to other users" in caro(
            "-v", "--dry-run", "--", "ls", env=env, cwd=tmp_path
        ).stderr
    done = caro(SHORT_REQUEST, env=env, cwd=tmp_path)
    assert done.returncode == ExitCode.ERROR, (done.returncode, done.stderr[-500:])
    assert done.stdout == "" and done.stderr.count("\n") == 1, done.stderr
    assert done.stderr.startswith("caro: error: the language model crashed") and "`caro model pull`" in done.stderr
    assert str(tmp_path) not in done.stderr and "Traceback" not in done.stderr
    as_json = caro("--output", "json", SHORT_REQUEST, env=env, cwd=tmp_path)
    assert as_json.returncode == ExitCode.ERROR and json.loads(as_json.stdout)["error"]["code"] == "model_crashed"
    assert caro("check", "ls", env=env, cwd=tmp_path).returncode == 0  # what needs no model works as ever
    if why == "service_off":
        assert service_pid(env) is None


def test_the_download_bar_is_never_shown_with_json_output(monkeypatch: pytest.MonkeyPatch) -> None:
    import io

    from pipeline.cli.progress import PullBar
    from pipeline.models.catalogue import load_catalogue

    class Terminal(io.StringIO):
        def isatty(self) -> bool:
            return True

    entry = load_catalogue().get("smollm2-135m")
    for visible, expected in ((False, ""), (True, "caro: downloading smollm2-135m")):
        screen = Terminal()
        monkeypatch.setattr("sys.stderr", screen)
        bar = PullBar(entry, visible=visible)
        bar(0, 100)
        bar.close()
        assert screen.getvalue().startswith(expected) and (visible or screen.getvalue() == "")


def test_the_service_tells_a_waiting_client_from_one_that_left_without_blocking() -> None:
    """The check for a client that left blocked for the socket's last timeout, then took the wait for a departure:
    a request that waited ten seconds (another client's turn, a slow machine) was cancelled."""
    import socket

    from pipeline.serve.protocol import Channel
    from pipeline.serve.server import Conversation

    ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
    ours.settimeout(10.0)  # as the service's first receive leaves it
    conversation = Conversation(Channel(ours))
    started = time.monotonic()
    assert conversation._client_left() is False and time.monotonic() - started < 1.0
    theirs.close()
    assert conversation._client_left() is True
    ours.close()
