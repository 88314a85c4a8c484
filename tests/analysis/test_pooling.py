"""CS155 set 4 §3D-E: torch's 2x2 pooling of the four matrices against the values by hand."""

from __future__ import annotations

import json
from pathlib import Path

from mnist_lab.analysis.pooling import main, pooled, pooling_markdown

# By hand: each output entry is a 2x2 patch (rows 1-2 / 3-4, columns 1-2 / 3-4) of the matrix.
# Average = (number of ones in the patch) / 4; max = 1 as soon as the patch holds a one.
BY_HAND_AVERAGE = [
    [[4 / 4, 2 / 4], [2 / 4, 1 / 4]],  # the 3x3 block of ones sits top left
    [[2 / 4, 4 / 4], [1 / 4, 2 / 4]],  # top right
    [[1 / 4, 2 / 4], [2 / 4, 4 / 4]],  # bottom right
    [[2 / 4, 1 / 4], [4 / 4, 2 / 4]],  # bottom left
]
# every patch of every matrix holds at least one 1
BY_HAND_MAX = [[[1.0, 1.0], [1.0, 1.0]]] * 4


def test_torch_pooling_gives_the_values_by_hand() -> None:
    outputs = pooled()
    assert outputs["average"] == BY_HAND_AVERAGE
    assert outputs["max"] == BY_HAND_MAX


def test_the_table_shows_each_matrix_and_both_poolings() -> None:
    table = pooling_markdown(pooled())
    assert "| 1 | [1 1 1 0; 1 1 1 0; 1 1 1 0; 0 0 0 0] | [1 0.5; 0.5 0.25] | [1 1; 1 1] |" in table
    assert "| 4 | [0 0 0 0; 1 1 1 0; 1 1 1 0; 1 1 1 0] | [0.5 0.25; 1 0.5] | [1 1; 1 1] |" in table
    assert "Max pooling gives 1 different output(s)" in table


def test_the_command_writes_the_table_and_the_numbers(tmp_path: Path, capsys) -> None:
    out = tmp_path / "pooling"
    assert main(["--out", str(out)]) == 0
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["average/matrix_3/r2c2"] == 1.0 and metrics["average/matrix_4/r1c2"] == 0.25
    assert (metrics["average/distinct"], metrics["max/distinct"]) == (4, 1)
    assert set(metrics["environment"]) == {"python", "torch", "device"}
    assert (out / "report.md").read_text() in capsys.readouterr().out


def test_an_unwritable_out_is_one_error_line(tmp_path: Path, capsys) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("")
    assert main(["--out", str(blocker / "pooling")]) == 2
    errors = capsys.readouterr().err.splitlines()
    assert len(errors) == 1 and errors[0].startswith(f"error: cannot write into --out {blocker}")
