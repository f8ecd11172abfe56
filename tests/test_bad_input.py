"""Bad input, as a real process: one line on stderr, a documented exit code, never a traceback."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from pipeline.errors import ExitCode
from tests.conftest import caro_executable


def caro(args: list[str], cwd: Path, stdin: bytes | None = None) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run([caro_executable(), *args], input=stdin, capture_output=True, cwd=cwd, timeout=60)


def assert_one_line_error(done: subprocess.CompletedProcess[bytes], code: ExitCode, words: str) -> None:
    err = done.stderr.decode("utf-8", errors="replace")
    assert done.returncode == code, err
    assert "Traceback" not in err
    lines = err.strip().splitlines()
    assert len(lines) == 1, lines
    assert lines[0].startswith("caro: ") and words in lines[0]
    assert done.stdout == b""


@pytest.mark.parametrize(
    ("args", "stdin", "words"),
    [
        ([""], None, "the request is empty"),
        (["   "], None, "the request is empty"),
        ([], b"", "the request is empty"),
        ([], b"x" * (1024 * 1024), "longer than"),
        ([], b"list\x00files", "NUL byte"),
        (["list \x1b[2J files"], None, "control characters"),
        ([], b"list \x07 files", "control characters"),
        ([], b"list \xff\xfe files", "not valid UTF-8"),
    ],
    ids=["empty", "blank", "empty-stdin", "1MB", "nul", "escape", "bell", "invalid-utf8"],
)
def test_bad_requests_get_one_line_and_the_usage_exit_code(tmp_path: Path, args, stdin, words) -> None:
    assert_one_line_error(caro(args, tmp_path, stdin), ExitCode.USAGE, words)


@pytest.mark.parametrize(
    ("args", "words"),
    [
        (["--output", "xml", "list files"], "--output"),
        (["--safety", "reckless", "list files"], "--safety"),
        (["--shell", "fish", "list files"], "--shell"),
        (["--frobnicate", "list files"], "--frobnicate"),
        (["-p", "list files", "and more words"], "not both"),
        (["check", "--safety", "none", "ls"], "--safety"),
        (["config", "set", "safety", "reckless"], "must be one of"),
        (["config", "get", "no.such.key"], "unknown key"),
        (["dag", "--output", "dag.gif"], "unsupported DAG format"),
    ],
)
def test_unknown_option_values_get_one_line_and_the_usage_exit_code(tmp_path: Path, args, words) -> None:
    assert_one_line_error(caro(args, tmp_path), ExitCode.USAGE, words)


def test_a_bad_environment_value_is_a_usage_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CARO_SAFETY", "reckless")
    assert_one_line_error(caro(["list files"], tmp_path), ExitCode.USAGE, "CARO_SAFETY")


def test_errors_are_json_when_json_was_asked_for(tmp_path: Path) -> None:
    done = caro(["--output", "json", "--safety", "reckless", "ls"], tmp_path)
    assert done.returncode == ExitCode.USAGE
    assert json.loads(done.stdout)["error"]["exit_code"] == ExitCode.USAGE
    bad = caro(["--output", "json", ""], tmp_path)
    assert bad.returncode == ExitCode.USAGE
    data = json.loads(bad.stdout)
    assert data["outcome"] == "bad_input" and data["error"]["code"] == "empty"


def test_a_broken_user_config_is_reported_and_not_overwritten(tmp_path: Path, caro_home: Path) -> None:
    caro_home.mkdir(parents=True)
    config = caro_home / "config.toml"
    config.write_text("safety = [unclosed\n", encoding="utf-8")
    assert_one_line_error(caro(["list files"], tmp_path), ExitCode.ERROR, "not valid TOML")
    assert_one_line_error(caro(["config", "set", "safety", "strict"], tmp_path), ExitCode.ERROR, "not valid TOML")
    assert config.read_text(encoding="utf-8") == "safety = [unclosed\n"  # the user's data survives
