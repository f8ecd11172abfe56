"""A clone without ../shared/cases: the tests that read the suites skip and say why; in CI they fail.

Issue 12, finding 5: two modules failed at collection when the folder was absent, so the
README's test command broke in a standalone clone. Each check runs pytest as a real process in
a copy of tests/ whose `../shared/cases` does not exist.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import REPO

# Every way a module reads the suites: rows while collecting, rows inside a test, the folder.
PROBE = '''
import pytest
from cases import cases_dir, load_cases


@pytest.mark.parametrize("row", load_cases("beta_test_cases.jsonl"))
def test_rows_at_collection(row):
    assert row


def test_rows_inside_a_test():
    assert load_cases("beta_test_cases.jsonl")


def test_the_folder_inside_a_test():
    assert (cases_dir() / "beta_test_cases.jsonl").is_file()


def test_that_needs_no_suite():
    assert 1 + 1 == 2
'''


def _readers() -> list[str]:
    """The test modules that read the shared suites (found by what they import)."""
    found = []
    for module in sorted((REPO / "tests").glob("test_*.py")):
        text = module.read_text(encoding="utf-8")
        if re.search(r"^from (tests\.)?cases import", text, flags=re.M) and module.name != Path(__file__).name:
            found.append(f"tests/{module.name}")
    return found


@pytest.fixture(scope="module")
def clone(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A copy of the repository's tests (and pytest settings) with no ../shared beside it."""
    top = tmp_path_factory.mktemp("standalone")
    repo = top / "caro"
    shutil.copytree(REPO / "tests", repo / "tests", ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(REPO / "pyproject.toml", repo)
    (repo / "tests" / "test_probe_cases.py").write_text(PROBE, encoding="utf-8")
    assert not (top / "shared").exists()
    return repo


def _pytest(clone: Path, *args: str, ci: bool) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k not in ("CI", "CARO_CASES_DIR", "PYTEST_CURRENT_TEST")}
    if ci:
        env["CI"] = "true"
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-rs", "-p", "no:cacheprovider", *args],
        cwd=clone, env=env, capture_output=True, text=True, timeout=600,
    )


def test_without_the_folder_the_readers_skip_with_the_reason(clone: Path) -> None:
    done = _pytest(clone, "tests/test_probe_cases.py", ci=False)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "1 passed, 3 skipped" in done.stdout
    reasons = [line for line in done.stdout.splitlines() if line.startswith("SKIPPED")]  # "SKIPPED [n] where: reason"
    assert sum(int(re.match(r"SKIPPED \[(\d+)\]", r)[1]) for r in reasons) == 3
    assert all("../shared/cases beside the repository is absent" in r for r in reasons)
    assert all("CARO_CASES_DIR" in r and "with CI set they are required" in r for r in reasons)


def test_in_ci_an_absent_folder_fails_the_run(clone: Path) -> None:
    done = _pytest(clone, "tests/test_probe_cases.py", ci=True)
    assert done.returncode != 0
    assert "ERROR collecting tests/test_probe_cases.py" in done.stdout  # the collection-time reader fails it
    assert "the shared suites are not here" in done.stdout


def test_every_module_that_reads_the_suites_collects_without_them(clone: Path) -> None:
    readers = _readers()
    assert "tests/test_static_cases.py" in readers and "tests/test_safety_cases.py" in readers
    done = _pytest(clone, "--collect-only", *readers, ci=False)
    assert done.returncode == 0, done.stdout + done.stderr
    summary = done.stdout.strip().splitlines()[-1]  # "N tests collected in Ts", or "... N errors ..."
    assert "collected" in summary and not re.search(r"\d+ errors?\b", summary), summary
    in_ci = _pytest(clone, "--collect-only", *readers, ci=True)
    assert in_ci.returncode != 0 and "the shared suites are not here" in in_ci.stdout


def test_the_readme_says_where_the_suites_come_from() -> None:
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    development = readme.split("## Development", 1)[1].split("\n## ", 1)[0]
    assert "../shared/cases" in development and "CARO_CASES_DIR" in development
    assert "skip" in development and "`CI`" in development
