"""Evaluate a trained model: `python -m mnist_lab.evaluate ckpt_path=<run dir or .ckpt>`.

The run's own saved config (`<run>/.hydra/config.yaml`) rebuilds the data and model, so a
model trained with overrides is evaluated without repeating them.
"""

from __future__ import annotations

from pathlib import Path

from hydra.utils import to_absolute_path
from omegaconf import DictConfig

from mnist_lab import LabError
from mnist_lab.runtime.cli import entry_point
from mnist_lab.runtime.rundir import CHECKPOINT_DIR, CONFIG_FILE, RunDir
from mnist_lab.runtime.task import run_task


def locate_run(ckpt_path: str) -> tuple[RunDir, Path]:
    """(run dir, checkpoint file) from a run dir or a checkpoint inside one."""
    path = Path(to_absolute_path(str(ckpt_path)))
    if path.is_dir():
        run = RunDir(path)
        candidates = [run.best_checkpoint, run.last_checkpoint]
        checkpoint = next((c for c in candidates if c.is_file()), None)
        if checkpoint is None:
            best, last = (c.relative_to(path) for c in candidates)
            raise LabError(
                f"ckpt_path={ckpt_path!r} is a directory without {best} or {last}; give a run "
                f"directory or a .ckpt file"
            )
    elif path.is_file():
        checkpoint = path
        run = RunDir(path.parent.parent if path.parent.name == CHECKPOINT_DIR else path.parent)
    else:
        raise LabError(
            f"ckpt_path={ckpt_path!r} does not exist; give a run directory "
            f"(outputs/train/runs/...) or a .ckpt file"
        )
    if not (run / CONFIG_FILE).is_file():
        raise LabError(
            f"no saved config at {run / CONFIG_FILE}; ckpt_path must be a "
            f"run directory made by mnist_lab.train or a checkpoint inside one"
        )
    return run, checkpoint


def evaluate(cfg: DictConfig) -> dict[str, float]:
    """Test the checkpoint on the official test set; saves metrics and a confusion matrix."""
    run, checkpoint = locate_run(cfg.ckpt_path)

    import lightning as L
    from hydra.utils import get_class, instantiate

    from mnist_lab.callbacks import ConfusionMatrixFigure
    from mnist_lab.models.classifier import Classifier
    from mnist_lab.runtime.assemble import build_trainer, scalar_metrics
    from mnist_lab.runtime.environment import (
        LIGHTNING_LIBRARIES,
        environment_line,
        run_environment,
        torch_device_name,
    )
    from mnist_lab.runtime.precision import choose_precision

    run_cfg = run.config()
    # The run's interpolations (paths, seed) resolve against this evaluation's values.
    run_cfg.paths = cfg.paths
    if "data_dir" in run_cfg.data:  # generated data (toy 2-D problems) has no folder
        run_cfg.data.data_dir = cfg.data_dir
    L.seed_everything(cfg.seed, verbose=False)
    datamodule = instantiate(run_cfg.data)
    model = get_class(run_cfg.model._target_).load_from_checkpoint(checkpoint, map_location="cpu")
    # Only a classifier has a confusion matrix; autoencoders and GANs test other numbers.
    confusion = ConfusionMatrixFigure(output_dir=cfg.paths.output_dir)
    net = run_cfg.model.net._target_  # auto picks the precision the run trained in
    trainer = build_trainer(cfg, [confusion] if isinstance(model, Classifier) else [], False, net)
    trainer.test(model, datamodule=datamodule)
    metrics = scalar_metrics(trainer.callback_metrics)
    device = torch_device_name(trainer.strategy.root_device)
    environment = run_environment(
        LIGHTNING_LIBRARIES, device, choose_precision(cfg.trainer, net).summary()
    )
    RunDir(cfg.paths.output_dir).write_metrics({**metrics, "environment": environment})
    split = datamodule.spec.test_split  # `truth_table` for a gate: no held-out rows
    words = split.replace("_", "-")
    if f"{split}/acc" in metrics:
        loss, accuracy = metrics[f"{split}/loss"], metrics[f"{split}/acc"]
        summary = f"{words} loss {loss:.4f}, {words} accuracy {accuracy:.4f}"
    else:  # autoencoders and GANs report other test metrics
        tested = sorted((k, v) for k, v in metrics.items() if k.startswith("test/"))
        summary = ", ".join(f"{name} {value:.4f}" for name, value in tested)
    print(environment_line(environment))
    print(f"checkpoint {checkpoint}")
    tested_on = f"{len(datamodule.splits['test'][1])} {datamodule.spec.name} {words}"
    print(f"{summary} on {tested_on} {datamodule.spec.items}")
    if confusion.path is not None:
        print(f"confusion matrix {confusion.path}")
    return metrics


def main(cfg: DictConfig) -> None:
    run_task(evaluate, cfg)


if __name__ == "__main__":
    entry_point(main, "evaluate")
