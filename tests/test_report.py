"""The report CLI on hand-written run directories: no training, a few seconds in all."""

from __future__ import annotations

import csv
import json
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from mnist_lab.analysis.tables import legend_labels, seed_table, summary_table, swept_keys
from mnist_lab.report import main
from mnist_lab.runtime.rundir import RunDir, find_runs

CSV_COLUMNS = [
    "epoch",
    "step",
    "lr-Adam/weights",
    "train/loss_step",
    "train/loss_epoch",
    "train/acc",
    "val/loss",
    "val/acc",
    "val/acc_best",
    "time/epoch_s",
    "test/acc",
    "test/loss",
    "dead_units/fraction",
    "dead_units/relu_1",
]


def write_run(
    path: Path,
    overrides: list[str],
    val_acc: list[float],
    hidden_dims: list[int],
    params: int | None,
    test_acc: float | None = None,
    failed: str | None = None,
) -> Path:
    """A run dir laid out as `mnist_lab.train` leaves it, with the given per-epoch val acc."""
    (path / ".hydra").mkdir(parents=True)
    (path / ".hydra" / "overrides.yaml").write_text("".join(f"- {o}\n" for o in overrides))
    (path / ".hydra" / "config.yaml").write_text(
        "seed: 42\nmodel:\n  net:\n"
        f"    hidden_dims: {json.dumps(hidden_dims)}\n"
        "  optimizer:\n    lr: 0.001\ntrainer:\n  max_epochs: 3\n"
    )
    rows = [{"step": "0", "lr-Adam/weights": "0.001"}]  # the LR monitor logs without an epoch
    train_loss = [1.0 / (epoch + 1) for epoch in range(len(val_acc))]
    for epoch, (acc, loss) in enumerate(zip(val_acc, train_loss, strict=True)):
        step = str(10 * epoch + 9)
        rows += [
            {"epoch": epoch, "step": step, "train/loss_step": 2 * loss},
            {"epoch": epoch, "step": step, "val/loss": loss, "val/acc": acc, "val/acc_best": acc},
            {
                "epoch": epoch,
                "step": step,
                "train/loss_epoch": loss,
                "train/acc": acc + 0.01,
                "time/epoch_s": 1.0 + epoch,
                "dead_units/fraction": 0.1 * epoch,
                "dead_units/relu_1": 0.2 * epoch,
            },
        ]
    if test_acc is not None:
        rows.append({"epoch": len(val_acc), "step": "30", "test/acc": test_acc, "test/loss": 0.3})
    (path / "csv").mkdir()
    with (path / "csv" / "metrics.csv").open("w", newline="") as file:
        writer = csv.DictWriter(file, fieldnames=CSV_COLUMNS)
        writer.writeheader()
        writer.writerows(rows)
    if params is not None:
        metrics = {
            "params": float(params),
            "val/acc": val_acc[-1],
            "val/acc_best": max(val_acc),
            "train/loss_epoch": train_loss[-1],
            "time/epoch_s": 3.0,
            "time/total_s": 12.5,
        }
        if test_acc is not None:
            metrics["test/acc"] = test_acc
        (path / "metrics.json").write_text(json.dumps(metrics))
    if failed is not None:
        (path / "failed.txt").write_text(failed + "\n")
    return path


@pytest.fixture
def sweep_dir(tmp_path: Path) -> Path:
    """A sweep over hidden widths: two finished members and one that failed at epoch 2."""
    sweep = tmp_path / "sweep"
    common = ["trainer.max_epochs=3"]
    write_run(
        sweep / "0",
        [*common, "model.net.hidden_dims=[32,16]"],
        [0.95, 0.972, 0.975],
        [32, 16],
        params=25_818,
        test_acc=0.973,
    )
    write_run(
        sweep / "1",
        [*common, "model.net.hidden_dims=[64,32]"],
        [0.96, 0.978, 0.981],
        [64, 32],
        params=52_650,
        test_acc=0.979,
    )
    write_run(
        sweep / "2",
        [*common, "model.net.hidden_dims=[8]"],
        [0.5],
        [8],
        params=None,
        failed="loss became NaN at epoch 2",
    )
    (sweep / "multirun.yaml").write_text("hydra:\n  mode: MULTIRUN\n")
    return sweep


