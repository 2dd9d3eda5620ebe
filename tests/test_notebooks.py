"""The notebooks in ``notebooks/`` run top to bottom (quick mode) and are committed without outputs.

Each notebook is executed with ``nbclient`` in a temporary working directory (its figures are
written there); a cell that raises -- including a notebook's own ``assert`` on a check that fails
-- fails the test.
"""

from __future__ import annotations

from pathlib import Path

import pytest

nbformat = pytest.importorskip("nbformat")
nbclient = pytest.importorskip("nbclient")

NOTEBOOK_DIR = Path(__file__).resolve().parents[1] / "notebooks"
NOTEBOOKS = sorted(NOTEBOOK_DIR.glob("*.ipynb"))
STANDALONE = ("overview", "audit_digits")  # the notebooks that are not a paper's
EXPECTED = {*STANDALONE, *(f"paper{i:03d}" for i in range(5))}


def _ids(paths: list[Path]) -> list[str]:
    return [p.stem for p in paths]


def test_one_notebook_per_paper_an_overview_and_the_audit_example():
    prefixes = {p.stem if p.stem in STANDALONE else p.stem[:8] for p in NOTEBOOKS}
    assert prefixes == EXPECTED


@pytest.mark.parametrize("path", NOTEBOOKS, ids=_ids(NOTEBOOKS))
def test_committed_without_outputs(path: Path):
    nb = nbformat.read(path, as_version=4)
    code = [c for c in nb.cells if c.cell_type == "code"]
    assert code, "a notebook without code cells"
    for cell in code:
        assert cell.outputs == [], f"cell {cell.get('id')} has outputs"
        assert cell.execution_count is None, f"cell {cell.get('id')} has an execution count"
    assert "QUICK" in code[0].source and "DIFFMEM_FULL" in nb.cells[0].source


@pytest.mark.parametrize("path", NOTEBOOKS, ids=_ids(NOTEBOOKS))
def test_notebook_runs(path: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.delenv("DIFFMEM_FULL", raising=False)  # quick settings
    monkeypatch.setenv("MPLBACKEND", "Agg")
    nb = nbformat.read(path, as_version=4)
    client = nbclient.NotebookClient(
        nb, timeout=600, kernel_name="python3", resources={"metadata": {"path": str(tmp_path)}}
    )
    try:
        client.execute()
    except nbclient.exceptions.CellExecutionError as err:  # the traceback names the cell
        pytest.fail(f"{path.name}: a cell raised\n{err}")
    errors = [
        out
        for cell in nb.cells
        if cell.cell_type == "code"
        for out in cell.outputs
        if out.output_type == "error"
    ]
    assert not errors, errors
    assert list((tmp_path / "figures").glob("*.png")), "no figure was written"
