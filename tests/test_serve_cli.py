"""The light request path: the hand-written parser agrees with typer, the client imports nothing heavy,
and an answer through the service prints exactly what one answered in process prints."""

from __future__ import annotations

import json
import subprocess
import sys
from enum import Enum
from pathlib import Path

import pytest
import typer.main

from pipeline.cli import fast
from pipeline.cli.app import app
from pipeline.serve.wire import result_from_wire, result_to_wire
from tests.conftest import caro_executable
from tests.serving import caro, service_pid

STATIC = "find python files modified in the last 7 days"
HEAVY = ("hamilton", "pandas", "numpy", "pandera", "tree_sitter", "llama_cpp", "yaml", "typer", "click", "sqlite_utils")


def _command(name: str):
    return typer.main.get_command(app).commands[name]


def _choices(param) -> tuple[str, ...]:
    """The values an option accepts, when it is a choice (typer declares choices as an Enum)."""
    annotation = param.type_descriptor.annotation
    return tuple(m.value for m in annotation) if isinstance(annotation, type) and issubclass(annotation, Enum) else ()


def _typer_table(name: str) -> dict[str, tuple[str, str]]:
    table = {}
    for param in _command(name).params:
        if param.param_type_name != "option" or "--help" in param.opts:
            continue
        counted = param.type_descriptor.annotation is int and param.max is not None  # -n: a whole number in a range
        kind = "flag" if param.is_flag else "choice" if _choices(param) else "count" if counted else "text"
        for flag in param.opts:
            table[flag] = (param.name, kind)
    return table


def test_the_fast_parser_has_every_option_of_run_and_check_and_nothing_else() -> None:
    assert fast.RUN_OPTIONS == _typer_table("run")
    assert fast.CHECK_OPTIONS == _typer_table("check")
    for command in ("run", "check"):
        for param in _command(command).params:
            if param.param_type_name == "option" and _choices(param):
                assert _choices(param) == fast.CHOICES[param.name]
            if param.param_type_name == "option" and param.type_descriptor.annotation is int:
                assert fast.COUNTS == tuple(str(n) for n in range(param.min, param.max + 1))
    assert set(fast.COMMANDS) == set(typer.main.get_command(app).commands)


def _typer_parse(argv: list[str]) -> dict:
    """What typer hands the command function for this command line: the command and its parameters."""
    group = typer.main.get_command(app)
    routed = group._route(argv)
    command = group.commands[routed[0]]
    params = command.make_context(routed[0], routed[1:]).params
    words = params.pop("request", None) if routed[0] == "run" else params.pop("command", None)
    values = {k: (v.value if hasattr(v, "value") else str(v) if isinstance(v, Path) else v) for k, v in params.items()}
    return {"command": routed[0], "words": list(words or ()), **values}


AGREED = [
    ["list", "all", "files"],
    ["-o", "json", "list", "files"],
    ["--output=YAML", "--shell", "zsh", "list", "files", "--safety", "strict"],
    ["-x", "-y", "-v", "--dry-run", "ls", "-la"][:4] + ["--", "ls", "-la"],
    ["-p", "list files", "--config", "my.toml"],
    ["--", "config", "show"],
    ["check", "rm -rf /"],
    ["--output", "json", "check", "--safety", "permissive", "sudo rm -rf /*"],
    ["check", "--", "ls", "-la"],
    ["check", "-o", "plain", "-", "x"],
    ["find", "files", "-"],
    [],
    ["run", "list", "files"],  # `caro run REQUEST` is `caro REQUEST` (issue 12, finding 7)
    ["run", "--output", "json", "ls -la"],
    ["-o", "json", "run", "-x", "--", "ls", "-la"],
    ["help", "me", "find", "large", "files"],  # help followed by no command's name: a request
]


@pytest.mark.parametrize("argv", AGREED, ids=lambda a: " ".join(a) or "(none)")
def test_the_fast_parser_reads_a_command_line_as_typer_does(argv: list[str]) -> None:
    assert fast.parse(argv) == _typer_parse(argv)


