"""notebooks/tour.ipynb runs top to bottom (on the tiny generated data, quick budgets)."""

from __future__ import annotations

from pathlib import Path

import pytest

nbformat = pytest.importorskip("nbformat")
nbclient = pytest.importorskip("nbclient")
pytest.importorskip("ipykernel")

TOUR = Path(__file__).resolve().parents[1] / "notebooks" / "tour.ipynb"


def test_tour_is_committed_without_outputs() -> None:
    notebook = nbformat.read(TOUR, as_version=4)
    nbformat.validate(notebook)
    code = [cell for cell in notebook.cells if cell.cell_type == "code"]
    assert code and all(not cell.outputs and cell.execution_count is None for cell in code)


def test_tour_runs_top_to_bottom(
    tmp_path: Path, tiny_data_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The kernel inherits this environment: quick budgets, the tiny data, runs under tmp_path.
    monkeypatch.setenv("MNIST_LAB_TOUR_QUICK", "1")
    monkeypatch.setenv("MNIST_LAB_DATA_DIR", str(tiny_data_dir))
    monkeypatch.setenv("MNIST_LAB_LOG_DIR", str(tmp_path))
    monkeypatch.setenv("MPLBACKEND", "Agg")
    notebook = nbformat.read(TOUR, as_version=4)
    client = nbclient.NotebookClient(
        notebook,
        timeout=300,
        kernel_name="python3",
        resources={"metadata": {"path": str(TOUR.parent)}},
    )
    client.execute()  # raises CellExecutionError, with the cell and traceback, if one fails

    outputs = [output for cell in notebook.cells for output in cell.get("outputs", [])]
    images = [output for output in outputs if "image/png" in output.get("data", {})]
    # the sample grid, the learning curves and the confusion matrix
    assert len(images) == 3
    text = "".join(output.get("text", "") for output in outputs)
    assert "quick: True" in text and "test accuracy" in text
    (run,) = list((tmp_path / "tour").iterdir())
    assert (run / "metrics.json").is_file() and (run / "checkpoints" / "best.ckpt").is_file()
    table = [o["data"]["text/markdown"] for o in outputs if "text/markdown" in o.get("data", {})]
    assert len(table) == 1 and "| params | best val acc | test acc |" in table[0]
