"""Training and evaluation end to end: in-process on generated data, and through the CLI."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

from mnist_lab.train import train
from tests.helpers import compose_config
from tests.helpers.cli import run_cli


@pytest.mark.parametrize("data", ["mnist", "fashion_mnist"])
@pytest.mark.parametrize("model", ["mlp", "cnn"])
def test_fast_dev_run_every_model_on_every_dataset(train_config, model: str, data: str) -> None:
    metrics = train(train_config(f"model={model}", f"data={data}", "debug=fast_dev_run"))
    assert 0.0 <= metrics["test/acc"] <= 1.0
    assert metrics["test/loss"] > 0


def short_run(train_config, *overrides: str, run: str = "run") -> dict[str, float]:
    return train(train_config("trainer.max_epochs=2", "data.batch_size=32", *overrides, run=run))


def test_a_short_run_learns_and_leaves_everything_a_user_expects(train_config, tmp_path: Path):
    metrics = short_run(train_config)
    run = tmp_path / "run"
    assert metrics["test/acc"] > 0.9  # the toy classes are easy: a bar at a class-specific row
    assert (run / "checkpoints" / "best.ckpt").is_file()
    assert (run / "checkpoints" / "last.ckpt").is_file()
    saved = json.loads((run / "metrics.json").read_text())
    assert saved["test/acc"] == metrics["test/acc"]
    # CS155 set 4 §2A: the versions and the device, in metrics.json and the hparams
    environment = saved["environment"]
    assert set(environment) == {
        *("python", "torch", "lightning", "hydra-core", "numpy", "device", "precision")
    }
    assert environment["torch"] == torch.__version__ and environment["device"].startswith("cpu: ")
    assert environment["precision"].startswith(("bf16-mixed (auto: ", "32-true (auto: "))
    hparams = (run / "csv" / "hparams.yaml").read_text()
    assert f"environment/torch: {torch.__version__}" in hparams
    summary = (run / "model_summary.txt").read_text()
    assert "Out sizes" in summary and "[1, 200]" in summary
    assert "178,110     Total params" in summary  # exact (E23), not Lightning's "178 K"
    assert (run / "confusion_matrix.png").stat().st_size > 10_000
    csv_header = (run / "csv" / "metrics.csv").read_text().splitlines()[0]
    for column in ("train/loss_epoch", "train/acc", "val/loss", "val/acc", "lr/net"):
        assert column in csv_header
    # one TensorBoard run, named for the run (no overrides outside a Hydra app)
    (tensorboard,) = (run / "tensorboard").iterdir()
    assert tensorboard.name == "run"
    events = EventAccumulator(str(tensorboard)).Reload()
    scalars = set(events.Tags()["scalars"])
    assert {"train/loss_epoch", "val/acc", "test/acc"} <= scalars
    assert not [tag for tag in scalars if tag.startswith("final/")]  # hparams use these tags
    assert "test/confusion_matrix" in events.Tags()["images"]


def test_same_seed_same_numbers_other_seed_other_numbers(train_config) -> None:
    keys = ("train/loss_epoch", "val/loss", "val/acc", "test/loss")
    first = short_run(train_config, "seed=7", run="first")
    again = short_run(train_config, "seed=7", run="again")
    other = short_run(train_config, "seed=8", run="other")
    assert [first[k] for k in keys] == [again[k] for k in keys]
    assert [first[k] for k in keys] != [other[k] for k in keys]


def test_cli_train_then_evaluate_recomposes_the_runs_own_config(tmp_path: Path, tiny_data_dir):
    """A model trained with overrides is evaluated from its run dir without repeating them."""
    outputs = tmp_path / "outputs"
    trained = run_cli(
        "mnist_lab.train",
        "model.net.hidden_dims=[32]",
        "trainer.max_epochs=2",
        "data=fashion_mnist",
        log_dir=outputs,
        data_dir=tiny_data_dir,
    )
    assert trained.returncode == 0, trained.stderr[-3000:]
    assert "test accuracy" in trained.stdout
    assert "Out sizes" in trained.stdout  # the per-layer summary is printed
    (run,) = list((outputs / "train" / "runs").iterdir())
    saved = json.loads((run / "metrics.json").read_text())
    versions = f"versions: python {saved['environment']['python']}, torch {torch.__version__}, "
    assert versions in trained.stdout

    evaluated = run_cli(
        "mnist_lab.evaluate", f"ckpt_path={run}", log_dir=outputs, data_dir=tiny_data_dir
    )
    assert evaluated.returncode == 0, evaluated.stderr[-3000:]
    assert f"test accuracy {saved['test/acc']:.4f}" in evaluated.stdout
    assert "200 fashion_mnist test images" in evaluated.stdout
    (evaluation,) = list((outputs / "evaluate" / "runs").iterdir())
    assert (evaluation / "confusion_matrix.png").is_file()
    evaluated_metrics = json.loads((evaluation / "metrics.json").read_text())
    assert evaluated_metrics["test/acc"] == pytest.approx(saved["test/acc"])
    # The error analysis of the same checkpoint, in the run dir and TensorBoard, as training's.
    for key in ("test/ece", "test/ece_temperature_scaled", "val/temperature"):
        assert evaluated_metrics[key] == pytest.approx(saved[key]), key
    for name in ("per_class.md", "per_class.csv"):
        assert (evaluation / name).read_text() == (run / name).read_text(), name
    assert (evaluation / "reliability.png").is_file()
    assert f"temperature scaling (T = {saved['val/temperature']:.3f}" in evaluated.stdout
    (tensorboard,) = (evaluation / "tensorboard").iterdir()
    events = EventAccumulator(str(tensorboard)).Reload()
    assert {"test/reliability", "test/confusion_matrix"} <= set(events.Tags()["images"])
    assert evaluated_metrics["environment"] == saved["environment"]
    assert versions in evaluated.stdout
    for printout in (trained.stderr, evaluated.stderr):  # Lightning's noise (runtime/console.py)
        assert not any(
            line in printout
            for line in ("GPU available: ", "TPU available: ", "💡 Tip", "Trainer already")
        ), printout[-3000:]

    by_file = run_cli(
        "mnist_lab.evaluate",
        f"ckpt_path={run}/checkpoints/last.ckpt",
        log_dir=outputs,
        data_dir=tiny_data_dir,
    )
    assert by_file.returncode == 0, by_file.stderr[-3000:]


def test_visualize_draws_every_class(tmp_path: Path, tiny_data_dir: Path) -> None:
    result = run_cli(
        "mnist_lab.visualize",
        "data=fashion_mnist",
        "per_class=4",
        log_dir=tmp_path,
        data_dir=tiny_data_dir,
    )
    assert result.returncode == 0, result.stderr
    (png,) = list(tmp_path.rglob("samples_fashion_mnist_train.png"))
    assert png.stat().st_size > 10_000
    assert "torch" not in result.stderr
    # CS155 set 4 §2B's data facts, printed and saved (the tiny data: 600 train, 200 test)
    facts = json.loads((png.parent / "metrics.json").read_text())
    assert (facts["official_train/images"], facts["val/images"], facts["test/images"]) == (
        600,
        60,
        200,
    )
    table = (png.parent / "report.md").read_text()
    assert "| official_train | 600 | 0 | 255 |" in table and table in result.stdout
    assert facts["environment"]["numpy"] == np.__version__ and "torch" not in facts["environment"]


@pytest.mark.slow
def test_real_mnist_short_budget_beats_95_percent(tmp_path: Path, real_data_dir: Path) -> None:
    cfg = compose_config("train", ["trainer.max_epochs=2"], tmp_path / "run", real_data_dir)
    metrics = train(cfg)
    assert metrics["test/acc"] > 0.95
    assert torch.get_num_threads() >= 1


@pytest.mark.slow
def test_cnn_fast_passes_98_5_percent_after_one_of_its_two_epochs(tmp_path: Path, real_data_dir):
    """experiment=cnn_fast, cut to one epoch (and its one-cycle schedule with it) for speed."""
    overrides = ["experiment=cnn_fast", "trainer.max_epochs=1", "logger=none"]
    metrics = train(compose_config("train", overrides, tmp_path / "run", real_data_dir))
    assert metrics["test/acc"] >= 0.985
    assert metrics["params"] == 29_178


def test_runs_without_any_logger(train_config, tmp_path: Path) -> None:
    metrics = train(train_config("logger=none", "trainer.max_epochs=1"))
    assert metrics["test/acc"] > 0.5
    assert not (tmp_path / "run" / "tensorboard").exists()


def test_dead_unit_probe_is_logged_every_epoch(train_config, tmp_path: Path) -> None:
    train(train_config("callbacks=dead_units", "trainer.max_epochs=2", "data.order=by_label"))
    header, *rows = (tmp_path / "run" / "csv" / "metrics.csv").read_text().splitlines()
    columns = header.split(",")
    assert {"dead_units/fraction", "dead_units/relu_1", "dead_units/relu_2"} <= set(columns)
    fractions = [row.split(",")[columns.index("dead_units/fraction")] for row in rows]
    values = [float(f) for f in fractions if f]
    assert len(values) == 2 and all(0.0 <= v <= 1.0 for v in values)
