"""Callbacks: what every run records (summary, timings, figures, guards) and opt-in probes."""

from __future__ import annotations

import json
import platform
import time
from collections import deque
from pathlib import Path

import lightning as L
import torch
from lightning.pytorch.callbacks import ModelSummary as ModelSummaryCallback
from lightning.pytorch.loggers import TensorBoardLogger
from lightning.pytorch.utilities.model_summary import ModelSummary

from mnist_lab import LabError
from mnist_lab.plots import confusion_matrix_figure
from mnist_lab.probes import dead_relu_units


def _tensorboard(trainer: L.Trainer) -> TensorBoardLogger | None:
    return next((lg for lg in trainer.loggers if isinstance(lg, TensorBoardLogger)), None)


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
        if (tensorboard := _tensorboard(trainer)) is not None:
            # Markdown code block keeps the columns aligned in TensorBoard.
            text = "\n".join("    " + line for line in table.splitlines())
            tensorboard.experiment.add_text("model_summary", text, global_step=0)


class ConfusionMatrixFigure(L.Callback):
    """After testing, draws the confusion matrix; saves it as PNG and sends it to TensorBoard."""

    def __init__(self, output_dir: str | None = None, filename: str = "confusion_matrix.png"):
        self.output_dir = output_dir
        self.filename = filename
        self.path: Path | None = None

    def on_test_epoch_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        if not trainer.is_global_zero or trainer.sanity_checking:
            return
        matrix = pl_module.test_confusion.compute().cpu().numpy()
        datamodule = trainer.datamodule
        names = list(datamodule.spec.classes) if datamodule is not None else None
        names = names or [str(i) for i in range(len(matrix))]
        dataset = datamodule.spec.name if datamodule is not None else "test set"
        fig = confusion_matrix_figure(matrix, names, title=f"{dataset} test confusion")
        if self.output_dir:
            self.path = Path(self.output_dir) / self.filename
            self.path.parent.mkdir(parents=True, exist_ok=True)
            fig.savefig(self.path, dpi=120)
        if (tensorboard := _tensorboard(trainer)) is not None:
            tensorboard.experiment.add_figure("test/confusion_matrix", fig, trainer.global_step)


class EpochTimer(L.Callback):
    """Logs the wall time of each training epoch (`time/epoch_s`) and the device it ran on.

    Validation is not included, so the figure compares devices and code paths directly.
    """

    def __init__(self) -> None:
        self.epoch_seconds: list[float] = []
        self._started = 0.0

    def on_fit_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        device = trainer.strategy.root_device
        name = torch.cuda.get_device_name(device) if device.type == "cuda" else platform.processor()
        for logger in trainer.loggers:
            logger.log_hyperparams({"device": f"{device.type}: {name or platform.machine()}"})

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


class FiniteLoss(L.Callback):
    """Stops the run with a clear error when the training loss becomes NaN or infinite.

    Checked every `check_every_n_steps` steps rather than every step, because reading the
    loss forces a GPU-to-host sync; once a loss is NaN the weights stay NaN, so it is caught.
    """

    def __init__(self, check_every_n_steps: int = 20) -> None:
        self.check_every_n_steps = check_every_n_steps

    def on_train_batch_end(
        self, trainer: L.Trainer, pl_module: L.LightningModule, outputs, batch, batch_idx: int
    ) -> None:
        if batch_idx % self.check_every_n_steps:
            return
        loss = outputs["loss"] if isinstance(outputs, dict) else outputs
        if loss is not None and not torch.isfinite(loss):
            lr = trainer.optimizers[0].param_groups[0]["lr"]
            raise LabError(
                f"training loss became {loss.item()} at step {trainer.global_step} "
                f"(epoch {trainer.current_epoch}) with learning rate {lr:g}; the checkpoints "
                f"of earlier epochs are kept; try a smaller model.optimizer.lr"
            )


class DeadUnits(L.Callback):
    """Logs the fraction of dead ReLU units (zero for every probe image) after each epoch.

    The probe is a fixed batch: the first `probe_size` validation images. Logged as
    `dead_units/fraction` (all ReLU units) and `dead_units/relu_<i>` per ReLU layer.
    """

    def __init__(self, probe_size: int = 1000) -> None:
        self.probe_size = probe_size

    def measure(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        images, _ = trainer.datamodule.on_device("val")
        fractions = dead_relu_units(pl_module.net, images[: self.probe_size])
        pl_module.log("dead_units/fraction", fractions.pop("all"), on_step=False, on_epoch=True)
        # relu_1, relu_2, ... in network order: shorter than module paths, same in every model
        for index, fraction in enumerate(fractions.values(), start=1):
            pl_module.log(f"dead_units/relu_{index}", fraction, on_step=False, on_epoch=True)

    def on_train_epoch_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        self.measure(trainer, pl_module)


class LastBatchLosses(L.Callback):
    """Keeps the training loss of the last `count` mini-batches; prints and saves them at the end.

    Seed 004 asks for exactly this; the losses stay tensors until the end (no per-step sync).
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
