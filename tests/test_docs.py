"""Docs stay true: every CLI command is documented, and CI runs exactly the README's test command."""

from __future__ import annotations

import re

from pipeline.cli.app import app
from pipeline.cli.main import main
from tests.conftest import REPO


def _commands() -> list[tuple[str, object]]:
    import typer.main

    root = typer.main.get_command(app)
    found = []
    for name, command in root.commands.items():
        found.append((name, command))
        for sub, subcommand in getattr(command, "commands", {}).items():
            found.append((f"{name} {sub}", subcommand))
    return found


def test_every_command_has_help_and_is_in_the_cli_reference(capsys) -> None:
    reference = (REPO / "docs" / "cli.md").read_text(encoding="utf-8")
    for name, command in _commands():
        assert (command.help or "").strip(), f"caro {name} has no help text"
        assert f"caro {name}" in reference, f"caro {name} is missing from docs/cli.md"
        assert main([*name.split(), "--help"]) == 0
        assert "Usage:" in capsys.readouterr().out


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
