"""The fault matrix (tests/faults.py), each row run as a real `caro` process, plainly and as JSON.

For every fault: the documented exit code, exactly the expected line on stderr (nothing when
caro copes), one JSON object on stdout under JSON output (an error object with the fault's code
and exit code, or the command's own answer), never a traceback, and what is kept is checked.
docs/faults.md is rendered from the same table.
"""

from __future__ import annotations

import json
from contextlib import ExitStack
from pathlib import Path

import pytest

from tests import fault_scenes as scenes
from tests import faults
from tests.fault_scenes import Observed, Scene
from tests.faults import FAULTS, Fault


@pytest.fixture
def scene(tmp_path: Path) -> Scene:
    with ExitStack() as cleanup:
        yield Scene(root=tmp_path, env=scenes.base_env(tmp_path / "home"), cleanup=cleanup)


def _no_traceback(observed: Observed) -> None:
    assert "Traceback" not in observed.stdout + observed.stderr
    assert "internal error" not in observed.stderr


@pytest.mark.parametrize("fault", FAULTS, ids=[f.id for f in FAULTS])
def test_plain(fault: Fault, scene: Scene) -> None:
    fault.setup(scene)
    observed = scenes.run(fault, scene, as_json=False)
    _no_traceback(observed)
    assert observed.returncode == fault.exit_code, observed.stderr
    lines = observed.stderr.splitlines()
    if fault.says:
        assert len(lines) == 1, observed.stderr
        assert fault.says_pattern().match(lines[0]), lines[0]
        if fault.exit_code != 0:
            assert observed.stdout == ""  # stdout carries data only, and there is none
    else:
        assert lines == [], observed.stderr
    fault.check_kept(scene)


@pytest.mark.parametrize("fault", FAULTS, ids=[f.id for f in FAULTS])
def test_json(fault: Fault, scene: Scene) -> None:
    fault.setup(scene)
    observed = scenes.run(fault, scene, as_json=True)
    _no_traceback(observed)
    assert observed.returncode == fault.exit_code, observed.stdout + observed.stderr
    assert observed.stdout.endswith("\n") and observed.stdout.count("\n") == 1, observed.stdout  # one object, one line
    answer = json.loads(observed.stdout)
    if fault.code is not None:
        assert set(answer) == {"error"}, answer
        assert answer["error"]["code"] == fault.code and answer["error"]["exit_code"] == fault.exit_code
        assert observed.stderr == ""  # the error is the JSON object; nothing else is said
    elif isinstance(answer, dict) and "exit_code" in answer:
        assert answer["exit_code"] == fault.exit_code
    assert len(observed.stderr.splitlines()) <= 1, observed.stderr
    fault.check_kept(scene)


def test_every_fault_is_unique_and_documented() -> None:
    ids = [f.id for f in FAULTS]
    assert len(ids) == len(set(ids))
    assert all(f.group in faults._GROUPS for f in FAULTS)
    assert all(f.code is None or f.exit_code != 0 for f in FAULTS)


def test_the_fault_matrix_page_is_current() -> None:
    assert faults.main(["--check"]) == 0, "run `python -m tests.faults` to rewrite docs/faults.md"
    page = faults.DOC.read_text(encoding="utf-8")
    for fault in FAULTS:
        assert fault.fault.replace("|", "\\|") in page
