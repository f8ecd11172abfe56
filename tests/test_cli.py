"""The CLI end to end: routing, output formats, check, and exit codes (in process and as real processes)."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from pipeline.cli.main import main
from pipeline.equivalence import equivalent
from pipeline.errors import ExitCode
from tests.conftest import caro_executable


def run_json(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, dict]:
    code = main(["--output", "json", *argv])
    out = capsys.readouterr().out
    return code, json.loads(out)


def test_static_request_gives_the_expected_command_from_the_static_stage(capsys) -> None:
    code, data = run_json(capsys, "find python files modified in the last 7 days")
    assert code == 0
    assert data["source"] == "static" and data["backend"] == "static"
    assert equivalent(data["command"], "find . -name '*.py' -type f -mtime -7")
    assert data["risk"] == "safe" and data["action"] == "allowed"
    assert data["executed"] is False and data["exit_code"] == 0
    for field in ("command", "source", "backend", "risk", "action", "categories", "explanation", "warnings", "executed", "exit_code"):
        assert field in data


def test_a_typed_command_is_passed_through_and_judged(capsys) -> None:
    code, data = run_json(capsys, "rm -rf /")
    assert code == ExitCode.BLOCKED
    assert data["source"] == "passthrough" and data["command"] == "rm -rf /"
    assert data["action"] == "blocked" and data["risk"] == "critical"
    assert "destructive_rm" in data["categories"] and data["executed"] is False


def test_double_dash_forces_a_request_even_when_the_first_word_is_a_subcommand(capsys) -> None:
    code, data = run_json(capsys, "--", "config", "show")
    assert code == ExitCode.NO_COMMAND
    assert data["outcome"] == "no_command" and data["command"] is None
    assert data["error"]["code"] == "not_configured"


def test_a_subcommand_name_runs_the_subcommand(capsys) -> None:
    assert main(["config", "path"]) == 0
    assert capsys.readouterr().out.strip().endswith("config.toml")


def test_options_before_a_subcommand_name_move_after_it(capsys) -> None:
    code = main(["--output", "json", "check", "ls -la"])
    assert code == 0
    assert json.loads(capsys.readouterr().out)["action"] == "allowed"


def test_no_command_is_a_value_with_its_own_exit_code(capsys) -> None:
    assert main(["compile my rust project"]) == ExitCode.NO_COMMAND
    captured = capsys.readouterr()
    assert captured.out == ""
    lines = captured.err.strip().splitlines()
    assert len(lines) == 1 and "no language model configured" in lines[0]


def test_yaml_output_has_the_same_fields(capsys) -> None:
    import yaml

    assert main(["--output", "yaml", "list files"]) == 0
    data = yaml.safe_load(capsys.readouterr().out)
    assert data["source"] == "static" and data["action"] == "allowed"


def test_plain_output_puts_only_the_command_on_stdout(capsys) -> None:
    assert main(["--dry-run", "find large files over 100MB"]) == 0
    captured = capsys.readouterr()
    assert equivalent(captured.out.strip(), "find . -type f -size +100M")


@pytest.mark.parametrize(
    ("command", "level", "code", "action"),
    [
        ("ls -la", "moderate", ExitCode.SUCCESS, "allowed"),
        ("rm -rf /", "moderate", ExitCode.BLOCKED, "blocked"),
        ("sudo rm -rf /*", "permissive", ExitCode.NEEDS_CONFIRMATION, "confirm"),
        ("echo 'rm -rf /'", "strict", ExitCode.SUCCESS, "allowed"),
    ],
)
def test_check_judges_without_generating(capsys, command: str, level: str, code: ExitCode, action: str) -> None:
    assert main(["check", "--safety", level, "--output", "json", command]) == code
    data = json.loads(capsys.readouterr().out)
    assert data["action"] == action and data["source"] == "passthrough" and data["command"] == command


def test_check_plain_output_reports_the_judgement(capsys) -> None:
    assert main(["check", "chmod -R 777 /"]) == ExitCode.BLOCKED
    out = capsys.readouterr().out
    assert "risk: critical" in out and "action: blocked" in out and "recursive_operations" in out


def test_version_and_help_are_instant_paths(capsys) -> None:
    assert main(["--version"]) == 0
    assert capsys.readouterr().out.startswith("caro ")
    assert main(["-h"]) == 0
    out = capsys.readouterr().out
    for command in ("run", "check", "dag", "config"):
        assert command in out


def test_help_does_not_import_the_pipeline() -> None:
    probe = "import sys; from pipeline.cli.main import main; main(['--help']); print(sorted(m for m in ('hamilton', 'tree_sitter', 'pandas') if m in sys.modules))"
    out = subprocess.run([str(Path(caro_executable()).parent / "python"), "-c", probe], capture_output=True, text=True, check=True)
    assert out.stdout.strip().splitlines()[-1] == "[]"


def test_request_from_stdin_as_a_real_process(tmp_path: Path) -> None:
    done = subprocess.run(
        [caro_executable(), "--output", "json"], input=b"list files\n", capture_output=True, cwd=tmp_path, timeout=60
    )
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["source"] == "static"


def test_a_safe_static_answer_prints_nothing_but_the_command(capsys) -> None:
    assert main(["--dry-run", "list all files modified today"]) == 0
    captured = capsys.readouterr()
    assert captured.out.strip() and captured.err == ""


def test_a_risky_command_explains_itself_on_stderr(capsys) -> None:
    assert main(["--dry-run", "--", "rm -rf ./build"]) == 0
    captured = capsys.readouterr()
    assert captured.out.strip() == "rm -rf ./build"
    assert captured.err.startswith("risk: moderate, allowed [destructive_rm]")
