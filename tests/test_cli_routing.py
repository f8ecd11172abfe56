"""How a command line reaches a command: `caro run`, `caro help`, `caro` alone, `caro --help` (issue 12, findings 7 and 8).

Each is tried on both paths: the console script (`pipeline/cli/fast.py` first) and the typer app
(`pipeline.cli.main.main`), as real processes.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from pipeline.cli.main import main
from pipeline.errors import ExitCode
from tests.serving import caro
from tests.terminal import at_terminal, typer_program

REQUEST_OPTIONS = ("-x", "--execute", "-y", "--yes", "-o", "--output", "--dry-run", "--safety", "--shell", "-p", "--prompt",
                   "-v", "--verbose", "--config")


@pytest.mark.parametrize("argv", [["run", "--output", "json", "ls -la"], ["--output", "json", "run", "ls -la"], ["run", "-o", "json", "--", "ls", "-la"]])
def test_caro_run_request_is_caro_request(argv: list[str], tmp_path: Path, capsys) -> None:
    """`caro run --output json "ls -la"` passed "run ls -la" to the model; the word `run` is the command's name."""
    served = caro(*argv, cwd=tmp_path)  # the console script: the fast path
    assert served.returncode == 0, served.stderr
    assert json.loads(served.stdout)["command"] == "ls -la" and json.loads(served.stdout)["source"] == "passthrough"
    assert main(argv) == 0  # the typer path
    data = json.loads(capsys.readouterr().out)
    assert data["command"] == "ls -la" and data["source"] == "passthrough"


def test_caro_run_and_caro_give_the_same_answer(tmp_path: Path) -> None:
    plain = caro("--dry-run", "list all files modified today", cwd=tmp_path)
    with_run = caro("run", "--dry-run", "list all files modified today", cwd=tmp_path)
    assert plain.returncode == with_run.returncode == 0
    assert (plain.stdout, plain.stderr) == (with_run.stdout, with_run.stderr) and plain.stdout.strip()


@pytest.mark.parametrize("path", ["console", "typer"])
def test_caro_help_shows_the_help_with_the_options_of_a_request(path: str, tmp_path: Path) -> None:
    """`caro help` was a request sent to the model; `caro --help` listed only --version and -h."""
    program = typer_program(tmp_path) if path == "typer" else None
    for argv in (["help"], ["--help"], ["-h"]):
        seen = at_terminal(argv, program=program, stdout_file=tmp_path / "out")
        assert seen.status == 0, seen.screen
        assert seen.stdout.startswith("Usage: caro [OPTIONS] REQUEST...")
        section = seen.stdout.split("Options of a request", 1)[1].split("\nCommands:", 1)[0]
        for option in REQUEST_OPTIONS:
            assert f" {option}" in section, option
        for command in ("run", "check", "explain", "config", "model", "serve"):
            assert f"\n  {command} " in seen.stdout
        assert seen.screen.strip() == ""  # nothing on stderr


@pytest.mark.parametrize(("argv", "usage"), [(["help", "check"], "Usage: caro check"), (["help", "run"], "Usage: caro run"),
                                             (["help", "config", "set"], "Usage: caro config set")])
def test_caro_help_command_shows_that_commands_help(argv: list[str], usage: str, tmp_path: Path) -> None:
    done = caro(*argv, cwd=tmp_path)
    assert done.returncode == 0 and done.stdout.startswith(usage) and done.stderr == ""


def test_help_followed_by_other_words_is_a_request(tmp_path: Path) -> None:
    done = caro("--output", "json", "help", "me", "find", "large", "files", cwd=tmp_path)
    assert json.loads(done.stdout)["outcome"] in ("command", "no_command")  # an answer, not the help


@pytest.mark.parametrize("path", ["console", "typer"])
def test_caro_alone_at_a_terminal_shows_the_usage_and_exits_2(path: str, tmp_path: Path) -> None:
    """`caro` with no arguments said "the request is empty"; at a terminal it prints the help on stderr, exit 2."""
    program = typer_program(tmp_path) if path == "typer" else None
    seen = at_terminal([], program=program, stdout_file=tmp_path / "out")
    assert seen.status == ExitCode.USAGE, seen.screen
    assert "Usage: caro [OPTIONS] REQUEST..." in seen.screen and "Options of a request" in seen.screen
    assert seen.stdout == ""  # stdout carries data, and there is none


def test_caro_alone_with_a_request_piped_in_reads_it(tmp_path: Path) -> None:
    done = caro("--output", "json", cwd=tmp_path, stdin="list files\n")
    assert done.returncode == 0 and json.loads(done.stdout)["source"] == "static"
    bare = caro(cwd=tmp_path, stdin="list files\n")  # `echo REQUEST | caro`
    assert bare.returncode == 0 and bare.stdout.strip() and "Usage" not in bare.stderr


def test_caro_alone_at_a_terminal_with_json_output_is_a_json_error(tmp_path: Path) -> None:
    seen = at_terminal([], env={"CARO_OUTPUT": "json"}, stdout_file=tmp_path / "out")
    assert seen.status == ExitCode.USAGE
    assert json.loads(seen.stdout)["error"]["code"] == "usage"
