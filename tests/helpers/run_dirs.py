"""Run directories written by hand as `mnist_lab.train` leaves them: no training needed."""

from __future__ import annotations

import csv
import json
from pathlib import Path

CSV_COLUMNS = [
    "epoch",
    "step",
    "lr/net",
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
    rows = [{"step": "0", "lr/net": "0.001"}]  # the learning rates are logged without an epoch
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
            # as every run records it (CS155 set 4 §2A): not a number, which reports must skip
            "environment": {"python": "3.11.7", "torch": "2.13.0+cpu", "device": "cpu: test"},
        }
        if test_acc is not None:
            metrics["test/acc"] = test_acc
        (path / "metrics.json").write_text(json.dumps(metrics))
    if failed is not None:
        (path / "failed.txt").write_text(failed + "\n")
    return path


def write_sweep(parent: Path) -> Path:
    """`parent/sweep`, over hidden widths: two finished members and one that failed at epoch 2."""
    sweep = parent / "sweep"
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


def write_seed_sweep(directory: Path) -> Path:
    """Widths 1, 2, 4 and 8 with two seeds each, as runs `<width index><seed>` in `directory`.

    Every seed passes 0.97 from width 4 on; width 2 passes for one seed, width 1 for none.
    """
    results = {"[1]": [0.75, 0.75], "[2]": [1.0, 0.75], "[4]": [1.0, 1.0], "[8]": [1.0, 1.0]}
    for index, (width, accuracies) in enumerate(results.items()):
        for seed, accuracy in enumerate(accuracies):
            units = int(width[1:-1])
            write_run(
                directory / f"{index}{seed}",
                [f"model.net.hidden_dims={width}", f"seed={seed}"],
                [accuracy],
                [units],
                params=5 * units + 2,
                test_acc=accuracy,
            )
    return directory


def write_curves_run(
    path: Path,
    overrides: list[str],
    curves: dict[str, list[float]],
    config: str = "seed: 42\n",
    metrics: dict[str, float] | None = None,
    failed: str | None = None,
    step_losses: dict[int, float] | None = None,
    last_batches: list[float] | None = None,
) -> Path:
    """A run dir with any per-epoch `curves` (a row per epoch, as Lightning's CSV logger
    writes them), `train/loss_step` at the given steps of epoch 0, and the files a finished
    (`metrics`) or a `failed` run leaves, and a CS541-style run's `last_batches`."""
    (path / ".hydra").mkdir(parents=True)
    (path / ".hydra" / "overrides.yaml").write_text("".join(f"- {o}\n" for o in overrides))
    (path / ".hydra" / "config.yaml").write_text(config)
    rows: list[dict] = [
        {"epoch": 0, "step": step, "train/loss_step": loss}
        for step, loss in (step_losses or {}).items()
    ]
    epochs = max((len(values) for values in curves.values()), default=0)
    for epoch in range(epochs):
        row = {"epoch": epoch, "step": 10 * epoch + 9}
        rows.append(row | {m: v[epoch] for m, v in curves.items() if epoch < len(v)})
    (path / "csv").mkdir()
    columns = ["epoch", "step", "train/loss_step", *curves]
    with (path / "csv" / "metrics.csv").open("w", newline="") as file:
        writer = csv.DictWriter(file, fieldnames=columns)
        writer.writeheader()
        writer.writerows(rows)
    if failed is None:  # a finished run: metrics.json is written last
        (path / "metrics.json").write_text(json.dumps(metrics or {"params": 1000.0}))
    else:
        (path / "failed.txt").write_text(failed + "\n")
    if last_batches is not None:
        (path / "last_batch_losses.json").write_text(json.dumps(last_batches))
    return path
