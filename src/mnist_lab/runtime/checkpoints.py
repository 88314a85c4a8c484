"""Checkpoint files that are either the old complete file or the new complete file, never half."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import lightning as L
import torch
from lightning.fabric.plugins.io.torch_io import TorchCheckpointIO
from lightning.pytorch.callbacks import ModelCheckpoint

from mnist_lab import LabError
from mnist_lab.runtime.atomic import atomic_write
from mnist_lab.runtime.rundir import LAST_CHECKPOINT, RunDir, checkpoint_problem


def net_name(target: object) -> str:
    """The class name of a net's `_target_` (`mnist_lab.nets.gan.DenseGAN` -> `DenseGAN`)."""
    return str(target).rsplit(".", 1)[-1]


def saved_net_name(checkpoint: dict[str, Any]) -> str | None:
    """The class name of the net a checkpoint's recipe was built with, when it says."""
    net = checkpoint.get("hyper_parameters", {}).get("net")
    return net_name(net["_target_"]) if isinstance(net, dict) and "_target_" in net else None


def load_torch_file(path: str | Path, what: str = "ckpt_path") -> Any:
    """What torch.save wrote into `path`, or a LabError saying in one line what the file is."""
    path = Path(path)
    problem = checkpoint_problem(path)
    if problem is None:
        try:
            return torch.load(path, map_location="cpu", weights_only=False)
        except Exception as error:  # noqa: BLE001 - whatever torch says, the file is damaged
            reason = " ".join(str(error).split())[:160]
            problem = f"is damaged: torch cannot load it ({type(error).__name__}: {reason})"
    raise LabError(f"{what}={str(path)!r} {problem}; give a checkpoint saved by mnist_lab.train")


def read_checkpoint(path: str | Path, what: str = "ckpt_path") -> dict[str, Any]:
    """A Lightning checkpoint (a dict with a state_dict), or a LabError saying what it is."""
    checkpoint = load_torch_file(path, what)
    if not isinstance(checkpoint, dict) or not isinstance(checkpoint.get("state_dict"), dict):
        raise LabError(
            f"{what}={str(path)!r} is a torch file but not a Lightning checkpoint (it has no "
            f"state_dict); give a checkpoint saved by mnist_lab.train"
        )
    return checkpoint


def check_fits(checkpoint: dict[str, Any], model: torch.nn.Module, path: str | Path) -> None:
    """LabError unless `checkpoint`'s weights are those of `model`: the same net, same sizes."""
    theirs, ours = saved_net_name(checkpoint), type(getattr(model, "net", model)).__name__
    start = f"ckpt_path={str(path)!r} is a checkpoint of"
    if theirs not in (None, ours):
        raise LabError(f"{start} model {theirs}; this config builds model {ours}")
    saved, wanted = checkpoint["state_dict"], model.state_dict()
    for key, tensor in wanted.items():
        if key not in saved:
            raise LabError(f"{start} another model: it has no {key}; this config's {ours} does")
        if tuple(saved[key].shape) != tuple(tensor.shape):
            raise LabError(
                f"{start} a {ours} of other sizes: {key} is {list(saved[key].shape)} there, "
                f"{list(tensor.shape)} in this config; give the run's own overrides"
            )
    extra = sorted(set(saved) - set(wanted))
    if extra:
        raise LabError(
            f"{start} another model: it has {extra[0]}, which this config's {ours} lacks"
        )


class AtomicCheckpointIO(TorchCheckpointIO):
    """Writes a checkpoint to a temporary file beside it, fsyncs it, then renames it into place.

    A run killed or failing while it saves keeps the previous checkpoint under the name.
    Lightning's own save stages the file in the system temp dir and moves it, which is a plain
    copy (not atomic) when that dir is on another filesystem, and it never fsyncs. Loading
    checks the file and, once `EpochCheckpoint` has named the model, that it fits the model.
    """

    def __init__(self) -> None:
        super().__init__()
        self.model: torch.nn.Module | None = None

    def load_checkpoint(
        self, path: str | Path, map_location: Any | None = None, weights_only: bool | None = None
    ) -> dict[str, Any]:
        if self.model is None:  # not restoring a model (a plain save and load)
            return load_torch_file(path)
        checkpoint = read_checkpoint(path)
        check_fits(checkpoint, self.model, path)
        return checkpoint

    def save_checkpoint(
        self, checkpoint: dict[str, Any], path: str | Path, storage_options: Any | None = None
    ) -> None:
        if storage_options is not None:
            raise TypeError(f"{type(self).__name__} takes no storage_options")
        # Serialized in memory first: torch's zip writer reports a full disk as a RuntimeError
        # ("unexpected pos"); a plain write reports it as the OSError it is.
        buffer = io.BytesIO()
        torch.save(checkpoint, buffer)
        atomic_write(path, lambda file: file.write(buffer.getbuffer()))


class EpochCheckpoint(ModelCheckpoint):
    """Lightning's ModelCheckpoint into the run dir's `checkpoints/best.ckpt` and `last.ckpt`,
    except that `last.ckpt` is written after every epoch.

    Lightning 2.6 writes the last checkpoint only in epochs that also saved a top-k one, so a
    run whose validation score stopped improving would resume from an old epoch. The file
    names are the run directory's (`runtime.rundir`), which resume and evaluate read back.
    """

    CHECKPOINT_NAME_LAST = Path(LAST_CHECKPOINT).stem

    def __init__(self, run_dir: str | Path, **kwargs: Any) -> None:
        run = RunDir(run_dir)
        super().__init__(
            dirpath=run.last_checkpoint.parent, filename=run.best_checkpoint.stem, **kwargs
        )

    def _save_last_if_skipped(self, trainer: L.Trainer, at_train_epoch_end: bool) -> None:
        # The same moment the parent saves at; skipped when it already saved at this step.
        due = self._should_save_on_train_epoch_end(trainer) == at_train_epoch_end
        if self.save_last and due and not self._should_skip_saving_checkpoint(trainer):
            self._save_last_checkpoint(trainer, self._monitor_candidates(trainer))

    def setup(self, trainer: L.Trainer, pl_module: L.LightningModule, stage: str) -> None:
        super().setup(trainer, pl_module, stage)
        # Before Lightning restores a checkpoint into the model: let the loader check the fit.
        checkpoint_io = trainer.strategy.checkpoint_io
        if isinstance(checkpoint_io, AtomicCheckpointIO):
            checkpoint_io.model = pl_module

    def on_train_epoch_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        super().on_train_epoch_end(trainer, pl_module)
        self._save_last_if_skipped(trainer, at_train_epoch_end=True)

    def on_validation_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        super().on_validation_end(trainer, pl_module)
        self._save_last_if_skipped(trainer, at_train_epoch_end=False)
