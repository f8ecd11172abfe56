"""Loading the peer's shared test suites from ../shared/cases (never copied into this repo).

The suites live beside the repository in the project's shared workspace, not in it. A clone on
its own has no `../shared/cases`: there the tests that read them skip, each saying why, and the
rest of the suite runs. In CI (the environment variable CI set, as CI services do) they are
required: an absent folder fails the run. A folder that is there but lacks a suite always
fails: that is a broken checkout, not a standalone clone.

Modules read the suites while pytest collects them (to parametrize) and inside tests. While
collecting, an absent folder gives no rows; conftest.py then gives each test left without
parameters this module's reason to skip.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest

CASES_ENV = "CARO_CASES_DIR"


def in_ci() -> bool:
    """Whether this run is CI's: CI set to anything but empty, 0, false or no."""
    return os.environ.get("CI", "").strip().lower() not in ("", "0", "false", "no")


def _folder() -> Path:
    override = os.environ.get(CASES_ENV)
    return Path(override) if override else Path(__file__).resolve().parents[2] / "shared" / "cases"


def absent_reason() -> str | None:
    """Why the shared suites cannot be read, or None when their folder is there."""
    folder = _folder()
    if folder.is_dir():
        return None
    where = f"{CASES_ENV}={folder}" if os.environ.get(CASES_ENV) else "../shared/cases beside the repository"
    return (
        f"the shared suites are not here ({where} is absent): they come from the project's shared workspace, "
        f"not this repository; set {CASES_ENV} to their folder. Skipped outside CI; with CI set they are required"
    )


def _missing() -> None:
    """Inside a test: skip it (or, in CI, fail it) when the suites' folder is absent."""
    reason = absent_reason()
    if reason is not None:
        if in_ci():
            pytest.fail(reason, pytrace=False)
        pytest.skip(reason)


def _collecting() -> bool:
    return "PYTEST_CURRENT_TEST" not in os.environ  # pytest sets it around each test's setup, call and teardown


def cases_dir() -> Path:
    """The shared cases folder: CARO_CASES_DIR, else ../shared/cases beside the repository.

    Inside a test, an absent folder skips the test (fails it in CI).
    """
    if not _collecting():
        _missing()
    return _folder()


def load_cases(name: str) -> list[dict[str, Any]]:
    """The rows of one JSON-lines suite.

    An absent folder: no rows while collecting (the test skips, see the module doc), a skip
    inside a test; in CI, a failure either way. A folder without this suite: a failure.
    """
    reason = absent_reason()
    if reason is not None:
        if _collecting():
            if in_ci():
                pytest.fail(reason, pytrace=False)  # a collection error: the run fails
            return []
        _missing()
    path = _folder() / name
    if not path.is_file():
        pytest.fail(f"shared suite {name} not found under {_folder()}; set {CASES_ENV}", pytrace=False)
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
