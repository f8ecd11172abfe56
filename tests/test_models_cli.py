"""`caro model ...`: exit codes, JSON, and one-line errors (in process, plus one real process)."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from pipeline.cli.main import main
from pipeline.errors import ExitCode
from tests.conftest import caro_executable
from tests.model_wheels import FakeModel, chunked_model
from tests.test_models import needs_tiny

DEFAULT = "qwen2.5-coder-1.5b"


def run_json(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, dict, str]:
    code = main([*argv, "--output", "json"])
    captured = capsys.readouterr()
    return code, json.loads(captured.out), captured.err


@pytest.fixture
def fake(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> FakeModel:
    """A chunked test model in the catalogue the CLI loads, with pip pointed at its wheels."""
    import pipeline.models.catalogue as catalogue_module

    model = chunked_model(tmp_path, parts=4)
    monkeypatch.setattr(catalogue_module, "load_catalogue", lambda: model.catalogue)
    monkeypatch.setenv("CARO_PIP_ARGS", f"--no-index --find-links '{model.wheels}'")
    return model


def test_list_reports_every_model_and_the_default(capsys) -> None:
    code, data, _ = run_json(capsys, "model", "list")
    assert code == 0 and data["default"] == DEFAULT
    rows = {row["name"]: row for row in data["models"]}
    assert set(rows) == {"smollm2-135m", "qwen2.5-coder-0.5b", DEFAULT}
    assert rows[DEFAULT]["default"] is True and rows[DEFAULT]["state"] == "missing" and rows[DEFAULT]["path"] is None
    assert rows[DEFAULT]["size"] == 1_117_320_768 and rows["qwen2.5-coder-0.5b"]["size"] == 491_400_064


def test_list_plain_marks_the_configured_model(capsys, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CARO_MODEL", "qwen2.5-coder-1.5b")
    assert main(["model", "list"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 3
    assert [line.split()[1] for line in lines if line.startswith("*")] == ["qwen2.5-coder-1.5b"]


def test_path_of_a_missing_model_is_one_line_with_the_fix(capsys, caro_home: Path) -> None:
    assert main(["model", "path"]) == ExitCode.ERROR
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err == f"caro: error: model {DEFAULT} is not downloaded (hint: run `caro model pull {DEFAULT}`)\n"
    assert str(caro_home) not in captured.err


def test_verify_missing_is_exit_1_with_a_json_error(capsys) -> None:
    code, data, _ = run_json(capsys, "model", "verify", DEFAULT)
    assert code == ExitCode.ERROR
    assert data["error"]["code"] == "model_missing" and f"caro model pull {DEFAULT}" in data["error"]["hint"]


def test_verify_a_corrupt_file_is_exit_1(capsys, caro_home: Path) -> None:
    models = caro_home / "models"
    models.mkdir(parents=True)
    (models / "qwen2.5-coder-1.5b-instruct-q4_k_m.gguf").write_bytes(b"GGUF" + b"\0" * 100)
    code, data, _ = run_json(capsys, "model", "verify")
    assert code == ExitCode.ERROR and data["error"]["code"] == "model_corrupt"
    assert main(["model", "list", "--output", "json"]) == 0
    rows = {row["name"]: row for row in json.loads(capsys.readouterr().out)["models"]}
    assert rows[DEFAULT]["state"] == "wrong_size"


def test_an_unknown_name_is_a_usage_error(capsys) -> None:
    assert main(["model", "verify", "no-such-model"]) == ExitCode.USAGE
    assert "known models:" in capsys.readouterr().err


def test_a_configured_path_cannot_be_pulled(capsys, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("CARO_MODEL", str(tmp_path / "mine.gguf"))
    assert main(["model", "pull"]) == ExitCode.USAGE
    assert "not a catalogue model" in capsys.readouterr().err


def test_pull_then_verify_then_path(capsys, fake: FakeModel, caro_home: Path) -> None:
    code, data, err = run_json(capsys, "model", "pull", fake.name)
    assert code == 0 and data["downloaded"] is True and data["size"] == len(fake.content)
    assert err == f"caro: model {fake.name} downloaded and verified ({round(len(fake.content) / 1000)} KB, sha256 ok)\n"  # stderr is no terminal: one line
    stored = caro_home / "models" / f"{fake.name}.gguf"
    assert Path(data["path"]) == stored and stored.read_bytes() == fake.content

    code, data, err = run_json(capsys, "model", "pull", fake.name)
    assert code == 0 and data["downloaded"] is False and "already here" in err

    code, data, _ = run_json(capsys, "model", "verify", fake.name)
    assert code == 0 and data["status"] == "ok" and data["sha256"] == data["expected_sha256"]

    assert main(["model", "path", fake.name]) == 0
    assert capsys.readouterr().out == f"{stored}\n"


def test_pull_failing_in_pip_prints_one_line(capsys, fake: FakeModel, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    empty = tmp_path / "empty"
    empty.mkdir()
    monkeypatch.setenv("CARO_PIP_ARGS", f"--no-index --find-links '{empty}'")
    assert main(["model", "pull", fake.name]) == ExitCode.ERROR
    captured = capsys.readouterr()
    assert captured.out == "" and captured.err.count("\n") == 1
    assert captured.err.startswith(f"caro: error: could not download model {fake.name}:")


@needs_tiny
def test_verify_the_installed_tiny_model(capsys) -> None:
    code, data, _ = run_json(capsys, "model", "verify", "smollm2-135m")
    assert code == 0 and data["ok"] is True and data["location"] == "installed"


def test_model_path_as_a_real_process(caro_home: Path) -> None:
    done = subprocess.run([caro_executable(), "model", "path", DEFAULT], capture_output=True, text=True)
    assert done.returncode == ExitCode.ERROR and done.stdout == ""
    assert f"caro model pull {DEFAULT}" in done.stderr and "Traceback" not in done.stderr
