"""Train a model: `python -m mnist_lab.train [model=cnn] [data=fashion_mnist] [key=value ...]`.

Only Hydra is imported at module level so that `--help` and `--cfg job` answer at once;
torch and Lightning are imported when there is training to do.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import hydra
from omegaconf import DictConfig, open_dict

from mnist_lab.runtime.cli import CONF_DIR, entry_point, exit_without_teardown
from mnist_lab.runtime.distributed import own_process_group
from mnist_lab.runtime.from_search import search_arguments
from mnist_lab.runtime.resume import resume_arguments, resume_member
from mnist_lab.runtime.rules import check_config
from mnist_lab.runtime.task import run_task


def compose_config(overrides: Sequence[str] = (), output_dir: str | Path = "outputs") -> DictConfig:
    """The config `python -m mnist_lab.train <overrides>` would train, writing into `output_dir`.

    For notebooks and scripts, where no Hydra app sets the run dir; checked like the command
    line's (ConfigError names a value the lab does not accept), `from_search` included. Train
    it with `train(cfg)`.
    """
    with hydra.initialize_config_dir(str(CONF_DIR), version_base="1.3"):
        cfg = hydra.compose("train", overrides=search_arguments(list(overrides)))
    with open_dict(cfg):
        cfg.paths.output_dir = str(output_dir)
    check_config(cfg)
    return cfg


def train(cfg: DictConfig) -> dict[str, float]:
    """Fit and test the model `cfg` describes; returns the final metrics."""
    import time

    import torch
    from lightning.pytorch.callbacks import ModelCheckpoint
    from lightning.pytorch.loggers import TensorBoardLogger

    from mnist_lab.runtime import tensorboard_tabs as tabs
    from mnist_lab.runtime.assemble import assemble, flat_config, scalar_metrics
    from mnist_lab.runtime.distributed import pin_child_processes
    from mnist_lab.runtime.environment import (
        LIGHTNING_LIBRARIES,
        environment_line,
        run_environment,
        torch_device_name,
    )
    from mnist_lab.runtime.precision import choose_precision
    from mnist_lab.runtime.rundir import RunDir

    started, started_at = time.perf_counter(), time.time()
    pin_child_processes(cfg)
    datamodule, model, trainer = assemble(cfg)
    device = torch_device_name(trainer.strategy.root_device)
    precision = choose_precision(cfg.trainer, cfg.model.net._target_).summary()
    environment = run_environment(LIGHTNING_LIBRARIES, device, precision)
    if trainer.is_global_zero:
        print(environment_line(environment), flush=True)
    # TensorBoard gets a curated hparams row at the end (tensorboard_tabs); the other loggers
    # keep the whole config and the environment.
    tensorboards = [logger for logger in trainer.loggers if isinstance(logger, TensorBoardLogger)]
    hparams = flat_config(cfg) | {f"environment/{k}": v for k, v in environment.items()}
    for logger in trainer.loggers:
        if logger not in tensorboards:
            logger.log_hyperparams(hparams)
    if trainer.is_global_zero:
        for tensorboard in tensorboards:
            tabs.write_charts_and_config(tensorboard.experiment, cfg)

    if cfg.train:
        trainer.fit(model, datamodule=datamodule, ckpt_path=cfg.ckpt_path)
    # Under what this fit logged, what earlier attempts did: a run resumed from the checkpoint
    # of its last epoch (killed while testing) trains nothing and must keep its val/train numbers.
    logged = RunDir(cfg.paths.output_dir).last_logged_epoch() if cfg.train else {}
    metrics = {**logged, **scalar_metrics(trainer.callback_metrics)}
    if cfg.test:
        checkpoint = next((c for c in trainer.callbacks if isinstance(c, ModelCheckpoint)), None)
        best = checkpoint.best_model_path if checkpoint is not None and cfg.train else ""
        # Test the best validation checkpoint, not whatever the last epoch left.
        ckpt_path = best or (None if cfg.train else cfg.ckpt_path)
        trainer.test(model, datamodule=datamodule, ckpt_path=ckpt_path)
        metrics.update(scalar_metrics(trainer.callback_metrics))
    metrics["time/total_s"] = time.perf_counter() - started
    metrics["params"] = float(sum(p.numel() for p in model.parameters()))
    metrics["threads"] = float(torch.get_num_threads())

    if trainer.is_global_zero:
        split = datamodule.spec.test_split
        measured = {
            "params": int(metrics["params"]),
            "device": environment["device"],
            "trainer.precision": str(trainer.precision),
        }
        for tensorboard in tensorboards:  # its metrics: the scalars logged, no final/* copies
            tabs.write_hparams(tensorboard.log_dir, cfg, measured, split, started_at)
        RunDir(cfg.paths.output_dir).write_metrics({**metrics, "environment": environment})
        # The recipe's test numbers, under the name the data gives its test rows (a gate's are
        # its truth table: truth_table/acc).
        main_metric = cfg.get("main_metric") or "test/acc"
        if main_metric.startswith("test/"):
            main_metric = f"{split}/{main_metric.removeprefix('test/')}"
        if main_metric in metrics:
            loss = metrics.get(f"{split}/loss")
            with_loss = loss is not None and main_metric != f"{split}/loss"
            detail = f" (loss {loss:.4f})" if with_loss else ""
            words = split.replace("_", "-")
            name = f"{words} accuracy" if main_metric == f"{split}/acc" else main_metric
            print(
                f"{name} {metrics[main_metric]:.4f}{detail} on "
                f"{len(datamodule.splits['test'][1])} {datamodule.spec.name} {words} "
                f"{datamodule.spec.items}; "
                f"run dir {cfg.paths.output_dir}"
            )
    return metrics


def main(cfg: DictConfig) -> float | None:
    # A sweep run again into its old sweep dir: members that finished return what they stored.
    metrics = resume_member(cfg)
    if metrics is None:
        with own_process_group():
            metrics = run_task(train, cfg)
    return metrics.get(cfg.get("optimized_metric") or "", None)


if __name__ == "__main__":
    # from_search first: a resumed run replays the settings it took, not the sweep's best now.
    entry_point(
        main, "train", rewrite=lambda arguments: resume_arguments(search_arguments(arguments))
    )
    exit_without_teardown()
