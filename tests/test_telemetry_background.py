"""Background flush: the `caro` console script leaves validation and storage to a forked child.

Real processes (the installed console script), a real SQLite file under the test's CARO_HOME,
and the lock that readers wait on.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from pipeline.cli.main import main
from pipeline.paths import state_paths
from pipeline.settings import default_values
from pipeline.telemetry import pending
from pipeline.telemetry.recorder import Recorder
from pipeline.telemetry.store import TelemetryStore

CARO = str(Path(sys.executable).parent / "caro")
STATIC = "find python files modified in the last 7 days"
REQUEST_EVENTS = {"session_start": 1, "command_generation": 1, "safety_validation": 1, "session_end": 1}


def _caro(*args: str, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [CARO, *args], capture_output=True, text=True, timeout=120, env={**os.environ, "CARO_TELEMETRY_ENABLED": "1", **env}
    )


def test_the_console_script_stores_a_request_from_a_child_and_readers_wait_for_it(caro_home: Path) -> None:
    done = _caro("--output", "json", STATIC)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["command"] == "find . -type f -name '*.py' -mtime -7"
    assert done.stdout.count("\n") == 1  # the child never repeats the parent's output
    assert done.stderr == ""
    database = state_paths().database
    assert pending.lock_path(database).exists()  # the background path was taken
    with TelemetryStore() as store:  # waits for the child, then reads
        assert store.counts() == REQUEST_EVENTS
    shown = _caro("telemetry", "status", "--output", "json")
    assert json.loads(shown.stdout)["total"] == 4


def test_inline_flush_stores_before_exit_and_takes_no_lock(caro_home: Path) -> None:
    done = _caro("--output", "json", STATIC, CARO_TELEMETRY_FLUSH="inline")
    assert done.returncode == 0, done.stderr
    database = state_paths().database
    assert not pending.lock_path(database).exists()
    with TelemetryStore() as store:
        assert store.counts() == REQUEST_EVENTS


def test_verbose_stores_inline_so_it_can_report_a_problem(caro_home: Path) -> None:
    database = state_paths().database
    database.parent.mkdir(parents=True)
    database.write_bytes(b"this is not a database" * 100)
    done = _caro("-v", STATIC)
    assert done.returncode == 0
    assert "telemetry not stored: the database is corrupt" in done.stderr
    quiet = _caro(STATIC)
    assert quiet.returncode == 0 and quiet.stderr == ""
    assert pending.wait_for_writes(database)
    assert database.read_bytes() == b"this is not a database" * 100  # never touched


def test_main_called_in_process_never_forks_its_caller(caro_home: Path, capsys: pytest.CaptureFixture[str]) -> None:
    # Only the console script ends the process after the command; a program (or a test)
    # that calls main() keeps running and must not be forked.
    assert main(["config", "set", "telemetry.enabled", "true"]) == 0
    assert main(["--output", "json", STATIC]) == 0
    assert not pending.lock_path(state_paths().database).exists()
    with TelemetryStore() as store:
        assert store.counts() == REQUEST_EVENTS


def test_a_pending_write_holds_readers_until_it_is_done(tmp_path: Path) -> None:
    database = tmp_path / "telemetry.db"
    assert pending.wait_for_writes(database, timeout_s=0)  # nothing ever pending
    first, second = pending.hold(database), pending.hold(database)  # two children at once
    assert first is not None and second is not None
    try:
        assert not pending.wait_for_writes(database, timeout_s=0.2)
        os.close(first)
        assert not pending.wait_for_writes(database, timeout_s=0.2)  # the other is still writing
    finally:
        os.close(second)
    assert pending.wait_for_writes(database, timeout_s=0.2)


def test_a_lock_that_cannot_be_created_means_an_inline_flush(tmp_path: Path) -> None:
    blocked = tmp_path / "file"
    blocked.write_text("")
    assert pending.hold(blocked / "data" / "telemetry.db") is None  # its folder cannot exist


def _recorder(**kwargs: object) -> Recorder:
    return Recorder(settings=default_values(), **kwargs)  # type: ignore[arg-type]


def test_debug_mode_and_other_threads_keep_the_flush_inline(tmp_path: Path) -> None:
    args = ("request", None, (), {})  # never looked at: both refuse before flushing
    assert _recorder(debug=True, database=tmp_path / "t.db").flush_detached(*args, executed=False) is False
    stop = threading.Event()
    worker = threading.Thread(target=stop.wait)
    worker.start()
    try:
        assert _recorder(debug=False, database=tmp_path / "t.db").flush_detached(*args, executed=False) is False
    finally:
        stop.set()
        worker.join()
    assert not pending.lock_path(tmp_path / "t.db").exists()
