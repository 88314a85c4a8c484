"""Essentials: what every run records about itself (layer summary, progress, timings, losses)."""

from __future__ import annotations

import json
import math
import time
from collections import deque
from collections.abc import Sequence
from pathlib import Path

import lightning as L
import torch
from lightning.pytorch.callbacks import ModelSummary as ModelSummaryCallback
from lightning.pytorch.callbacks import RichProgressBar
from lightning.pytorch.utilities.model_summary import ModelSummary

from mnist_lab.callbacks._publish import tensorboard_logger
from mnist_lab.models.step_losses import writes_step_logs
from mnist_lab.runtime.rundir import LAST_BATCH_LOSSES_FILE


class LayerSummary(ModelSummaryCallback):
    """Prints every layer's output shape and parameter count, and keeps the table with the run.

    The table goes to stdout, `<output_dir>/model_summary.txt` and TensorBoard's text tab.
    Plain text rather than a Rich table: Rich wraps the columns on narrow terminals and logs.
    Counts are exact (178,110, not Lightning's "178 K"): E23, CS155 set 4 §3B-C's layer counts.
    """

    def __init__(self, output_dir: str | None = None, max_depth: int = -1) -> None:
        super().__init__(max_depth=max_depth)
        self.output_dir = output_dir

    def on_fit_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        if not trainer.is_global_zero:
            return
        table = summary_table(pl_module, self._max_depth)
        print(table, flush=True)
        if self.output_dir:
            Path(self.output_dir).mkdir(parents=True, exist_ok=True)
            (Path(self.output_dir) / "model_summary.txt").write_text(table + "\n")
        if (tensorboard := tensorboard_logger(trainer)) is not None:
            # Markdown code block keeps the columns aligned in TensorBoard.
            text = "\n".join("    " + line for line in table.splitlines())
            tensorboard.experiment.add_text("model_summary", text, global_step=0)


def summary_table(module: L.LightningModule, max_depth: int = -1) -> str:
    """Lightning's layer summary of `module` as a plain table with exact parameter counts.

    Input and output sizes need the module's `example_input_array`.
    """
    summary = ModelSummary(module, max_depth=max_depth)
    columns = {
        " ": [str(i) for i in range(len(summary.layer_names))],
        "Name": summary.layer_names,
        "Type": summary.layer_types,
        "Params": [f"{n:,}" for n in summary.param_nums],
        "In sizes": [str(size) for size in summary.in_sizes],
        "Out sizes": [str(size) for size in summary.out_sizes],
    }
    if module.example_input_array is None:
        del columns["In sizes"], columns["Out sizes"]
    widths = [max(map(len, [title, *cells])) for title, cells in columns.items()]

    def line(cells: Sequence[str]) -> str:
        # counts right-aligned, so their digits line up
        return " | ".join(
            cell.rjust(width) if title == "Params" else cell.ljust(width)
            for title, cell, width in zip(columns, cells, widths, strict=True)
        )

    lines = [line(list(columns))]
    lines.append("-" * len(lines[0]))
    lines += [line(row) for row in zip(*columns.values(), strict=True)]
    lines.append("-" * len(lines[0]))
    trainable = summary.trainable_parameters
    totals = {
        "Trainable params": trainable,
        "Non-trainable params": summary.total_parameters - trainable,
        "Total params": summary.total_parameters,
    }
    lines += [f"{count:<12,}{label}" for label, count in totals.items()]
    return "\n".join(line.rstrip() for line in lines)