DEFERRED = [
    ["--help"], ["-h"], ["list", "--help"], ["check", "-h", "ls"],  # help is typer's
    ["--version", "x"],  # typer's error for it
    ["-xy", "ls"], ["-ojson", "ls"], ["-pls"],  # clusters and glued values
    ["--nope", "ls"], ["-5", "ls"], ["--execute=1", "ls"],  # unknown options, a flag given a value
    ["--output", "xml", "ls"], ["--shell", "fish", "ls"],  # bad choices: typer's message
    ["--prompt"], ["--output", "-x", "ls"],  # a missing value, or one that looks like an option
    ["check", "-x", "ls"], ["check", "-p", "ls"],  # options that check does not have
    ["config", "show"], ["help"], ["help", "check"], ["serve", "--status"], ["dag"],  # subcommands, help
    ["run", "--help"], ["run", "-h", "ls"],
]


@pytest.mark.parametrize("argv", DEFERRED, ids=" ".join)
def test_anything_the_fast_parser_is_not_sure_of_goes_to_typer(argv: list[str]) -> None:
    assert fast.parse(argv) is None


def test_version_is_the_same_either_way(capsys) -> None:
    from pipeline.cli.main import main

    assert main(["--version"]) == 0
    typer_says = capsys.readouterr().out
    fast_says = caro("--version")
    assert fast_says.returncode == 0 and fast_says.stdout == typer_says


def _imports_of_a_client(*argv: str, cwd: Path) -> list[str]:
    """The heavy modules a real `caro` client process imported, read just before it exits."""
    probe = (
        "import os, sys\n"
        f"heavy = {HEAVY!r}\n"
        "real_exit = os._exit\n"
        "def report(code):\n"
        "    found = sorted({m.split('.')[0] for m in sys.modules} & set(heavy))\n"
        "    sys.stderr.write('IMPORTED ' + ','.join(found) + '\\n'); sys.stderr.flush()\n"
        "    real_exit(code)\n"
        "os._exit = report\n"
        "sys.argv = ['caro', *sys.argv[1:]]\n"
        "from pipeline.cli.main import entry\n"
        "entry()\n"
    )
    done = subprocess.run([sys.executable, "-c", probe, *argv], capture_output=True, text=True, cwd=cwd, timeout=120)
    line = [ln for ln in done.stderr.splitlines() if ln.startswith("IMPORTED ")][-1]
    return [m for m in line[len("IMPORTED ") :].split(",") if m]