def test_load_run_reads_per_epoch_curves_and_status(sweep_dir: Path) -> None:
    run = RunDir(sweep_dir / "0").read()
    assert run.status == "ok" and run.reason == ""
    assert run.overrides == {"trainer.max_epochs": "3", "model.net.hidden_dims": "[32,16]"}
    assert run.curves["val/acc"] == [0.95, 0.972, 0.975]
    assert run.curves["train/loss_epoch"] == pytest.approx([1.0, 0.5, 1 / 3])
    # step-level, test and epoch-less (learning-rate) columns are not per-epoch curves
    assert not {"train/loss_step", "test/acc", "lr-Adam/weights"} & set(run.curves)
    assert run.seconds_per_epoch == pytest.approx(2.0)  # mean of the logged epochs, not the last
    failed = RunDir(sweep_dir / "2").read()
    assert (failed.status, failed.reason) == ("failed", "loss became NaN at epoch 2")


def test_incomplete_and_fast_dev_run_members(tmp_path: Path) -> None:
    running = write_run(tmp_path / "running", [], [0.9], [8], params=None)
    assert RunDir(running).read().status == "incomplete"
    assert RunDir(running).read().best_val_acc == 0.9  # progress so far, from the CSV log
    fast = tmp_path / "fast"
    (fast / ".hydra").mkdir(parents=True)
    (fast / "metrics.json").write_text('{"params": 100.0, "val/acc_best": 0.2}')
    run = RunDir(fast).read()  # fast_dev_run: no csv/ and no overrides.yaml
    assert (run.status, run.curves, run.overrides, run.best_val_acc) == ("ok", {}, {}, 0.2)


def test_summary_table_rows_order_and_threshold_caption(sweep_dir: Path) -> None:
    runs = find_runs(sweep_dir)
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


def test_cli_writes_figures_and_tables(sweep_dir: Path, capsys: pytest.CaptureFixture) -> None:
    assert main([str(sweep_dir), "--threshold", "0.97"]) == 0
    printed = capsys.readouterr().out
    assert "Smallest model with best val acc > 0.97: 25,818 parameters" in printed
    for name in ("learning_curves.png", "accuracy_vs_model_net_hidden_dims.png", "dead_units.png"):
        assert (sweep_dir / name).stat().st_size > 10_000, name
        assert str(sweep_dir / name) in printed
    markdown = (sweep_dir / "report.md").read_text().splitlines()
    assert markdown[0].startswith("Smallest model with best val acc > 0.97: 25,818 parameters")
    table = [line for line in markdown if line.startswith("| ")]
    assert table[0].startswith("| run | model.net.hidden_dims | params | best val acc |")
    assert table[1].startswith("| 1 | [64,32] | 52,650 | 0.9810 | 0.9790 |")
    assert table[3].startswith("| 2 | [8] | - | 0.5000 |")
    assert table[3].endswith("| failed: loss became NaN at epoch 2 |")
    with (sweep_dir / "report.csv").open() as file:
        rows = list(csv.DictReader(file))
    assert [row["run"] for row in rows] == ["1", "0", "2"]
    assert rows[1]["params"] == "25818" and rows[2]["params"] == ""
    assert rows[2]["status"] == "failed: loss became NaN at epoch 2"


