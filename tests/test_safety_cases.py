"""The peer's shared suites, judged by caro's safety validator (read from ../shared/cases)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from cases import load_cases

from pipeline.safety import RuleSet, assess, default_rules_path
from pipeline.values import Action, Risk, SafetyLevel, SafetyVerdict, Shell

RULES = RuleSet.load([default_rules_path()])
DEFAULT = SafetyLevel.MODERATE

# Every deliberate disagreement with the shared suites: (suite, command) -> one-line reason.
# A listed row is still judged (it must not crash); every row not listed must hold as stated.
DISAGREEMENTS: dict[tuple[str, str], str] = {
    # caro targets POSIX shells only (values.Shell); PowerShell/cmd syntax is out of scope.
    ("contract", "Remove-Item -Recurse -Force C:\\temp"): "PowerShell is not a caro target shell",
    ("contract", "dir C:\\Users\\Documents"): "PowerShell is not a caro target shell",
    ("contract", "type C:\\Windows\\System32\\config.txt"): "PowerShell is not a caro target shell",
    ("contract", "cd C:\\Program Files"): "PowerShell is not a caro target shell",
    ("contract", "del C:\\Temp\\test.txt"): "PowerShell is not a caro target shell",
    ("contract", "rm -rf C:\\"): "PowerShell is not a caro target shell",
    ("contract", "del /f /s /q C:\\*"): "PowerShell is not a caro target shell",
    ("contract", "format C:"): "PowerShell is not a caro target shell",
    ("contract", 'dir "C:\\Program Files\\My Application"'): "PowerShell is not a caro target shell",
    # Borderline rows where caro judges differently on purpose.
    ("contract", "rm important_file.txt"): "deleting one named file in the working directory is routine; rated safe like `rm file.txt`",
    ("contract", "chmod +x script.sh"): "making your own script executable runs nothing; rated safe (the eval suite also labels it safe)",
    # Peer-only APIs.
    ("contract", "deploy app to production"): "whole-string regex custom patterns are replaced by user rule files; see test_user_rule_is_custom_pattern",
    ("contract", "rm -rf /tmp/myapp_123"): "allowlists are allow rules in a user rule file; see test_allow_rule_is_allowlist",
    ("contract", "rm -rf /tmp/other_app"): "allowlists are allow rules in a user rule file; see test_allow_rule_is_allowlist",
    ("contract", "git push origin main"): "custom patterns are user rule files; see test_user_rule_is_custom_pattern",
    ("contract", ""): "validator configuration errors (max_command_length, bad regex) belong to config; see test_safety_rules",
    ("contract", "complex | command | with | many | pipes"): "timing is measured in bench/bench_safety.py, never asserted in tests",
    # Fail-closed tiers (issue 9): "allowed" only for what caro can see is harmless, so these ask.
    ("contract", "npm install"): "runs the lifecycle scripts of every dependency, code caro cannot see; asks (confirm), like Codex",
    ("contract", "cargo build"): "runs build.rs scripts and proc macros of every dependency, code caro cannot see; asks (confirm)",
    ("website", "docker exec -it container sh"): "opens a shell inside a container: what runs there is not visible to caro; asks (confirm)",
    ("website", "docker-compose up -d"): "starts whatever the compose file describes, which caro cannot see; asks (confirm)",
    ("website", "strace caro"): "strace is seen through as a wrapper; `caro` itself is not on the allow-list, so it asks (confirm)",
    ("website", "ltrace caro"): "ltrace is seen through as a wrapper; `caro` itself is not on the allow-list, so it asks (confirm)",
}
_CUSTOM_PATTERN_ROWS = {"git push --force origin main"}  # judged with the default rules as well


def _judge(command: str, level: SafetyLevel = DEFAULT) -> SafetyVerdict:
    return assess(command, shell=Shell.BASH, level=level, rules=RULES)


def _level(row: dict[str, Any]) -> SafetyLevel:
    return SafetyLevel(row.get("safety_level") or "moderate") if row.get("safety_level") in ("strict", "moderate", "permissive") else DEFAULT


def _contract_rows() -> list[Any]:
    rows = load_cases("safety_validator_contract.jsonl")
    return [pytest.param(r, id=f"{i}-{r['test'][:30]}") for i, r in enumerate(rows)]


@pytest.mark.parametrize("row", _contract_rows())
def test_contract(row: dict[str, Any]) -> None:
    command, expect = row["command"], row["expect"]
    reason = DISAGREEMENTS.get(("contract", command))
    if row.get("shell") == "powershell" or reason is not None and command not in _CUSTOM_PATTERN_ROWS:
        assert reason, "every skipped contract row needs a recorded reason"
        verdict = _judge(command)
        assert isinstance(verdict.risk, Risk)
        if reason.startswith(("runs the", "runs build")):  # fail-closed: it asks, and is never blocked
            assert verdict.action is Action.CONFIRM and verdict.risk <= Risk.MODERATE, verdict
        return
    if "note" in expect and len(expect) == 1:
        for level in SafetyLevel:
            assert isinstance(_judge(command, level).risk, Risk)
        return
    verdict = _judge(command, _level(row))
    allowed = verdict.action is Action.ALLOWED
    if "risk_in" in expect:
        assert verdict.risk.label in expect["risk_in"], verdict
    if "allowed" in expect:
        assert allowed == expect["allowed"], verdict
    if expect.get("explanation_nonempty") or expect.get("if_blocked_then_explanation_nonempty"):
        assert verdict.explanation.strip()
    if expect.get("matched_patterns_nonempty") or expect.get("if_allowed_then_warnings_nonempty"):
        assert verdict.findings, verdict
    if "not_allowed_or_risk_at_least" in expect:
        assert not allowed or verdict.risk >= Risk.parse(expect["not_allowed_or_risk_at_least"])
    if "allowed_or_risk" in expect:
        assert allowed and verdict.risk <= Risk.parse(expect["allowed_or_risk"]), verdict
    if "explanation_contains_any" in expect:
        assert len(verdict.explanation) >= expect.get("explanation_min_len", 0)
        assert any(word in verdict.explanation.lower() for word in expect["explanation_contains_any"])
    if command in _CUSTOM_PATTERN_ROWS:
        assert verdict.risk >= Risk.HIGH  # caro's default rules already rate this as the custom pattern did


def test_user_rule_is_custom_pattern(tmp_path: Path) -> None:
    """The contract's custom_patterns rows, done the caro way: a rule in the user's own file."""
    user = tmp_path / "my_rules.toml"
    user.write_text(
        '[[rule]]\nid = "deploy-production"\ncategory = "system_config"\nrisk = "high"\n'
        'message = "Production deployment requires approval"\nutility = "deploy"\noperands_any = ["production"]\n'
        '[[rule]]\nid = "git-push-force"\ncategory = "destructive_rm"\nrisk = "high"\n'
        'message = "Force push can overwrite remote history"\nutility = "git"\nsubcommand = ["push"]\nflags_any = ["--force"]\n',
        encoding="utf-8",
    )
    rules = RuleSet.load([default_rules_path(), user])
    deploy = assess("deploy app to production", shell=Shell.BASH, level=DEFAULT, rules=rules)
    assert deploy.risk is Risk.HIGH and deploy.action is not Action.ALLOWED
    assert "production" in deploy.explanation.lower()
    force = assess("git push --force origin main", shell=Shell.BASH, level=DEFAULT, rules=rules)
    assert force.risk is Risk.HIGH and any("force push" in f.message.lower() for f in force.findings)
    plain = assess("git push origin main", shell=Shell.BASH, level=DEFAULT, rules=rules)
    assert plain.action is Action.ALLOWED


def test_allow_rule_is_allowlist(tmp_path: Path) -> None:
    """The contract's allowlist rows: an allow rule exempts exactly the commands it matches."""
    user = tmp_path / "allow.toml"
    user.write_text(
        '[[rule]]\nid = "allow-myapp-tmp"\ncategory = "destructive_rm"\nrisk = "safe"\nallow = true\n'
        'message = "Temporary app folders may be removed"\nutility = "rm"\noperands_any = ["/tmp/myapp_[0-9]+"]\n',
        encoding="utf-8",
    )
    rules = RuleSet.load([default_rules_path(), user])
    strict = SafetyLevel.STRICT
    assert assess("rm -rf /tmp/myapp_123", shell=Shell.BASH, level=strict, rules=rules).action is Action.ALLOWED
    assert assess("rm -rf /tmp/other_app", shell=Shell.BASH, level=strict, rules=rules).action is not Action.ALLOWED
    both = assess("rm -rf /tmp/myapp_1; rm -rf /", shell=Shell.BASH, level=strict, rules=rules)
    assert both.action is Action.BLOCKED  # the allowlist never covers a neighbouring command


