"""Docs stay true: every CLI command and option is documented, the generated docs are current,
the architecture page shows the DAG, and CI runs exactly the README's test command."""

from __future__ import annotations

import importlib.util
import os
import re
import subprocess
import sys
from types import ModuleType
from typing import Any

from pipeline.cli.app import app
from pipeline.cli.main import main
from tests.conftest import REPO


def _commands() -> list[tuple[str, Any]]:
    """Every command and subcommand, at any depth, by its words after `caro`."""
    import typer.main

    found: list[tuple[str, Any]] = []

    def walk(prefix: str, group: Any) -> None:
        for name, command in getattr(group, "commands", {}).items():
            words = f"{prefix} {name}".strip()
            found.append((words, command))
            walk(words, command)

    walk("", typer.main.get_command(app))
    return found


def _reference_sections() -> dict[str, str]:
    """docs/cli.md's `## caro ...` sections, by the command's words."""
    reference = (REPO / "docs" / "cli.md").read_text(encoding="utf-8")
    parts = re.split(r"^## caro ?(.*)$", reference, flags=re.M)
    return {parts[i].strip(): parts[i + 1] for i in range(1, len(parts), 2)}


def test_every_command_has_help_and_is_in_the_cli_reference(capsys) -> None:
    sections = _reference_sections()
    names = [name for name, _ in _commands()]
    assert {"run", "check", "dag", "eval", "config", "model", "telemetry", "config get", "telemetry show"} <= set(names)
    for name, command in _commands():
        assert (command.help or "").strip(), f"caro {name} has no help text"
        assert name in sections, f"caro {name} is missing from docs/cli.md"
        assert main([*name.split(), "--help"]) == 0
        assert "Usage:" in capsys.readouterr().out


def test_every_option_is_in_its_commands_reference_section() -> None:
    sections = _reference_sections()
    checked = 0
    for name, command in _commands():
        for param in command.params:
            if param.param_type_name == "option" and not getattr(param, "hidden", False):
                for flag in (*param.opts, *param.secondary_opts):
                    assert re.search(rf"(?<![\w-]){re.escape(flag)}(?![\w-])", sections[name]), (
                        f"caro {name} {flag} is missing from docs/cli.md"
                    )
                    checked += 1
    assert checked > 20
    assert "--execution" in sections["dag"] and "-e, --execution" in sections["dag"]


def _generator() -> ModuleType:
    spec = importlib.util.spec_from_file_location("docs_generate", REPO / "docs" / "generate.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_architecture_page_embeds_the_generated_dag_picture() -> None:
    architecture = (REPO / "docs" / "architecture.md").read_text(encoding="utf-8")
    assert "![The request DAG](dag.svg)" in architecture
    assert "(contributing.md)" in architecture
    svg = (REPO / "docs" / "dag.svg").read_text(encoding="utf-8")
    assert "<svg" in svg and "safety_verdict_telemetry" in svg and "telemetry (@emits)" in svg


def test_the_dag_picture_is_stale_when_the_dag_changes() -> None:
    generate = _generator()
    current = generate.dag_picture()
    assert generate._up_to_date("dag.svg", current, current)
    # Another configuration is another DAG (no model nodes behind primary_backend).
    assert not generate._up_to_date("dag.svg", generate.dag_picture("none"), current)
    assert not generate._up_to_date("dag.svg", current.replace("DAG source sha256", "sha256"), current)


def test_regenerating_the_dag_picture_gives_the_same_bytes() -> None:
    script = (
        "import importlib.util, sys;"
        f"spec = importlib.util.spec_from_file_location('g', {str(REPO / 'docs' / 'generate.py')!r});"
        "g = importlib.util.module_from_spec(spec); spec.loader.exec_module(g);"
        "sys.stdout.buffer.write(g.dag_picture().encode())"
    )
    pictures = {
        subprocess.run([sys.executable, "-c", script], capture_output=True, check=True,
                       env={**os.environ, "PYTHONHASHSEED": seed}).stdout
        for seed in ("1", "2")
    }
    assert len(pictures) == 1 and next(iter(pictures)).startswith(b"<?xml")


def test_the_contributing_guide_says_how_to_test_bench_and_explore() -> None:
    guide = (REPO / "docs" / "contributing.md").read_text(encoding="utf-8")
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    test_command = re.findall(r"```sh\n(.*?)```", readme, flags=re.S)[1].strip()
    assert test_command in guide
    assert "python -m pytest -q tests/" in guide  # one file
    assert "bench/" in guide and "baseline" in guide
    assert "caro eval ../shared/cases/" in guide
    assert "python docs/generate.py" in guide
    assert "notebooks/telemetry_analysis.ipynb" in guide and "pip install -e '.[notebook]'" in guide
    assert "caro telemetry demo" in guide and "CARO_TELEMETRY_DB=" in guide
    assert "duplicates --change" in guide


def test_every_exit_code_is_documented() -> None:
    from pipeline.errors import ExitCode

    reference = (REPO / "docs" / "cli.md").read_text(encoding="utf-8")
    for code in ExitCode:
        assert re.search(rf"\|\s*{int(code)}\s*\|\s*`{code.name}`", reference), code.name


def test_ci_runs_the_readme_test_command() -> None:
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    blocks = re.findall(r"```sh\n(.*?)```", readme, flags=re.S)
    assert len(blocks) >= 2, "the README starts with two command blocks"
    test_command = blocks[1].strip()
    ci = (REPO / ".ci" / "run").read_text(encoding="utf-8")
    assert test_command in ci


def test_generated_docs_are_up_to_date() -> None:
    import subprocess
    import sys

    done = subprocess.run([sys.executable, str(REPO / "docs" / "generate.py"), "--check"], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