def test_single_run_dir(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    run = write_run(
        tmp_path / "run",
        ["model.optimizer.lr=1e-3"],
        [0.9, 0.95],
        [16],
        params=12_730,
        test_acc=0.94,
    )
    assert main([str(run), "--threshold", "0.9"]) == 0
    assert (run / "learning_curves.png").stat().st_size > 10_000
    assert not list(run.glob("accuracy_vs_*.png"))  # one run is no sweep
    rows = list(csv.DictReader((run / "report.csv").open()))
    assert [(row["run"], row["model.optimizer.lr"], row["status"]) for row in rows] == [
        ("run", "1e-3", "ok")
    ]
    assert "> 0.9: 12,730 parameters (model.optimizer.lr=1e-3)" in capsys.readouterr().out


@pytest.mark.parametrize("make", ["missing", "empty"])
def test_bad_directory_is_a_one_line_error(
    tmp_path: Path, capsys: pytest.CaptureFixture, make: str
) -> None:
    directory = tmp_path / make
    if make == "empty":
        directory.mkdir()
    assert main([str(directory)]) == 2
    error = capsys.readouterr().err
    assert error.startswith("error: ") and str(directory) in error
    assert error.count("\n") == 1


def test_python_m_report_runs_without_torch(sweep_dir: Path) -> None:
    # -X importtime lists every module imported, so this catches torch pulled in indirectly.
    result = subprocess.run(
        [sys.executable, "-X", "importtime", "-m", "mnist_lab.report", str(sweep_dir)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    assert "25,818 parameters" in result.stdout
    imported = re.findall(r"^import time:.*\|\s*(\S+)$", result.stderr, flags=re.MULTILINE)
    assert "mnist_lab.plots" in imported  # the list is complete, not empty
    assert not [m for m in imported if m.split(".")[0] in ("torch", "lightning")]


def test_gan_run_gets_loss_mode_collapse_and_sample_sequence_figures(tmp_path: Path) -> None:
    from matplotlib.figure import Figure

    from mnist_lab.analysis.figures import gan_figures

    run_dir = tmp_path / "gan"
    (run_dir / ".hydra").mkdir(parents=True)
    (run_dir / ".hydra" / "overrides.yaml").write_text("- model=gan\n")
    (run_dir / ".hydra" / "config.yaml").write_text("seed: 42\n")
    columns = ["epoch", "step", "train/g_loss", "train/d_loss", "samples/classes_present"]
    rows = [[e, 10 * e, 1.0 + e, 0.5, 3 + e] for e in range(12)]
    (run_dir / "csv").mkdir()
    with (run_dir / "csv" / "metrics.csv").open("w", newline="") as file:
        csv.writer(file).writerows([columns, *rows])
    for epoch in range(1, 13):
        fig = Figure(figsize=(1, 1))
        fig.add_subplot().imshow(np.full((4, 4), epoch))
        fig.savefig(run_dir / f"samples_epoch_{epoch:03d}.png")

    figures = gan_figures(RunDir(run_dir).read(), most_grids=4)
    assert set(figures) == {"gan_losses.png", "mode_collapse.png", "samples_over_training.png"}
    titles = [ax.get_title() for ax in figures["samples_over_training.png"].axes if ax.get_title()]
    assert titles == ["epoch 1", "epoch 5", "epoch 8", "epoch 12"]
    (curve,) = figures["gan_losses.png"].axes[0].get_lines()[:1]
    assert list(curve.get_ydata()) == [1.0 + e for e in range(12)]


def test_seed_table_names_the_smallest_setting_that_passes_for_every_seed(tmp_path: Path):
    results = {"[1]": [0.75, 0.75], "[2]": [1.0, 0.75], "[4]": [1.0, 1.0], "[8]": [1.0, 1.0]}
    for index, (width, accuracies) in enumerate(results.items()):
        for seed, accuracy in enumerate(accuracies):
            units = int(width[1:-1])
            write_run(
                tmp_path / f"{index}{seed}",
                [f"model.net.hidden_dims={width}", f"seed={seed}"],
                [accuracy],
                [units],
                params=5 * units + 2,
                test_acc=accuracy,
            )
    table = seed_table(find_runs(tmp_path))
    assert table.startswith(
        "Smallest model.net.hidden_dims with best val acc > 0.97 for every seed: [4] "
        "(22 parameters)"
    )
    assert "| [2] | 12 | 1 of 2 | 0.8750 | 0.7500 |" in table
    assert main([str(tmp_path)]) == 0
    assert table in (tmp_path / "report.md").read_text()
    # a sweep without seeds has no such table
    assert seed_table(find_runs(tmp_path / "00")) == ""
