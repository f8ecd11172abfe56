"""notebooks/telemetry_analysis.ipynb runs headless in a real kernel, on demo data and on none.

Executed with nbclient in the `python3` kernel (ipykernel, this interpreter). The notebook in
git keeps no outputs; these runs work on copies in memory.
"""

from __future__ import annotations

import subprocess
import sys
from datetime import datetime, timezone
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient
from nbformat.v4 import new_code_cell

from pipeline.telemetry.demo_db import write_demo
from pipeline.telemetry.store import TelemetryStore
from tests.conftest import REPO

NOTEBOOK = REPO / "notebooks" / "telemetry_analysis.ipynb"
NO_DATA = "No telemetry data yet"


@pytest.fixture(scope="module")
def demo_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """10,000 demo events over 30 days: made once for the module."""
    path = tmp_path_factory.mktemp("notebook") / "demo.db"
    assert write_demo(path, 10_000, seed=1, end=datetime(2025, 3, 3, tzinfo=timezone.utc)).written == 10_000
    return path


def _read() -> nbformat.NotebookNode:
    return nbformat.read(NOTEBOOK, as_version=4)


def _run(nb: nbformat.NotebookNode, folder: Path) -> nbformat.NotebookNode:
    NotebookClient(nb, kernel_name="python3", timeout=180, resources={"metadata": {"path": str(folder)}}).execute()
    return nb


def _with_parameters(nb: nbformat.NotebookNode, source: str) -> nbformat.NotebookNode:
    """The notebook with a cell after the parameters cell that sets them, as papermill injects one."""
    at = next(i for i, c in enumerate(nb.cells) if "parameters" in c.metadata.get("tags", []))
    nb.cells.insert(at + 1, new_code_cell(source, metadata={"tags": ["injected-parameters"]}))
    return nb


def _plot_cells(nb: nbformat.NotebookNode) -> list[nbformat.NotebookNode]:
    return [c for c in nb.cells if "plot" in c.metadata.get("tags", [])]


def _outputs(nb: nbformat.NotebookNode, output_type: str) -> list[dict]:
    return [o for c in nb.cells if c.cell_type == "code" for o in c.outputs if o["output_type"] == output_type]


def _images(cell: nbformat.NotebookNode) -> int:
    return sum("image/png" in o.get("data", {}) for o in cell.outputs)


def _text(nb: nbformat.NotebookNode) -> str:
    return "".join(o.get("text", "") for o in _outputs(nb, "stream"))


def test_runs_on_demo_data_with_a_figure_per_plot_cell(demo_db: Path, tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("CARO_TELEMETRY_DB", str(demo_db))
    nb = _run(_read(), tmp_path)
    assert _outputs(nb, "error") == []
    plots = _plot_cells(nb)
    assert len(plots) >= 6  # requests, backends, latency, failures, safety, refine
    assert [_images(c) for c in plots] == [1] * len(plots)
    assert sum(_images(c) for c in nb.cells if c.cell_type == "code") == len(plots)
    text = _text(nb)
    assert NO_DATA not in text and "events: 10,000" in text
    assert str(demo_db) not in text  # the notebook shows figures, not where the data lives


def test_every_plot_cell_explains_itself() -> None:
    nb = _read()
    for i, cell in enumerate(nb.cells):
        if "plot" in cell.metadata.get("tags", []):
            before = nb.cells[i - 1]
            assert before.cell_type == "markdown" and before.source.startswith("## ") and len(before.source) > 100


def test_an_empty_database_says_so_and_draws_nothing(tmp_path: Path) -> None:
    empty = tmp_path / "empty.db"
    with TelemetryStore(empty) as store:
        store.migrate()  # the schema and no events
    nb = _run(_with_parameters(_read(), f"database = {str(empty)!r}"), tmp_path)
    _assert_no_data(nb)


def test_a_missing_database_says_so_and_is_not_created(tmp_path: Path, monkeypatch) -> None:
    missing = tmp_path / "nothing-here.db"
    monkeypatch.setenv("CARO_TELEMETRY_DB", str(missing))
    nb = _run(_read(), tmp_path)
    _assert_no_data(nb)
    assert "does not exist yet" in _text(nb)
    assert not missing.exists()


def _assert_no_data(nb: nbformat.NotebookNode) -> None:
    assert _outputs(nb, "error") == []
    assert NO_DATA in _text(nb) and "caro telemetry demo --events 10000" in _text(nb)
    assert sum(_images(c) for c in nb.cells if c.cell_type == "code") == 0


def test_the_notebook_in_git_has_no_outputs() -> None:
    nb = _read()
    nbformat.validate(nb)
    code = [c for c in nb.cells if c.cell_type == "code"]
    assert code and all(c.outputs == [] and c.execution_count is None for c in code)
    first = code[0]
    assert first.metadata.get("tags") == ["parameters"] and first.source.strip().endswith("database = None")
    assert nb.metadata["kernelspec"]["name"] == "python3"


def test_the_notebook_is_generated_from_notebooks_generate_py() -> None:
    done = subprocess.run([sys.executable, str(REPO / "notebooks" / "generate.py"), "--check"], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
