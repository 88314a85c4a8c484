"""Evaluate a trained model: `python -m mnist_lab.evaluate ckpt_path=<run dir or .ckpt>`.

The run's own saved config (`<run>/.hydra/config.yaml`) rebuilds the data and model, so a
model trained with overrides is evaluated without repeating them.
"""

from __future__ import annotations

from pathlib import Path

from hydra.utils import to_absolute_path
from omegaconf import DictConfig, OmegaConf

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
    """Test the checkpoint on the official test set; saves metrics and, for a classifier, the
    confusion matrix and the error analysis (`callbacks.ErrorAnalysis`)."""
    run, checkpoint = locate_run(cfg.ckpt_path)

    import lightning as L
    from hydra.utils import get_class, instantiate

    from mnist_lab.callbacks import ConfusionMatrixFigure, ErrorAnalysis
    from mnist_lab.models.classifier import Classifier
    from mnist_lab.runtime.assemble import build_trainer, scalar_metrics
    from mnist_lab.runtime.checkpoints import net_name, read_checkpoint, saved_net_name
    from mnist_lab.runtime.environment import (
        LIGHTNING_LIBRARIES,
        environment_line,
        run_environment,
        torch_device_name,
    )
    from mnist_lab.runtime.loggers import TensorBoardLogger
    from mnist_lab.runtime.precision import choose_precision

    run_cfg = run.config()
    # The run's interpolations (paths, seed) resolve against this evaluation's values.
    run_cfg.paths = cfg.paths
    if "data_dir" in run_cfg.data:  # generated data (toy 2-D problems) has no folder
        run_cfg.data.data_dir = cfg.data_dir
    theirs = saved_net_name(read_checkpoint(checkpoint))
    ours = net_name(OmegaConf.select(run_cfg, "model.net._target_", default=""))
    if theirs not in (None, ours):
        raise LabError(
            f"ckpt_path={str(checkpoint)!r} is a checkpoint of model {theirs}, but its run's "
            f"config ({run / CONFIG_FILE}) builds model {ours}; give the checkpoint's own run dir"
        )
    L.seed_everything(cfg.seed, verbose=False)
    datamodule = instantiate(run_cfg.data)
    model = get_class(run_cfg.model._target_).load_from_checkpoint(checkpoint, map_location="cpu")
    # The recipe's own test measures and figures, written into this evaluation: a classifier's
    # confusion matrix and error analysis, an autoencoder's reconstructions, a GAN's judge of
    # its samples.
    measures = [
        instantiate(node)
        for node in run_cfg.get("callbacks", {}).values()
        if isinstance(node, DictConfig) and _tests(get_class(node._target_))
    ]
    # A classifier trained before the error analysis existed gets it too: its test has logits.
    errors = next((m for m in measures if isinstance(m, ErrorAnalysis)), None)
    if errors is None and isinstance(model, Classifier):
        errors = ErrorAnalysis(output_dir=cfg.paths.output_dir)
        measures.append(errors)
    # The figures and the per-class table go to TensorBoard too, beside the test numbers.
    tensorboard = TensorBoardLogger(cfg.paths.output_dir, default_hp_metric=False)
    net = run_cfg.model.net._target_  # auto picks the precision the run trained in
    trainer = build_trainer(cfg, measures, [tensorboard], net)
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
    confusion = next((c for c in measures if isinstance(c, ConfusionMatrixFigure)), None)
    if confusion is not None and confusion.path is not None:
        print(f"confusion matrix {confusion.path}")
    if errors is not None and errors.errors is not None:
        before, after = errors.errors
        print(
            f"expected calibration error {before:.4f}, {after:.4f} after temperature scaling "
            f"(T = {errors.temperature:.3f}, fitted on the validation split)"
        )
        print("error analysis " + ", ".join(str(path) for path in errors.paths))
    return metrics


def _tests(callback: type) -> bool:
    """True for a callback class that measures or draws something after testing."""
    import lightning as L

    return callback.on_test_epoch_end is not L.Callback.on_test_epoch_end


def main(cfg: DictConfig) -> None:
    run_task(evaluate, cfg)


if __name__ == "__main__":
    entry_point(main, "evaluate")
