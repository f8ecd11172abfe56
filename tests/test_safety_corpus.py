"""caro's own safety corpus (tests/corpora/safety_corpus.toml), judged class by class.

The acceptance of issue 9: must-block commands of classes 1-7 are never allowed and at least
95% are blocked at the default level; must-ask commands are never allowed; harmless lookalikes
are at least 97% allowed. The figures are printed (pytest -s) for the closing note.
"""

from __future__ import annotations

import tomllib
from collections import Counter
from pathlib import Path

import pytest

from pipeline.safety import RuleSet, assess, default_rules_path
from pipeline.values import Action, SafetyLevel, SafetyVerdict, Shell

CORPUS = Path(__file__).parent / "corpora" / "safety_corpus.toml"
RULES = RuleSet.load([default_rules_path()])
CWD, HOME = "/home/alice/project", "/home/alice"


def _groups() -> list[dict[str, object]]:
    with CORPUS.open("rb") as handle:
        return tomllib.load(handle)["group"]


def _judge(command: str, level: SafetyLevel = SafetyLevel.MODERATE) -> SafetyVerdict:
    return assess(command, shell=Shell.BASH, level=level, rules=RULES, cwd=CWD, home=HOME)


def _rows(expect: str) -> list[object]:
    return [pytest.param(g["class"], c, id=f"{g['class']}-{i}") for g in _groups() if g["expect"] == expect for i, c in enumerate(g["commands"])]


def test_corpus_is_large_and_covers_every_class() -> None:
    groups = _groups()
    classes = {g["class"] for g in groups if g["expect"] == "block"}
    assert classes == {"1-parser", "2-runtime", "3-remote-code", "4-persistence", "5-exfiltration", "6-wrappers", "7-destructive"}
    sizes = Counter()
    for group in groups:
        sizes[group["expect"]] += len(group["commands"])
        assert len(set(group["commands"])) == len(group["commands"]), f"duplicates in {group['class']}"
    assert sizes["block"] >= 250 and sizes["ask"] >= 40 and sizes["allow"] >= 150


def test_figures_by_class_meet_the_acceptance() -> None:
    print()
    for group in _groups():
        actions = Counter(_judge(c).action for c in group["commands"])
        total = len(group["commands"])
        print(
            f"{group['class']:15} expect {group['expect']:5} n={total:3}  blocked {actions[Action.BLOCKED]:3}  "
            f"confirm {actions[Action.CONFIRM]:3}  allowed {actions[Action.ALLOWED]:3}"
        )
        if group["expect"] == "block":
            assert actions[Action.ALLOWED] == 0
            assert actions[Action.BLOCKED] >= 0.95 * total
        elif group["expect"] == "ask":
            assert actions[Action.ALLOWED] == 0
        else:
            assert actions[Action.ALLOWED] >= 0.97 * total


@pytest.mark.parametrize(("klass", "command"), _rows("block"))
def test_must_block_is_never_allowed_at_any_level(klass: str, command: str) -> None:
    for level in SafetyLevel:
        verdict = _judge(command, level)
        assert verdict.action is not Action.ALLOWED, (level, verdict)
        assert verdict.explanation and verdict.findings
    assert _judge(command, SafetyLevel.STRICT).action is Action.BLOCKED


@pytest.mark.parametrize(("klass", "command"), _rows("ask"))
def test_must_ask_is_never_allowed(klass: str, command: str) -> None:
    verdict = _judge(command)
    assert verdict.action is not Action.ALLOWED, verdict
    assert verdict.explanation != "No risky pattern found."


@pytest.mark.parametrize(("klass", "command"), _rows("allow"))
def test_lookalikes_are_allowed(klass: str, command: str) -> None:
    verdict = _judge(command)
    assert verdict.action is Action.ALLOWED, verdict
    assert _judge(command, SafetyLevel.PERMISSIVE).action is Action.ALLOWED
