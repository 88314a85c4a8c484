"""Fake run folders and a collected sweep, shared by the runner, judge and index tests."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from mnist_lab.catalogue.runner import StepResult, collect_step
from mnist_lab.catalogue.schema import Entry, Step, Target, parse_target


def write_run(
    path: Path, overrides: list[str], metrics: dict | None, failed: str = "", epochs: int = 2
) -> None:
    """A run dir as train leaves it: .hydra/, metrics.json, csv/metrics.csv, failed.txt."""
    (path / ".hydra").mkdir(parents=True)
    (path / ".hydra" / "overrides.yaml").write_text(yaml.safe_dump(overrides))
    (path / ".hydra" / "config.yaml").write_text("seed: 42\n")
    if metrics is not None:
        (path / "metrics.json").write_text(json.dumps(metrics))
    if failed:
        (path / "failed.txt").write_text(failed + "\n")
    (path / "csv").mkdir()
    rows = ["epoch,step,train/loss_epoch,train/acc,val/loss,val/acc"]
    rows += [
        f"{e},{e},{1 / (e + 1)},{0.8 + e / 20},{1 / (e + 2)},{0.8 + e / 30}" for e in range(epochs)
    ]
    (path / "csv" / "metrics.csv").write_text("\n".join(rows) + "\n")


@pytest.fixture(scope="package")
def sweep(tmp_path_factory: pytest.TempPathFactory) -> StepResult:
    """A collected sweep in <out>/E02_widths/train: two finished members, one failed."""
    directory = tmp_path_factory.mktemp("out") / "E02_widths" / "train"
    write_run(directory / "0", ["width=8"], {"test/acc": 0.90, "val/acc_best": 0.91, "params": 100})
    write_run(
        directory / "1", ["width=64"], {"test/acc": 0.98, "val/acc_best": 0.975, "params": 900}
    )
    write_run(directory / "2", ["width=1024"], None, failed="loss became nan at step 3")
    step = Step("train", "train", ("-m", "width=8,64,1024"))
    return collect_step(StepResult(step, ["python", "-m", "x"], directory, returncode=1), Path())


def entry_with(*targets: Target, entry_id: str = "E02") -> Entry:
    return Entry(entry_id, "Width sweep", (Step("train", "train", ()),), targets, name="widths")


def target(**spec) -> Target:
    return parse_target(spec)
