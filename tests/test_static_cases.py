"""The peer's shared suites run against the static table (read from ../shared/cases, never copied)."""

from __future__ import annotations

import glob
from pathlib import Path

import pytest
from cases import cases_dir, load_cases

from pipeline.equivalence import difference
from pipeline.static.table import StaticTable
from pipeline.values import Platform, Shell, Userland

GNU = Platform("linux", Userland.GNU, Shell.BASH)
BSD = Platform("macos", Userland.BSD, Shell.BASH)

# Rows of beta_test_cases.jsonl where this table deliberately disagrees with the suite.
# fm_004 and fm_010 ask the same thing ("Find/list all files larger than 1GB") with different
# expected commands; fm_006 expects `-ls` without `-type f`, where every other find row expects
# `-type f` and no action; git_003 expects a `<filename>` placeholder, which is a shell syntax
# error, so the table needs a real file name; devops_002 asks to delete Docker volumes
# (`docker volume prune` can destroy data), which the table never answers; text_005 expects
# `directory/` for "this directory", while the table will not invent a directory name.
BETA_KNOWN_DISAGREEMENTS = {"fm_004", "fm_006", "git_003", "devops_002", "text_005"}
# The suite's own expectations for these are weak; the better command is noted in the table:
# sm_005 (`du -sh /*` crosses mounts), text_002 (`wc $(find ...)` splits names with spaces),
# text_006 (checks one disk for "all drives"), devops_004 (`sh -c` with `{}` spliced in).
BETA_MINIMUM = 53


@pytest.fixture(scope="module")
def table() -> StaticTable:
    return StaticTable.default()


def _platform(row_platform: str) -> Platform:
    return BSD if row_platform == "macos" else GNU


def test_beta_test_cases(table: StaticTable) -> None:
    rows = load_cases("beta_test_cases.jsonl")
    assert len(rows) == 58
    passed: list[str] = []
    failures: list[str] = []
    for row in rows:
        match = table.match(row["input"], _platform(row["platform"]))
        if row["category"] == "dangerous_commands":
            # Destructive requests (with or without an expected command) must not get a canned answer.
            ok, why = match is None, f"answered with {match.command!r}" if match else ""
        else:
            why = "no match" if match is None else difference(match.command, row["expected_output"]) or ""
            ok = match is not None and not why
        (passed if ok else failures).append(row["id"] if ok else f"{row['id']}: {why}")
    dangerous = sum(r["category"] == "dangerous_commands" for r in rows)
    print(f"\nbeta_test_cases: {len(passed)}/58 ({dangerous} dangerous rows need no match, {58 - dangerous} need a command)")
    for failure in failures:
        print("  FAIL", failure)
    assert {f.split(":")[0] for f in failures} <= BETA_KNOWN_DISAGREEMENTS
    assert len(passed) >= BETA_MINIMUM


def _unit_rows() -> list[dict]:
    return [r for r in load_cases("static_matcher_unit_tests.jsonl") if r.get("input")]


@pytest.mark.parametrize("row", _unit_rows(), ids=lambda r: f"{r['test']}-{r['platform_profile']}")
def test_static_matcher_unit_rows(table: StaticTable, row: dict) -> None:
    platform = BSD if "bsd" in row["platform_profile"] else GNU
    match = table.match(row["input"], platform)
    check = row["assert"]
    if check.get("error"):
        assert match is None
        return
    assert match is not None
    command = match.command
    if "equals" in check:
        assert difference(command, check["equals"]) is None
    for part in check.get("contains", []) + check.get("contains_all", []):
        assert part in command
    if "contains_any" in check:
        assert any(part in command for part in check["contains_any"])
    for part in check.get("not_contains", []):
        assert part not in command
    assert 0 < match.confidence <= 1


@pytest.mark.parametrize("name", ["beta_safety_validation.jsonl", "beta_dangerous_commands.jsonl"])
def test_safety_suites(table: StaticTable, name: str) -> None:
    for row in load_cases(name):
        match = table.match(row["input"], GNU)
        if row.get("expected_pattern_match") is False or row["category"] == "dangerous_commands":
            assert match is None, row["id"]
        else:
            assert match is not None, row["id"]
            assert difference(match.command, row["expected_output"]) is None, row["id"]


def test_default_suite(table: StaticTable) -> None:
    rows = load_cases("caro_test_default_suite.jsonl")
    answered = 0
    for row in rows:
        match = table.match(row["input"], GNU)
        assert match is not None, row["id"]
        assert any(difference(match.command, e) is None for e in row["expected_outputs"]), row["id"]
        answered += 1
    print(f"\ncaro_test_default_suite: {answered}/{len(rows)} answered equivalently")
    assert answered == len(rows)


def test_report_eval_suites(table: StaticTable) -> None:
    """Figures only: these suites measure the model later, so the table is not tuned to them."""
    names = ["eval_harness_dataset.jsonl", "eval_test_cases_toml.jsonl"]
    names += sorted(Path(p).name for p in glob.glob(str(cases_dir() / "eval_correctness_*.jsonl")))
    assert len(names) == 5
    for name in names:
        rows = load_cases(name)
        answered = equivalent = 0
        for row in rows:
            request = row.get("input_request") or row.get("input") or row.get("prompt")
            if not request:
                continue
            match = table.match(request, GNU)
            answered += match is not None
            expected = row.get("expected_command")
            equivalent += bool(match and expected and difference(match.command, expected) is None)
        print(f"\n{name}: {answered}/{len(rows)} answered, {equivalent} equivalent to the expected command")
        assert equivalent <= answered <= len(rows)