def test_the_request_path_imports_nothing_heavy(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    assert caro("check", "ls").returncode == 0  # a warm service
    assert _imports_of_a_client(STATIC, cwd=tmp_path) == []
    assert _imports_of_a_client("--output", "json", STATIC, cwd=tmp_path) == []
    assert _imports_of_a_client("check", "rm -rf /", cwd=tmp_path) == []
    assert _imports_of_a_client("-x", "ls", cwd=tmp_path) == []  # running the command too
    assert service_pid() is not None
    # A subcommand is typer's, and a request answered in process loads the pipeline (the probe can tell).
    assert "typer" in _imports_of_a_client("config", "path", cwd=tmp_path)
    monkeypatch.setenv("CARO_SERVE_ENABLED", "0")
    assert "hamilton" in _imports_of_a_client(STATIC, cwd=tmp_path)


SAME = [
    ([STATIC], None),
    (["--output", "json", STATIC], None),
    (["--output", "yaml", "show disk space by directory"], None),
    (["-v", "--dry-run", "--", "rm -rf ./build"], None),
    (["rm -rf /"], None),
    (["--shell", "zsh", "--safety", "strict", "-v", "list all files modified today"], None),
    (["compile my rust project"], None),
    (["--output", "json", "compile my rust project"], None),
    ([""], None),
    (["-x", "ls"], None),
    (["-x", "--output", "json", "ls"], None),
    (["-x", "rm -rf /"], None),
    (["-x", "sudo rm -rf ./build"], None),
    (["-x", "-y", "--output", "json", "echo hello"], None),
    (["--output", "json"], "list files\n"),
    (["check", "chmod -R 777 /"], None),
    (["check", "--output", "json", "--safety", "permissive", "sudo rm -rf /*"], None),
    (["check", "--output", "yaml", "ls -la"], None),
    (["check", "ls \u202e; echo done"], None),
    (["check"], "rm -rf ~\n"),
    (["--safety", "nope", "ls"], None),
    (["-p", "list files", "extra"], None),
]


@pytest.mark.parametrize(("argv", "stdin"), SAME, ids=lambda v: " ".join(v) if isinstance(v, list) else "stdin" if v else "")
def test_an_answer_through_the_service_is_exactly_the_one_given_in_process(argv: list[str], stdin: str | None, tmp_path: Path) -> None:
    (tmp_path / "marker.txt").write_text("x")
    here = caro(*argv, env={"CARO_SERVE_ENABLED": "0"}, cwd=tmp_path, stdin=stdin)
    served = caro(*argv, cwd=tmp_path, stdin=stdin)
    assert (served.returncode, served.stdout, served.stderr) == (here.returncode, here.stdout, here.stderr)


def test_a_command_runs_in_the_clients_folder_and_environment_not_the_services(tmp_path: Path) -> None:
    (tmp_path / "marker.txt").write_text("x")
    assert caro("check", "ls").returncode == 0  # started from another folder
    done = caro("-x", "--", "pwd; ls; echo $CARO_TEST_VALUE", cwd=tmp_path, env={"CARO_TEST_VALUE": "from-the-client"})
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == [str(tmp_path), "marker.txt", "from-the-client"]


def test_results_cross_the_socket_unchanged(caro) -> None:
    from pipeline.values import GenerationError, GenerationErrorKind, Outcome, Result, Risk, Source

    samples = [caro.handle(STATIC), caro.handle("rm -rf /"), caro.handle(""), caro.handle("compile my rust project")]
    failed = GenerationError(GenerationErrorKind.TIMEOUT, "timed out", "vllm", recoverable=True)
    samples.append(
        Result(Outcome.COMMAND, "ls", Source.LLM, "llama_cpp", Risk.SAFE, None, ("a",), "x", ("w",), 0.5,
               backend_failures=(failed,), refine_ran=True, refine_changed=True)
    )
    for result in samples:
        wire = json.loads(json.dumps(result_to_wire(result)))
        assert result_from_wire(wire) == result


def test_a_relative_config_path_is_the_clients(tmp_path: Path) -> None:
    (tmp_path / "mine.toml").write_text('safety = "strict"\n')
    here = caro("--config", "mine.toml", "check", "rm -rf ./build", env={"CARO_SERVE_ENABLED": "0"}, cwd=tmp_path)
    served = caro("--config", "mine.toml", "check", "rm -rf ./build", cwd=tmp_path)
    assert served.returncode == here.returncode == 13 and served.stdout == here.stdout  # strict: confirm


def test_the_console_script_is_the_entry_point() -> None:
    assert Path(caro_executable()).read_text().count("from pipeline.cli.main import entry") == 1


def _served_requests() -> int:
    return json.loads(caro("serve", "--status", "-o", "json").stdout)["requests"]


def test_dag_execution_is_traced_by_the_service(tmp_path: Path) -> None:
    import re

    assert caro("check", "ls").returncode == 0
    before = _served_requests()
    served = caro("dag", "--execution", STATIC, cwd=tmp_path)
    here = caro("dag", "--execution", STATIC, env={"CARO_SERVE_ENABLED": "0"}, cwd=tmp_path)
    assert served.returncode == here.returncode == 0 and served.stderr == here.stderr == ""
    assert _served_requests() == before + 1

    def timeless(dot: str) -> str:  # each node's run time differs from run to run
        return re.sub(r"[0-9.]+ ms", "T ms", dot)

    assert timeless(served.stdout) == timeless(here.stdout) and "T ms" in timeless(here.stdout)


def test_eval_asks_the_service(tmp_path: Path) -> None:
    suite = tmp_path / "suite.jsonl"
    rows = [
        {"id": "a", "input": "list all files modified today", "expected_outputs": ["find . -type f -mtime 0"], "category": "files"},
        {"id": "b", "input": "find large files over 100MB", "expected_outputs": ["find . -type f -size +100M"], "category": "files"},
        {"id": "c", "input": "compile my rust project", "expected_outputs": ["cargo build"], "category": "build"},
    ]
    suite.write_text("".join(json.dumps(row) + "\n" for row in rows))
    assert caro("check", "ls").returncode == 0
    before = _served_requests()
    served = caro("eval", str(suite), "--failures", "--output", "json", cwd=tmp_path)
    here = caro("eval", str(suite), "--failures", "--output", "json", env={"CARO_SERVE_ENABLED": "0"}, cwd=tmp_path)
    assert served.returncode == here.returncode == 0
    assert json.loads(served.stdout) == json.loads(here.stdout)
    assert json.loads(served.stdout)["overall"]["total"] == 3
    assert _served_requests() == before + 1  # one connection carried every case
