"""Evaluation suites: JSON-lines files of requests with what counts as a right answer.

The suites in ../shared/cases come in several shapes (the peer's files); the development set in
bench/devset/ has its own (`request`, `category`, `expected`, `judge`, `fixture`, `ordered`).
`load_suite` reads any of them into `EvalCase`s.

Rows the peer judged by exact text (`exact_match`) are judged by equivalence here: flag order,
quoting and `-n 20` vs `-20` do not change what a command does (../shared/cases/README).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from enum import Enum
from pathlib import Path
from typing import Any


class Rule(str, Enum):
    """How a case's answer is judged without running it."""

    EQUIVALENT = "equivalent"  # same utilities, effective flags and operands as one expected answer
    PATTERN = "pattern"  # the regex finds a match in the command
    NOT_OFFERED = "not_offered"  # dangerous: no command may be offered for execution without a yes
    # A row naming only the dangerous command a model might write (beta's `dangerous_pattern`):
    # that command must be blocked or need confirmation, and no canned table answer may be given
    # (../shared/cases/README). The answer itself is judged by the validator like any other.
    PATTERN_STOPPED = "pattern_stopped"
    NO_STATIC = "no_static"  # must not be answered from the static table


class JudgeKind(str, Enum):
    """Which judge decides a case: running it in a fixture, or comparing its spelling."""

    EXECUTION = "execution"  # run the expected and the answer in copies of a fixture, compare
    EQUIVALENCE = "equivalence"  # compare the commands (docker, package managers, network, ...)


@dataclass(frozen=True)
class EvalCase:
    """One request with what counts as a right answer."""

    id: str
    request: str
    rule: Rule
    expected: tuple[str, ...] = ()
    pattern: str | None = None
    category: str = "uncategorised"
    dangerous_command: str | None = None  # for NOT_OFFERED and PATTERN_STOPPED rows that name the dangerous command
    judge: JudgeKind = JudgeKind.EQUIVALENCE
    fixture: str | None = None  # the fixture the execution judge runs in
    ordered: bool = False  # the request asks for an order, so output lines are compared in order


def _expected(row: dict[str, Any]) -> list[str]:
    expected: list[str] = []
    for key in ("expected_output", "expected_command"):
        if isinstance(row.get(key), str):
            expected.append(row[key])
    for key in ("expected_outputs", "expected"):
        if isinstance(row.get(key), list):
            expected.extend(str(e) for e in row[key])
    if isinstance(row.get("assert"), dict) and isinstance(row["assert"].get("equals"), str):
        expected.append(row["assert"]["equals"])
    return expected


def _case(row: dict[str, Any], number: int) -> EvalCase | None:
    request = row.get("request") or row.get("input") or row.get("input_request") or row.get("prompt")
    if not isinstance(request, str) or not request.strip():
        return None  # structural rows and command-only rows are not requests
    case_id = str(row.get("id") or row.get("test") or f"row{number}")
    category = str(row.get("category") or "uncategorised")
    rule_name = row.get("validation_rule")
    expected = _expected(row)
    if rule_name == "must_be_blocked":
        return EvalCase(case_id, request, Rule.NOT_OFFERED, category=category, dangerous_command=row.get("dangerous_pattern"))
    if row.get("dangerous_pattern") and not expected:
        return EvalCase(case_id, request, Rule.PATTERN_STOPPED, category=category, dangerous_command=row["dangerous_pattern"])
    if row.get("expected_pattern_match") is False:
        return EvalCase(case_id, request, Rule.NO_STATIC, category=category)
    if rule_name == "pattern_match" and row.get("validation_pattern"):
        return EvalCase(case_id, request, Rule.PATTERN, tuple(expected), row["validation_pattern"], category)
    if not expected:
        return None
    judge = JudgeKind(row.get("judge", JudgeKind.EQUIVALENCE.value))
    fixture = row.get("fixture") or ("project" if judge is JudgeKind.EXECUTION else None)
    return EvalCase(
        case_id, request, Rule.EQUIVALENT, tuple(expected), category=category,
        judge=judge, fixture=fixture, ordered=bool(row.get("ordered", False)),
    )


def load_suite(path: Path) -> list[EvalCase]:
    """The request cases of one JSON-lines suite (rows that are not requests are left out).

    ValueError names the line of a row that is not JSON or names an unknown judge.
    """
    cases = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        try:
            case = _case(json.loads(line), number)
        except (json.JSONDecodeError, ValueError, AttributeError) as exc:
            raise ValueError(f"line {number}: {type(exc).__name__}") from None
        if case is not None:
            cases.append(case)
    return cases


def sample(cases: list[EvalCase], size: int) -> list[EvalCase]:
    """An evenly spread, deterministic sample of exactly `size` cases: each category keeps its
    share (largest remainders get the odd places), and within a category every k-th case."""
    if size >= len(cases):
        return list(cases)
    by_category: dict[str, list[EvalCase]] = {}
    for case in cases:
        by_category.setdefault(case.category, []).append(case)
    exact = {name: size * len(members) / len(cases) for name, members in by_category.items()}
    shares = {name: int(value) for name, value in exact.items()}
    for name in sorted(exact, key=lambda n: (shares[n] - exact[n], n))[: size - sum(shares.values())]:
        shares[name] += 1
    chosen: list[EvalCase] = []
    for name, members in by_category.items():
        share = shares[name]
        if share:
            step = len(members) / share
            chosen.extend(members[int(i * step)] for i in range(share))
    order = {id(case): n for n, case in enumerate(cases)}
    chosen.sort(key=lambda c: order[id(c)])
    return chosen
