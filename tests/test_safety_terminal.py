"""The screen cannot lie: control and invisible characters are printed as visible escapes."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from pipeline.terminal import hidden_characters, printable
from tests.conftest import caro_executable


@pytest.mark.parametrize(
    ("text", "shown", "kind"),
    [
        ("touch X; \x1b[2K\x1b[1Gls -la", "touch X; \\e[2K\\e[1Gls -la", "control"),
        ("rm -rf ~\rls -la", "rm -rf ~\\rls -la", "control"),
        ("ls \u202egnp.exe", "ls \\u202egnp.exe", "bidi"),
        ("rm\u200b -rf x", "rm\\u200b -rf x", "invisible"),
        ("echo a\u00a0b", "echo a\\u00a0b", "space"),
        ("echo \x07\x7f\x9b", "echo \\a\\x7f\\x9b", "control"),
        ("echo \U000e0041", "echo \\U000e0041", "invisible"),
        ("ls \ufe0f", "ls \\ufe0f", "invisible"),
    ],
)
def test_hidden_characters_are_escaped_visibly(text: str, shown: str, kind: str) -> None:
    assert printable(text) == shown
    assert kind in hidden_characters(text)


@pytest.mark.parametrize("text", ["ls -la", "cat <<'EOF'\nline\nEOF\n", "printf 'a\\tb'", "echo café naïve 日本", "find . -exec rm {} \\;"])
def test_ordinary_text_is_unchanged(text: str) -> None:
    assert printable(text) == text and not hidden_characters(text)


@given(st.text())
def test_printable_never_leaves_a_hidden_character(text: str) -> None:
    shown = printable(text)
    assert not hidden_characters(shown)
    assert bool(hidden_characters(text)) == (shown != text)


def _caro(args: list[str], cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [caro_executable(), *args], capture_output=True, text=True, cwd=cwd, stdin=subprocess.DEVNULL, env=os.environ, timeout=60
    )


def test_check_prints_escapes_and_json_keeps_the_exact_text(tmp_path: Path) -> None:
    # ESC is refused in typed text (a request problem), so a typed command shows bidi instead;
    # a model's ESC is covered by tests/test_safety_cli.py.
    command = "ls -la \u202e; echo done"
    plain = _caro(["check", command], tmp_path)
    assert "\u202e" not in plain.stdout + plain.stderr and "action: confirm" in plain.stdout
    # stdout is data: a pipe gets the exact command, a terminal gets it escaped (that half runs
    # under a pseudo-terminal in tests/test_cli_findings.py); stderr, for the person, never holds it.
    shown = _caro(["--dry-run", "--", command], tmp_path)
    assert shown.stdout == command + "\n" and "\u202e" not in shown.stderr
    data = json.loads(_caro(["check", "--output", "json", command], tmp_path).stdout)
    assert data["command"] == command and data["action"] != "allowed"
