"""Guards: callbacks that keep a run honest (a finite loss, an exact resume)."""

from __future__ import annotations

import random

import lightning as L
import numpy as np
import torch

from mnist_lab import LabError
from mnist_lab.runtime.loggers import CSVLogger


class FiniteLoss(L.Callback):
    """Stops the run with a clear error when the training loss becomes NaN or infinite.

    Checked every `check_every_n_steps` steps rather than every step, because reading the
    loss forces a GPU-to-host sync; once a loss is NaN the weights stay NaN, so it is caught.
    Before any checkpoint is written the weights are checked too, so the steps between two
    checks can never overwrite the last good checkpoint with a broken one. When it stops, it
    checks the training inputs (the whole split where the datamodule holds it as one tensor,
    else the batch at hand), so that the message blames the learning rate only when the data
    cannot be the cause: checked then, not on every batch, where it cost 0.2 ms a step (a
    seventh of an MLP step on a CPU).
    """

    def __init__(self, check_every_n_steps: int = 20) -> None:
        self.check_every_n_steps = check_every_n_steps
        self.last_loss: torch.Tensor | None = None
        self.last_lr = float("nan")

    def _stop(self, trainer: L.Trainer, what: str, batch=None) -> LabError:
        if not inputs_finite(trainer, batch):
            cause = (
                "the training inputs hold nan or inf values: the data, not the learning rate, "
                "is the cause; the checkpoints of earlier epochs are kept"
            )
        else:
            cause = "the checkpoints of earlier epochs are kept; try a smaller model.optimizer.lr"
        return LabError(
            f"{what} at step {trainer.global_step} (epoch {trainer.current_epoch}) with "
            f"learning rate {self.last_lr:g}; {cause}"
        )

    def on_train_batch_start(
        self, trainer: L.Trainer, pl_module: L.LightningModule, batch, batch_idx: int
    ) -> None:
        # The rate this step trains with: an epoch scheduler changes it before the batch ends.
        self.last_lr = trainer.optimizers[0].param_groups[0]["lr"]

    def on_train_batch_end(
        self, trainer: L.Trainer, pl_module: L.LightningModule, outputs, batch, batch_idx: int
    ) -> None:
        loss = outputs["loss"] if isinstance(outputs, dict) else outputs
        if loss is None:
            return
        self.last_loss = loss.detach()
        if batch_idx % self.check_every_n_steps == 0 and not torch.isfinite(loss):
            raise self._stop(trainer, f"training loss became {loss.item()}", batch)

    def on_save_checkpoint(
        self, trainer: L.Trainer, pl_module: L.LightningModule, checkpoint: dict
    ) -> None:
        if all(bool(torch.isfinite(p).all()) for p in pl_module.parameters()):
            return
        last = self.last_loss
        if last is not None and not torch.isfinite(last):
            raise self._stop(trainer, f"training loss became {last.item()}")
        raise self._stop(trainer, "the weights became non-finite")


def inputs_finite(trainer: L.Trainer, batch=None) -> bool:
    """Whether the training inputs are finite: the training split where the datamodule keeps it
    as one tensor (`TensorSplits`), else `batch`'s inputs; True when neither can be seen."""
    splits = getattr(getattr(trainer, "datamodule", None), "splits", None) or {}
    inputs = splits["train"][0] if "train" in splits else batch
    if isinstance(inputs, (list, tuple)) and inputs:
        inputs = inputs[0]
    if not isinstance(inputs, torch.Tensor) or not inputs.is_floating_point():
        return True
    return bool(torch.isfinite(inputs).all())


class BoundedLoss(FiniteLoss):
    """FiniteLoss that also stops a loss exploding while it stays finite: `growth` times its
    first checked value (or 1, when that was smaller) stops the run with the same one line.

    Adam at lr 1e8 trains to a loss of 1e25 without a NaN and tests at chance; a loss that
    rose four orders of magnitude is divergence, not training. Checked on FiniteLoss's steps.
    """

    def __init__(self, check_every_n_steps: int = 20, growth: float = 1e4) -> None:
        super().__init__(check_every_n_steps)
        self.growth = growth
        self.first_loss: float | None = None

    def on_train_batch_end(
        self, trainer: L.Trainer, pl_module: L.LightningModule, outputs, batch, batch_idx: int
    ) -> None:
        super().on_train_batch_end(trainer, pl_module, outputs, batch, batch_idx)
        loss = outputs["loss"] if isinstance(outputs, dict) else outputs
        if loss is None or batch_idx % self.check_every_n_steps != 0:
            return
        if self.first_loss is None:
            self.first_loss = float(loss.detach())
        self._check(trainer, float(loss.detach()))

    def on_save_checkpoint(
        self, trainer: L.Trainer, pl_module: L.LightningModule, checkpoint: dict
    ) -> None:
        super().on_save_checkpoint(trainer, pl_module, checkpoint)
        # The steps since the last check must not save an exploded model over a good one.
        if self.last_loss is not None:
            self._check(trainer, float(self.last_loss))

    def _check(self, trainer: L.Trainer, value: float) -> None:
        if self.first_loss is not None and value > self.growth * max(self.first_loss, 1.0):
            raise self._stop(
                trainer,
                f"training loss became {value:.3g} (over {self.growth:g} times its first value "
                f"{self.first_loss:.3g})",
            )


class ExactResume(L.Callback):
    """Lets a run resumed from a checkpoint end with the numbers it would have had uninterrupted.

    The checkpoint keeps the random number generators' states (dropout draws from them); they
    are put back just before training continues, after the sanity check and setup hooks that
    may draw numbers of their own. CSV rows of the interrupted epoch are dropped, because that
    epoch is trained again. The data order needs nothing: it depends only on (seed, epoch).
    """

    def __init__(self) -> None:
        self.restored: dict | None = None

    def state_dict(self) -> dict:
        # Tensors and plain Python values only: checkpoints load with torch's weights_only.
        name, keys, position, has_gauss, cached = np.random.get_state()
        return {
            "python": random.getstate(),
            "numpy": (name, torch.from_numpy(keys.astype(np.int64)), position, has_gauss, cached),
            "torch": torch.get_rng_state(),
            "cuda": torch.cuda.get_rng_state_all() if torch.cuda.is_available() else [],
        }

    def load_state_dict(self, state_dict: dict) -> None:
        self.restored = state_dict

    def on_train_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        if self.restored is None:
            return
        state, self.restored = self.restored, None
        random.setstate(state["python"])
        name, keys, position, has_gauss, cached = state["numpy"]
        np.random.set_state((name, keys.numpy().astype(np.uint32), position, has_gauss, cached))
        torch.set_rng_state(state["torch"])
        if state["cuda"] and torch.cuda.is_available():
            torch.cuda.set_rng_state_all(state["cuda"])
        for logger in trainer.loggers:
            if isinstance(logger, CSVLogger) and trainer.is_global_zero:
                logger.experiment.drop_epochs_from(trainer.current_epoch)