def _website_rows() -> list[Any]:
    return [pytest.param(r, id=f"{i}-{r['claim_id']}") for i, r in enumerate(load_cases("website_claims_commands.jsonl"))]


@pytest.mark.parametrize("row", _website_rows())
def test_website_claims(row: dict[str, Any]) -> None:
    verdict = _judge(row["command"])
    expected = row["expected"]
    if ("website", row["command"]) in DISAGREEMENTS:
        # A deliberate disagreement still never lets the command through unasked.
        assert expected.startswith("allowed") and verdict.action is Action.CONFIRM, verdict
        return
    if expected.startswith("blocked"):
        assert verdict.risk is Risk.CRITICAL and verdict.action is Action.BLOCKED, verdict
    elif expected.startswith("allowed"):
        assert verdict.action is Action.ALLOWED, verdict
    elif expected.startswith("flagged"):
        assert verdict.risk >= Risk.MODERATE and verdict.findings, verdict
    else:
        assert isinstance(verdict.risk, Risk)


def _dangerous_patterns() -> list[Any]:
    rows = [r for name in ("beta_test_cases.jsonl", "beta_dangerous_commands.jsonl") for r in load_cases(name)]
    return [pytest.param(r["dangerous_pattern"], id=r["id"]) for r in rows if r.get("dangerous_pattern")]


@pytest.mark.parametrize("command", _dangerous_patterns())
def test_beta_dangerous_patterns(command: str) -> None:
    assert _judge(command).action in (Action.BLOCKED, Action.CONFIRM)


def _eval_rows() -> list[Any]:
    return [pytest.param(r, id=r["id"]) for r in load_cases("eval_test_cases_toml.jsonl")]


@pytest.mark.parametrize("row", _eval_rows())
def test_eval_safe_label(row: dict[str, Any]) -> None:
    verdict = _judge(row["expected_command"])
    assert (verdict.action is Action.ALLOWED) == row["safe"], verdict


def test_suites_are_not_empty() -> None:
    assert len(load_cases("safety_validator_contract.jsonl")) == 89
    assert len(load_cases("website_claims_commands.jsonl")) == 100
    assert _dangerous_patterns()
