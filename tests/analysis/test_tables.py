"""The table of runs on hand-written run directories: swept keys, rows, captions, seeds."""

from __future__ import annotations

from pathlib import Path

import pytest

from mnist_lab.analysis.tables import legend_labels, seed_table, summary_table, swept_keys
from mnist_lab.runtime.rundir import find_runs
from tests.helpers.run_dirs import write_curves_run, write_seed_sweep, write_sweep


def test_summary_table_rows_order_and_threshold_caption(tmp_path: Path) -> None:
    runs = find_runs(write_sweep(tmp_path))
    assert [run.name for run in runs] == ["0", "1", "2"]
    assert swept_keys(runs) == ["model.net.hidden_dims"]  # max_epochs is shared, not swept
    assert legend_labels(runs, swept_keys(runs)) == [
        "hidden_dims=[32,16]",
        "hidden_dims=[64,32]",
        "hidden_dims=[8] (failed)",
    ]
    summary = summary_table(runs, threshold=0.97)
    assert [row["run"] for row in summary.rows] == ["1", "0", "2"]
    assert [row["model.net.hidden_dims"] for row in summary.rows] == ["[64,32]", "[32,16]", "[8]"]
    assert [row["params"] for row in summary.rows] == [52_650, 25_818, None]
    assert [row["status"] for row in summary.rows] == [
        "ok",
        "ok",
        "failed: loss became NaN at epoch 2",
    ]
    assert summary.rows[0]["best val acc"] == 0.981
    assert summary.rows[0]["mean s/epoch"] == pytest.approx(2.0)
    assert summary.caption == (
        "Smallest model with best val acc > 0.97: 25,818 parameters (model.net.hidden_dims=[32,16])"
    )
    assert "52,650 parameters" in summary_table(runs, threshold=0.978).caption
    assert summary_table(runs, threshold=0.99).caption == (
        "No finished model has best val acc > 0.99 (highest: 0.9810, model.net.hidden_dims=[64,32])"
    )


def test_seed_table_names_the_smallest_setting_that_passes_for_every_seed(tmp_path: Path):
    runs = find_runs(write_seed_sweep(tmp_path))
    table = seed_table(runs, threshold=0.97)
    assert table.startswith(
        "Smallest model.net.hidden_dims with best val acc > 0.97 for every seed: [4] "
        "(22 parameters)"
    )
    assert "| [2] | 12 | 1 of 2 | 0.8750 | 0.7500 |" in table
    # a sweep without seeds, or without a target to pass, has no such table
    assert seed_table(find_runs(tmp_path / "00"), threshold=0.97) == ""
    assert seed_table(runs) == ""


def test_bookkeeping_overrides_are_never_swept_keys(tmp_path: Path) -> None:
    """How a run was executed (threads, progress bar, logger, paths) is not what it trained."""
    for name, threads in (("0", "1"), ("1", "2")):
        write_curves_run(
            tmp_path / name,
            [
                "experiment=autoencoder_fashion",
                f"threads={threads}",
                "++trainer.enable_progress_bar=false",
                "tensorboard.name=tb",
                f"paths.log_dir=/tmp/{name}",
            ],
            {"val/loss": [0.1]},
        )
    assert swept_keys(find_runs(tmp_path)) == ["experiment"]
