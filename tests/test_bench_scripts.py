"""The bench scripts' tables: a measurement is only as good as the variant it names."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parents[1] / "bench"


@pytest.mark.parametrize("script", sorted(BENCH.glob("*.py")), ids=lambda p: p.name)
def test_no_dict_literal_names_a_key_twice(script: Path) -> None:
    """bench_prompt.py once had "default+notes" twice: the second entry silently replaced the first,
    and a whole run measured another plan than the one its name said (docs/quality.md, part 6)."""
    repeated = []
    for node in ast.walk(ast.parse(script.read_text(), filename=str(script))):
        if isinstance(node, ast.Dict):
            keys = [k.value for k in node.keys if isinstance(k, ast.Constant)]
            repeated += sorted({k for k in keys if keys.count(k) > 1})
    assert repeated == [], f"{script.name}: {repeated}"
