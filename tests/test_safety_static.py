"""Every command the static table can emit is allowed at the default level (the table answers harmless requests).

Rendered with each intent's slot defaults, for GNU and BSD userlands, plus every answer the
table gives to the shared suites' requests. A table command that is not allowed needs an
allow-list entry (configs/safety_allow.toml, with its reason) or a recorded exception here.
"""

from __future__ import annotations

import pytest
from cases import load_cases

from pipeline.safety import RuleSet, assess, default_rules_path
from pipeline.static.table import StaticTable
from pipeline.values import Action, Platform, SafetyLevel, Shell, Userland

RULES = RuleSet.load([default_rules_path()])
# Answers that ask on purpose: they start or stop what a compose file describes, which caro does not read.
EXCEPTIONS = {"docker.compose_up": "runs the services a compose file describes", "docker.compose_down": "stops and removes them"}
SUITES = [
    "beta_test_cases.jsonl", "static_matcher_unit_tests.jsonl", "caro_test_default_suite.jsonl", "eval_harness_dataset.jsonl",
    "eval_test_cases_toml.jsonl", "beta_safety_validation.jsonl",
]


def _commands() -> dict[str, str]:
    table = StaticTable.default()
    found: dict[str, str] = {}
    for userland, os_name in ((Userland.GNU, "linux"), (Userland.BSD, "macos")):
        platform = Platform(os_name, userland, Shell.BASH)
        for intent in table.intents:
            command = table.example(intent, platform)
            if command:
                found[command] = intent.id
        for name in SUITES:
            for row in load_cases(name):
                request = row.get("input") or row.get("input_request") or row.get("prompt")
                match = table.match(request, platform) if request else None
                if match is not None:
                    found[match.command] = match.intent_id
    return found


def test_static_table_commands_are_allowed() -> None:
    commands = _commands()
    assert len(commands) > 150
    refused = []
    for command, intent in sorted(commands.items()):
        verdict = assess(command, shell=Shell.BASH, level=SafetyLevel.MODERATE, rules=RULES, cwd="/home/u/project", home="/home/u")
        if intent in EXCEPTIONS:
            assert verdict.action is Action.CONFIRM, (intent, command, verdict)
        elif verdict.action is not Action.ALLOWED:
            refused.append(f"{intent}: {command!r}: {verdict.explanation}")
    assert not refused, "\n".join(refused)


@pytest.mark.parametrize("intent", sorted(EXCEPTIONS))
def test_every_exception_is_still_in_the_table(intent: str) -> None:
    assert intent in {i.id for i in StaticTable.default().intents}