class ProgressBar(RichProgressBar):
    """Rich's progress bar, reading the logged metrics only on the steps the loggers write.

    Lightning's bar reads them after every batch, calling `.item()` on each: a host-device
    sync per step on a GPU. The recipes log their step losses only on those steps
    (`StepLosses`), so the bar reads the metrics then, and at every epoch's end.

    It is redrawn `refresh_rate` times a second (Rich's own default, 10). Lightning's 100
    redrew it after nearly every batch of a CPU run, at about 1 ms of CPU a drawing: 8% of a
    cnn_fast step, taken from the cores the training runs on.
    """

    def __init__(self, refresh_rate: int = 10, **kwargs) -> None:
        super().__init__(refresh_rate=refresh_rate, **kwargs)
        self._reads_metrics = True

    def on_train_batch_end(
        self, trainer: L.Trainer, pl_module: L.LightningModule, outputs, batch, batch_idx: int
    ) -> None:
        self._reads_metrics = writes_step_logs(trainer)
        super().on_train_batch_end(trainer, pl_module, outputs, batch, batch_idx)
        self._reads_metrics = True

    def _update_metrics(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        if self._reads_metrics:
            super()._update_metrics(trainer, pl_module)

    def get_metrics(self, trainer: L.Trainer, pl_module: L.LightningModule) -> dict:
        # Lightning's `v_num` is the logger's version; the lab names runs by their overrides,
        # whose last characters mean nothing in the bar.
        metrics = super().get_metrics(trainer, pl_module)
        metrics.pop("v_num", None)
        return metrics


class StepLogInterval(L.Callback):
    """Lowers `trainer.log_every_n_steps` so that each epoch has `points_per_epoch` step values.

    With Lightning's 50, a subset run of 5 batches per epoch would write no step value at all.
    """

    def __init__(self, points_per_epoch: int = 5) -> None:
        self.points_per_epoch = points_per_epoch

    def on_train_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        batches = trainer.num_training_batches
        if trainer.log_every_n_steps > 0 and math.isfinite(batches):
            most = max(int(batches) // self.points_per_epoch, 1)
            trainer.log_every_n_steps = min(trainer.log_every_n_steps, most)


def learning_rate_tags(
    optimizers: Sequence[torch.optim.Optimizer],
) -> dict[str, tuple[torch.optim.Optimizer, int]]:
    """`lr/<name>` -> (optimizer, parameter group) whose rate that tag shows.

    An optimizer whose groups share one rate has one tag, named after its group when it has one
    named group (the GAN's `generator`, `discriminator`), else `net`; groups with different
    rates get one tag each, `lr/<group name>`.
    """
    tags: dict[str, tuple[torch.optim.Optimizer, int]] = {}
    for optimizer in optimizers:
        groups = optimizer.param_groups
        if len({group["lr"] for group in groups}) == 1:
            named = len(groups) == 1 and groups[0].get("name")
            entries = [(groups[0]["name"] if named else "net", 0)]
        else:
            entries = [(group.get("name", f"group_{i}"), i) for i, group in enumerate(groups)]
        for name, index in entries:
            tag = f"lr/{name}"
            if tag in tags:  # two optimizers of the same name: number the later ones
                tag = f"{tag}_{len(tags) + 1}"
            tags[tag] = (optimizer, index)
    return tags


class LearningRates(L.Callback):
    """Logs the learning rates (`learning_rate_tags`) as the schedule changes them.

    On the steps the loggers write when a scheduler steps per batch (one-cycle), and the first
    step; at every epoch's start otherwise. The rates are read when the step starts: the rate that
    step trains with, at that step.
    """

    def __init__(self) -> None:
        self.tags: dict[str, tuple[torch.optim.Optimizer, int]] = {}
        self.per_step = False

    def on_train_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        self.tags = learning_rate_tags(trainer.optimizers)
        self.per_step = any(config.interval == "step" for config in trainer.lr_scheduler_configs)

    def _log(self, trainer: L.Trainer) -> None:
        rates = {tag: opt.param_groups[index]["lr"] for tag, (opt, index) in self.tags.items()}
        # the step the loggers give this batch's scalars (global_step counts optimizer steps)
        step = trainer.fit_loop.epoch_loop._batches_that_stepped
        for logger in trainer.loggers:
            logger.log_metrics(rates, step=step)

    def on_train_batch_start(
        self, trainer: L.Trainer, pl_module: L.LightningModule, batch, batch_idx: int
    ) -> None:
        first = trainer.fit_loop.epoch_loop._batches_that_stepped == 0
        if self.per_step and (first or writes_step_logs(trainer)):
            self._log(trainer)

    def on_train_epoch_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        if not self.per_step:
            self._log(trainer)


class EpochTimer(L.Callback):
    """Logs the wall time of each training epoch (`time/epoch_s`).

    Validation is not included, so the figure compares devices and code paths directly (the
    device's name is in the run's hparams, `device`).
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
            path = Path(self.output_dir) / LAST_BATCH_LOSSES_FILE
            path.write_text(json.dumps(values) + "\n")
