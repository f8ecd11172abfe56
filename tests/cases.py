"""Loading the peer's shared test suites from ../shared/cases (never copied into this repo)."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest


def cases_dir() -> Path:
    """The shared cases folder: CARO_CASES_DIR, else ../shared/cases beside the repository."""
    override = os.environ.get("CARO_CASES_DIR")
    return Path(override) if override else Path(__file__).resolve().parents[2] / "shared" / "cases"


def load_cases(name: str) -> list[dict[str, Any]]:
    """The rows of one JSON-lines suite; fails the test (never skips) when the suite is missing."""
    path = cases_dir() / name
    if not path.is_file():
        pytest.fail(f"shared suite {name} not found under {cases_dir()}; set CARO_CASES_DIR", pytrace=False)
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
