"""The report CLI on hand-written run directories: no training, a few seconds in all."""

from __future__ import annotations

import csv
import re
import subprocess
import sys
from pathlib import Path

import pytest

from mnist_lab.analysis.tables import seed_table
from mnist_lab.report import main
from mnist_lab.runtime.rundir import find_runs
from tests.helpers.cli import run_cli
from tests.helpers.run_dirs import write_run, write_seed_sweep, write_sweep


def test_cli_writes_figures_and_tables(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    sweep_dir = write_sweep(tmp_path)
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


def test_python_m_report_runs_without_torch(tmp_path: Path) -> None:
    sweep_dir = write_sweep(tmp_path)
    # -X importtime lists every module imported, so this catches torch pulled in indirectly.
    result = subprocess.run(
        [sys.executable, "-X", "importtime", "-m", "mnist_lab.report", str(sweep_dir)]
        + ["--threshold", "0.97"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    assert "25,818 parameters" in result.stdout
    imported = re.findall(r"^import time:.*\|\s*(\S+)$", result.stderr, flags=re.MULTILINE)
    assert "mnist_lab.plots" in imported  # the list is complete, not empty
    assert not [m for m in imported if m.split(".")[0] in ("torch", "lightning")]


def test_report_md_carries_the_seed_table(tmp_path: Path) -> None:
    runs = find_runs(write_seed_sweep(tmp_path))
    assert main([str(tmp_path), "--threshold", "0.97"]) == 0
    table = seed_table(runs, threshold=0.97)
    assert table and table in (tmp_path / "report.md").read_text()


def test_without_a_threshold_the_report_names_none(tmp_path: Path) -> None:
    """Most experiments have no accuracy target: no 97% caption, line or seed table."""
    assert main([str(write_sweep(tmp_path))]) == 0
    text = (tmp_path / "sweep" / "report.md").read_text()
    assert "best val acc >" not in text and "Smallest" not in text


def test_a_sweep_with_seeds_added_reports_intervals_without_flags(tmp_path, tiny_data_dir):
    sweep = tmp_path / "sweep"
    trained = run_cli(
        "mnist_lab.train",
        "-m",
        "model.optimizer.weight_decay=0,1e-3",
        "seed=1,2,3",
        "trainer.max_epochs=2",
        "logger=default",
        f"hydra.sweep.dir={sweep}",
        log_dir=tmp_path,
        data_dir=tiny_data_dir,
    )
    assert trained.returncode == 0, trained.stderr[-2000:]
    assert main([str(sweep)]) == 0
    report = (sweep / "report.md").read_text()
    assert "Over seed: mean ± half-width of the 95% confidence interval (Student t" in report
    rows = [line for line in report.splitlines() if re.match(r"\| (0|0\.001) \| 3 of 3 \|", line)]
    assert len(rows) == 2
    assert all(re.search(r"\d\.\d{4} ± \d\.\d{4} \(n=3\)", row) for row in rows)
    for name in ("learning_curves.png", "accuracy_vs_model_optimizer_weight_decay.png"):
        assert (sweep / name).stat().st_size > 10_000, name


def test_over_makes_another_key_a_replicate_key(tmp_path: Path) -> None:
    for index, split in enumerate((1, 2, 3)):
        write_run(tmp_path / str(index), [f"data.split_seed={split}"], [0.9 + index / 100], [8], 50)
    assert main([str(tmp_path)]) == 0
    assert "Over" not in (tmp_path / "report.md").read_text()  # split_seed is a setting
    assert main([str(tmp_path), "--over", "data.split_seed"]) == 0
    assert "| all runs | 3 of 3 | 50 | 0.9100 ± " in (tmp_path / "report.md").read_text()
