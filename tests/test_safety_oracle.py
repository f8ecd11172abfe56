"""Bash as the oracle: its reading is asked for, never run, and tree-sitter's must agree with it."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pipeline.safety import RuleSet, assess, default_rules_path
from pipeline.safety.faithful import Faithfulness, commands_of, faithfulness, is_plain
from pipeline.shell import oracle
from pipeline.shell.oracle import Verdict, bash_reading, plain
from pipeline.shell.parse import parse_script
from pipeline.values import Action, SafetyLevel, Shell

RULES = RuleSet.load([default_rules_path()])
needs_bash = pytest.mark.skipif(not oracle.available(), reason="bash is not installed")


def judge(command: str):
    return assess(command, shell=Shell.BASH, level=SafetyLevel.MODERATE, rules=RULES, cwd="/home/alice/project", home="/home/alice")


@needs_bash
@pytest.mark.parametrize(
    "escape",
    [
        "}}; touch {p}; f() {{ :",
        "}}\ntouch {p}\nf() {{ :",
        ":; }} ; touch {p} ; {{ :",
        "$(touch {p})",
        "`touch {p}`",
        "x=$(touch {p})",
        "echo $((1 + $(touch {p}) ))",
        "cat <<EOF\n$(touch {p})\nEOF",
        "cat <(touch {p})",
    ],
)
def test_asking_bash_never_runs_the_text(tmp_path: Path, escape: str) -> None:
    marker = tmp_path / "ran"
    text = escape.format(p=marker)
    reading = bash_reading(text)
    assert reading.verdict in (Verdict.READ, Verdict.REJECTED)
    assert not marker.exists()
    if reading.verdict is Verdict.READ:
        assert str(marker) in reading.canonical  # bash read it, and only printed it back


@needs_bash
@pytest.mark.parametrize(
    ("text", "seen_by_bash"),
    [
        ("command r\\\nm -rf --no-preserve-root /tmp/x", ("command", "rm", "-rf", "--no-preserve-root", "/tmp/x")),
        ("cat <<EOT; rm -rf /tmp/x\nEOT", ("rm", "-rf", "/tmp/x")),
    ],
)
def test_bash_sees_what_tree_sitter_missed(text: str, seen_by_bash: tuple[str, ...]) -> None:
    reading = bash_reading(text)
    assert reading.verdict is Verdict.READ
    assert any(argv == seen_by_bash for argv, _ in commands_of(parse_script(reading.canonical)))


@needs_bash
def test_a_differential_is_blocked_and_explained() -> None:
    verdict = judge("cat <<EOT; rm -rf /tmp/x\nEOT")
    assert verdict.action is Action.BLOCKED
    assert "parser-differential" in {f.rule_id for f in verdict.findings}
    assert "destructive_rm" in verdict.categories  # what bash runs is judged too


# Plain text, as `plain` defines it: words, simple quotes, $NAME, pipes, lists, simple redirects.
WORD = st.from_regex(r"[A-Za-z0-9_./:=,+@%^~*?-]{1,8}", fullmatch=True).filter(lambda w: w not in oracle.RESERVED and not w.startswith("-") and "=" not in w[:1])
QUOTED = st.one_of(st.from_regex(r"'[^'\n\x00]{0,8}'", fullmatch=True), st.from_regex(r'"[A-Za-z0-9 _./-]{0,8}"', fullmatch=True))
VARIABLE = st.sampled_from(["$HOME", "${HOME}", "$x", '"$PWD/x"'])
ARG = st.one_of(WORD, QUOTED, VARIABLE, st.just("{}"), st.just("\\;"))
REDIRECT = st.sampled_from(["", " > out.txt", " >> log", " 2>&1", " < in.txt", " 2>/dev/null", " &> all.log"])
COMMAND = st.builds(lambda name, args, redirect: " ".join([name, *args]) + redirect, WORD, st.lists(ARG, max_size=4), REDIRECT)
OPERATOR = st.sampled_from([" | ", " && ", " || ", "; ", " & "])


@st.composite
def plain_lines(draw: st.DrawFn) -> str:
    commands = draw(st.lists(COMMAND, min_size=1, max_size=4))
    line = commands[0]
    for command in commands[1:]:
        line += draw(OPERATOR) + command
    return line


@needs_bash
@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(plain_lines())
def test_plain_text_reads_the_same_in_tree_sitter_and_bash(line: str) -> None:
    """The fast path's claim, checked against bash: plain text needs no second opinion."""
    assert plain(line), line
    script = parse_script(line)
    reading = bash_reading(line)
    assert reading.verdict is Verdict.READ, line
    assert commands_of(script) == commands_of(parse_script(reading.canonical)), (line, reading.canonical)


@pytest.mark.parametrize("text", ["ls -la | grep x > out.txt", "git commit -m 'a; b'", 'echo "$HOME/x" && cd /tmp', "find . -exec rm {} \\;"])
def test_plain_needs_no_bash(text: str) -> None:
    assert plain(text) and faithfulness(text, parse_script(text), ask_bash=False).verdict is Faithfulness.SAME


@pytest.mark.parametrize("text", ["cat <<EOF\nx\nEOF", "echo $(date)", "ls # note", "a=$'x'", "echo é", "coproc ls", "r\\\nm x", "{ ls; }", "time ls"])
def test_everything_else_is_not_plain(text: str) -> None:
    assert not is_plain(text, parse_script(text))


def test_without_bash_fragile_text_asks_and_plain_text_is_allowed(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(oracle, "_bash", lambda: None)
    assert bash_reading("ls").verdict is Verdict.UNAVAILABLE
    fragile = judge("cat <<'EOF'\nhello\nEOF")
    assert fragile.action is Action.CONFIRM and "unchecked" in {f.rule_id for f in fragile.findings}
    assert judge("ls -la | wc -l").action is Action.ALLOWED
    assert judge("echo $(date)").action is Action.ALLOWED  # not fragile: tree-sitter is trusted
    assert judge("command r\\\nm -rf --no-preserve-root /tmp/x").action is Action.BLOCKED  # joined as bash joins it


@needs_bash
def test_the_oracle_gets_no_environment_of_ours(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BASH_ENV", "/nonexistent/should-not-be-read")
    oracle._cached.cache_clear()
    assert bash_reading("echo $HOME").verdict is Verdict.READ
    assert os.environ["BASH_ENV"]  # ours is untouched; bash got only what _ask gives it
