"""Checkpoint files that are either the old complete file or the new complete file, never half."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import lightning as L
import torch
from lightning.fabric.plugins.io.torch_io import TorchCheckpointIO
from lightning.pytorch.callbacks import ModelCheckpoint

from mnist_lab.runtime.atomic import atomic_write
from mnist_lab.runtime.rundir import LAST_CHECKPOINT, RunDir


class AtomicCheckpointIO(TorchCheckpointIO):
    """Writes a checkpoint to a temporary file beside it, fsyncs it, then renames it into place.

    A run killed or failing while it saves keeps the previous checkpoint under the name.
    Lightning's own save stages the file in the system temp dir and moves it, which is a plain
    copy (not atomic) when that dir is on another filesystem, and it never fsyncs.
    """

    def save_checkpoint(
        self, checkpoint: dict[str, Any], path: str | Path, storage_options: Any | None = None
    ) -> None:
        if storage_options is not None:
            raise TypeError(f"{type(self).__name__} takes no storage_options")
        atomic_write(path, lambda file: torch.save(checkpoint, file))


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

    def on_train_epoch_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        super().on_train_epoch_end(trainer, pl_module)
        self._save_last_if_skipped(trainer, at_train_epoch_end=True)

    def on_validation_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        super().on_validation_end(trainer, pl_module)
        self._save_last_if_skipped(trainer, at_train_epoch_end=False)
