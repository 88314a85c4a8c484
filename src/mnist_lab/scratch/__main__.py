"""Train CS7643 A1's NumPy classifiers on MNIST: `python -m mnist_lab.scratch [model=two_layer]`.

Prints the best-validation epoch's validation and test accuracy; the run dir gets metrics.json,
the per-epoch curves in csv/metrics.csv (as the Lightning runs log them, so `mnist_lab.report`
reads both alike), learning_curves.png and the parameters as params.npz.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import TYPE_CHECKING

from omegaconf import DictConfig, OmegaConf

from mnist_lab.runtime.cli import CONF_DIR, entry_point
from mnist_lab.runtime.rundir import RunDir
from mnist_lab.runtime.task import run_task

if TYPE_CHECKING:
    from mnist_lab.scratch.sgd import History


def train_scratch(cfg: DictConfig) -> dict[str, float]:
    """Fit the model `cfg` names, test its best-validation parameters; returns the metrics."""
    from hydra.utils import to_absolute_path
    from threadpoolctl import threadpool_limits

    from mnist_lab.data.datasets import DATASET_SPECS
    from mnist_lab.runtime.environment import NUMPY_LIBRARIES, environment_line, run_environment
    from mnist_lab.scratch.data import load_flat, train_val_split
    from mnist_lab.scratch.models import build_model
    from mnist_lab.scratch.sgd import SGD, evaluate, fit

    started = time.perf_counter()
    cpu_started = time.process_time()
    data_dir = to_absolute_path(cfg.data.data_dir)
    x, y = load_flat(cfg.data.name, data_dir, "train", cfg.data.download)
    test = load_flat(cfg.data.name, data_dir, "test", cfg.data.download)
    train, val = train_val_split(x, y, cfg.data.val_fraction)
    if cfg.data.subset_size is not None:
        # As the Lightning runs' data.subset_size: fewer training images, the same validation.
        train = (train[0][: cfg.data.subset_size], train[1][: cfg.data.subset_size])
    options = OmegaConf.to_container(cfg.model)
    model = build_model(
        options.pop("name"),
        input_size=x.shape[1],
        num_classes=len(DATASET_SPECS[cfg.data.name].classes),
        seed=cfg.seed,
        **options,
    )
    optimizer = SGD(cfg.optimizer.lr, cfg.optimizer.weight_decay)
    with threadpool_limits(limits=cfg.threads, user_api="blas"):
        history = fit(
            model,
            optimizer,
            train,
            val,
            cfg.max_epochs,
            cfg.data.batch_size,
            cfg.seed,
            cfg.progress,
        )
        model.params = history.best_params
        val_loss, val_acc = evaluate(model, *val)
        test_loss, test_acc = evaluate(model, *test)
    metrics = {
        "val/loss": val_loss,
        "val/acc": val_acc,
        "val/acc_best": max(history.curves["val/acc"]),
        "train/loss_epoch": history.curves["train/loss_epoch"][-1],
        "test/loss": test_loss,
        "test/acc": test_acc,
        "best_epoch": history.best_epoch,
        "params": model.parameter_count(),
        "time/total_s": time.perf_counter() - started,
        "time/cpu_s": time.process_time() - cpu_started,
        "environment": run_environment(NUMPY_LIBRARIES),
    }
    save_run(Path(cfg.paths.output_dir), cfg, metrics, history, model.params)
    print(environment_line(metrics["environment"]))
    print(
        f"{cfg.model.name}: val accuracy {val_acc:.4f}, test accuracy {test_acc:.4f} "
        f"(epoch {history.best_epoch} of {cfg.max_epochs}, {metrics['time/total_s']:.1f} s); "
        f"run dir {cfg.paths.output_dir}"
    )
    return metrics


def save_run(
    run_dir: Path, cfg: DictConfig, metrics: dict[str, float], history: History, params: dict
) -> None:
    """csv/metrics.csv (the per-epoch curves), params.npz, learning_curves.png, and
    metrics.json last: its presence says the run finished."""
    import numpy as np

    from mnist_lab.plots.curves import learning_curves_figure

    RunDir(run_dir).write_curves(history.curves, history.steps)
    np.savez(run_dir / "params.npz", **params)
    title = f"NumPy {cfg.model.name} on {cfg.data.name}, lr {cfg.optimizer.lr}, " + (
        f"L2 {cfg.optimizer.weight_decay}, batch {cfg.data.batch_size}"
    )
    learning_curves_figure({title: history.curves}, title="").savefig(
        run_dir / "learning_curves.png", dpi=80
    )
    RunDir(run_dir).write_metrics(metrics)


def main(cfg: DictConfig) -> float:
    return run_task(train_scratch, cfg)["val/acc"]


if __name__ == "__main__":
    entry_point(main, "scratch", CONF_DIR / "scratch")
