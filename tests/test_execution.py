"""Execution in a real shell in a temporary directory: who runs, who is refused, and exit codes."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

from pipeline.errors import ExitCode
from tests.conftest import caro_executable


def caro(args: list[str], cwd: Path, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [caro_executable(), *args], capture_output=True, text=True, cwd=cwd, stdin=subprocess.DEVNULL,
        env={**os.environ, **(env or {})}, timeout=60,
    )


def test_allowed_commands_run_only_with_execute(tmp_path: Path) -> None:
    (tmp_path / "marker.txt").write_text("x")
    shown = caro(["ls"], tmp_path)
    assert shown.returncode == 0 and shown.stdout.strip() == "ls"  # shown, not run
    ran = caro(["-x", "ls"], tmp_path)
    assert ran.returncode == 0 and "marker.txt" in ran.stdout
    assert "$ ls" in ran.stderr


def test_the_executed_commands_exit_code_becomes_caros(tmp_path: Path) -> None:
    done = caro(["-x", "--", "test -e no-such-file"], tmp_path)
    assert done.returncode == 1
    done = caro(["-x", "--", "sh -c 'exit 7'"], tmp_path)
    assert done.returncode == 7


def test_confirm_level_commands_need_yes_without_a_terminal(tmp_path: Path) -> None:
    build = tmp_path / "build"
    build.mkdir()
    (build / "artifact.o").write_text("x")
    refused = caro(["--safety", "strict", "-x", "--", "rm -rf ./build"], tmp_path)
    assert refused.returncode == ExitCode.DECLINED, refused.stderr
    assert build.exists()
    ran = caro(["--safety", "strict", "-x", "-y", "--", "rm -rf ./build"], tmp_path)
    assert ran.returncode == 0, ran.stderr
    assert not build.exists()


def test_blocked_commands_never_run_whatever_the_flags(tmp_path: Path) -> None:
    home = tmp_path / "home"
    home.mkdir()
    (home / "precious.txt").write_text("keep me")
    blocked = caro(["-x", "-y", "--", "rm -rf ~"], tmp_path, env={"HOME": str(home)})
    assert blocked.returncode == ExitCode.BLOCKED
    assert (home / "precious.txt").exists()


def test_dry_run_never_runs(tmp_path: Path) -> None:
    done = caro(["--dry-run", "-x", "-y", "--", "touch created.txt"], tmp_path)
    assert done.returncode == 0 and not (tmp_path / "created.txt").exists()


def test_json_execution_keeps_stdout_for_the_data_object(tmp_path: Path) -> None:
    (tmp_path / "marker.txt").write_text("x")
    done = caro(["--output", "json", "-x", "ls"], tmp_path)
    data = json.loads(done.stdout)
    assert data["executed"] is True and data["exit_code"] == 0
    assert "marker.txt" in done.stderr
