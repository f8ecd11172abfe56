"""The development set (bench/devset/): enough verified rows, and every expected command right.

Every expected command of an execution-judged row runs, confined, in a copy of its fixture:
it must exit as the row says (0 unless `exit` is given), do something visible (print or change
files), and pass the execution judge against a second run of itself (so it is deterministic and
a right answer can match it). Rows the execution judge cannot run (docker, package managers,
the network) must at least parse as shell.
"""

from __future__ import annotations

import json
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from pipeline.evaluation import ExecutionJudge, JudgeKind, load_builder, load_suite, sandbox
from pipeline.evaluation.judges import difference

DEVSET = Path(__file__).resolve().parents[1] / "bench" / "devset"
ROWS = [json.loads(line) for line in (DEVSET / "devset.jsonl").read_text(encoding="utf-8").splitlines() if line.strip()]
CATEGORIES = {"files", "text", "processes", "network", "git", "archives", "system", "docker", "packages"}


def test_the_set_is_large_varied_and_well_formed() -> None:
    assert len(ROWS) >= 300
    per_category = Counter(row["category"] for row in ROWS)
    assert set(per_category) == CATEGORIES and min(per_category.values()) >= 20
    assert len({row["id"] for row in ROWS}) == len(ROWS)
    assert len({row["request"].lower() for row in ROWS}) == len(ROWS)
    for row in ROWS:
        assert set(row) <= {"id", "category", "request", "expected", "judge", "fixture", "ordered", "exit"}, row["id"]
        assert row["expected"] and len(set(row["expected"])) == len(row["expected"]), row["id"]
        assert row["judge"] in ("execution", "equivalence"), row["id"]
        assert (row["judge"] == "execution") == ("fixture" in row), row["id"]
    executed = sum(row["judge"] == "execution" for row in ROWS)
    assert executed >= 250
    cases = load_suite(DEVSET / "devset.jsonl")
    assert len(cases) == len(ROWS)
    assert sum(case.judge is JudgeKind.EXECUTION for case in cases) == executed
    assert sum(case.ordered for case in cases) == sum(bool(row.get("ordered")) for row in ROWS)


def test_the_set_is_not_taken_from_the_shared_suites() -> None:
    from tests.cases import cases_dir

    shared: set[str] = set()
    for path in cases_dir().glob("*.jsonl"):
        for line in path.read_text(encoding="utf-8").splitlines():
            if line.strip():
                row = json.loads(line)
                shared.update(str(row[k]).strip().lower() for k in ("input", "input_request", "prompt") if row.get(k))
    assert shared
    assert [row["id"] for row in ROWS if row["request"].strip().lower() in shared] == []


def test_every_equivalence_row_parses_as_shell() -> None:
    from pipeline.shell.parse import parse_script

    for row in ROWS:
        if row["judge"] == "equivalence":
            for command in row["expected"]:
                assert parse_script(command).ok, (row["id"], command)


def test_every_expected_command_passes_the_judge_against_itself() -> None:
    problem = sandbox.problem()
    if problem is not None:
        pytest.skip(f"confinement unavailable here: {problem}")
    work = [(row, command) for row in ROWS if row["judge"] == "execution" for command in row["expected"]]
    with ExecutionJudge(load_builder(DEVSET / "fixtures.py"), timeout_s=20.0) as judge:
        quiet = judge.run("project", "true")
        assert not isinstance(quiet, str), quiet

        def check(item: tuple[dict, str]) -> str | None:
            row, command = item
            first, second = judge.run(row["fixture"], command), judge.run(row["fixture"], command)
            if isinstance(first, str) or isinstance(second, str):
                return f"{row['id']} {command!r}: {first if isinstance(first, str) else second}"
            if first.exit_code != row.get("exit", 0):
                return f"{row['id']} {command!r}: exit {first.exit_code} ({first.stderr.strip()[:200]})"
            if not first.stdout.strip() and first.tree == quiet.tree:
                return f"{row['id']} {command!r}: neither prints nor changes anything"
            why = difference(first, second, bool(row.get("ordered")))
            return f"{row['id']} {command!r}: not deterministic ({why})" if why else None

        judge.template("project")  # built once, before the threads share it
        with ThreadPoolExecutor(max_workers=4) as pool:
            failures = [f for f in pool.map(check, work) if f]
    assert failures == []
    assert len(work) >= 500
