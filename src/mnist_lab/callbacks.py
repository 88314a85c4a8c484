"""Callbacks that every run uses: layer summary, epoch timer, confusion-matrix figure."""

from __future__ import annotations

import platform
import time
from pathlib import Path

import lightning as L
import torch
from lightning.pytorch.callbacks import ModelSummary as ModelSummaryCallback
from lightning.pytorch.loggers import TensorBoardLogger
from lightning.pytorch.utilities.model_summary import ModelSummary

from mnist_lab.plots import confusion_matrix_figure


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
