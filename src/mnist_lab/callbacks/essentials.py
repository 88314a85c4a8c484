"""Essentials: what every run records about itself (layer summary, progress, timings, losses)."""

from __future__ import annotations

import json
import time
from collections import deque
from pathlib import Path

import lightning as L
import torch
from lightning.pytorch.callbacks import ModelSummary as ModelSummaryCallback
from lightning.pytorch.callbacks import RichProgressBar
from lightning.pytorch.utilities.model_summary import ModelSummary

from mnist_lab.callbacks._publish import tensorboard_logger


class LayerSummary(ModelSummaryCallback):
    """Prints every layer's output shape and parameter count, and keeps the table with the run.

    The table goes to stdout, `<output_dir>/model_summary.txt` and TensorBoard's text tab.
    Plain text rather than a Rich table: Rich wraps the columns on narrow terminals and logs.
    """

    def __init__(self, output_dir: str | None = None, max_depth: int = -1) -> None:
        super().__init__(max_depth=max_depth)
        self.output_dir = output_dir

    def on_fit_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        if not trainer.is_global_zero:
            return
        table = str(ModelSummary(pl_module, max_depth=self._max_depth))
        print(table, flush=True)
        if self.output_dir:
            Path(self.output_dir).mkdir(parents=True, exist_ok=True)
            (Path(self.output_dir) / "model_summary.txt").write_text(table + "\n")
        if (tensorboard := tensorboard_logger(trainer)) is not None:
            # Markdown code block keeps the columns aligned in TensorBoard.
            text = "\n".join("    " + line for line in table.splitlines())
            tensorboard.experiment.add_text("model_summary", text, global_step=0)


class ProgressBar(RichProgressBar):
    """Rich's progress bar, reading the logged metrics only on the steps they are logged.

    Lightning's bar reads them after every batch, calling `.item()` on each: a host-device
    sync per step on a GPU. The step loss changes only every `trainer.log_every_n_steps`
    steps anyway, so the bar reads the metrics then, and at every epoch's end.
    """

    def __init__(self, **kwargs) -> None:
        super().__init__(**kwargs)
        self._reads_metrics = True

    def on_train_batch_end(
        self, trainer: L.Trainer, pl_module: L.LightningModule, outputs, batch, batch_idx: int
    ) -> None:
        # the same steps on which the Classifier logs its step loss
        self._reads_metrics = batch_idx % max(trainer.log_every_n_steps, 1) == 0
        super().on_train_batch_end(trainer, pl_module, outputs, batch, batch_idx)
        self._reads_metrics = True

    def _update_metrics(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        if self._reads_metrics:
            super()._update_metrics(trainer, pl_module)


class EpochTimer(L.Callback):
    """Logs the wall time of each training epoch (`time/epoch_s`).

    Validation is not included, so the figure compares devices and code paths directly (the
    device's name is in the run's hparams, `environment/device`).
    """

    def __init__(self) -> None:
        self.epoch_seconds: list[float] = []
        self._started = 0.0

    def on_train_epoch_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        if trainer.strategy.root_device.type == "cuda":
            torch.cuda.synchronize()
        self._started = time.perf_counter()

    def on_train_epoch_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        if trainer.strategy.root_device.type == "cuda":
            torch.cuda.synchronize()
        seconds = time.perf_counter() - self._started
        self.epoch_seconds.append(seconds)
        pl_module.log("time/epoch_s", seconds, on_step=False, on_epoch=True)


class LastBatchLosses(L.Callback):
    """Keeps the training loss of the last `count` mini-batches; prints and saves them at the end.

    CS541 HW3 Problem 2.3 asks for exactly this; the losses stay tensors until the end (no
    per-step sync).
    """

    def __init__(self, count: int = 20, output_dir: str | None = None) -> None:
        self.count = count
        self.output_dir = output_dir
        self.losses: deque[torch.Tensor] = deque(maxlen=count)

    def on_train_batch_end(
        self, trainer: L.Trainer, pl_module: L.LightningModule, outputs, batch, batch_idx: int
    ) -> None:
        loss = outputs["loss"] if isinstance(outputs, dict) else outputs
        self.losses.append(loss.detach())

    def on_fit_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        if not trainer.is_global_zero or not self.losses:
            return
        values = [round(float(loss), 5) for loss in self.losses]
        print(f"training loss of the last {len(values)} mini-batches: {values}")
        if self.output_dir:
            path = Path(self.output_dir) / "last_batch_losses.json"
            path.write_text(json.dumps(values) + "\n")
