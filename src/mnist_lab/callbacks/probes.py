"""Probes: opt-in callbacks that measure a network as it trains (dead units, weights, modes)."""

from __future__ import annotations

import hashlib
import math
from pathlib import Path

import lightning as L
import torch
from torch import nn
from torch.nn.utils import parameters_to_vector

from mnist_lab.analysis.probes import class_histogram, dead_relu_units
from mnist_lab.models.judge import train_judge
from mnist_lab.runtime.rundir import TRAJECTORY_FILE, RunDir


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


class ParameterTrajectory(L.Callback):
    """Records the network's parameters as one flat vector a few times per epoch (E15).

    Snapshots: the initial weights, `snapshots_per_epoch` evenly spaced training steps of
    every epoch (the last one ends the epoch) and the final weights, saved with their step and
    epoch as `<output_dir>/trajectory.pt` for `python -m mnist_lab.landscape`. Only trainable
    parameters move along the trajectory; buffers (BatchNorm statistics) are saved as they end.
    """

    def __init__(
        self,
        output_dir: str | None = None,
        snapshots_per_epoch: int = 4,
        filename: str = TRAJECTORY_FILE,
    ) -> None:
        self.output_dir = output_dir
        self.snapshots_per_epoch = snapshots_per_epoch
        self.filename = filename
        self.snapshots: list[torch.Tensor] = []
        self.steps: list[int] = []
        self.epochs: list[float] = []
        self.path: Path | None = None
        self._record_at: set[int] = set()

    def _record(self, trainer: L.Trainer, pl_module: L.LightningModule, epoch: float) -> None:
        # A copy on the host: the snapshots must not pile up in GPU memory.
        vector = parameters_to_vector(pl_module.net.parameters()).detach()
        self.snapshots.append(vector.to("cpu", torch.float32, copy=True))
        self.steps.append(trainer.global_step)
        self.epochs.append(epoch)

    def on_train_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        batches = int(trainer.num_training_batches)
        count = self.snapshots_per_epoch
        self._record_at = {math.ceil((k + 1) * batches / count) - 1 for k in range(count)}
        if not self.snapshots:
            self._record(trainer, pl_module, float(trainer.current_epoch))

    def on_train_batch_end(
        self, trainer: L.Trainer, pl_module: L.LightningModule, outputs, batch, batch_idx: int
    ) -> None:
        if batch_idx in self._record_at:
            fraction = (batch_idx + 1) / trainer.num_training_batches
            self._record(trainer, pl_module, trainer.current_epoch + fraction)

    def on_train_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        if self.steps and self.steps[-1] != trainer.global_step:  # stopped mid-epoch
            self._record(trainer, pl_module, trainer.global_step / trainer.num_training_batches)
        if not trainer.is_global_zero or not self.output_dir or not self.snapshots:
            return
        net = pl_module.net
        self.path = Path(self.output_dir) / self.filename
        self.path.parent.mkdir(parents=True, exist_ok=True)
        torch.save(
            {
                "params": torch.stack(self.snapshots),
                "steps": torch.tensor(self.steps),
                "epochs": torch.tensor(self.epochs),
                "names": [name for name, _ in net.named_parameters()],
                "buffers": {name: b.detach().cpu() for name, b in net.named_buffers()},
            },
            self.path,
        )


class ModeCollapse(L.Callback):
    """Measures mode collapse: a classifier labels `num_samples` generated images each epoch.

    Logs the entropy of the predicted-class histogram (`samples/class_entropy`, in bits; 3.32
    for ten equally frequent classes) and the classes present (`samples/classes_present`), and
    the same as `test/...` after testing. The classifier is trained on the run's training split
    the first time and cached in `cache_dir` under the dataset's name and data dir, or loaded
    from `classifier_path` (a file this callback saved before). After testing, with an
    `output_dir`, the final class counts and the classifier's own test accuracy are saved for
    the report's histogram (`judged_samples.json`).
    """

    def __init__(
        self,
        cache_dir: str | None = None,
        classifier_path: str | None = None,
        num_samples: int = 1000,
        train_epochs: int = 1,
        output_dir: str | None = None,
    ) -> None:
        self.output_dir = output_dir
        self.cache_dir = cache_dir
        self.classifier_path = classifier_path
        self.num_samples = num_samples
        self.train_epochs = train_epochs
        self.judge: nn.Module | None = None
        self.num_classes = 10

    def load_judge(self, datamodule: L.LightningDataModule) -> nn.Module:
        """The cached classifier for this dataset, trained and saved first when there is none."""
        images, labels = datamodule.on_device("train")
        self.num_classes = datamodule.num_classes
        path = Path(self.classifier_path) if self.classifier_path else None
        if path is None and self.cache_dir:
            # Keyed by data dir and training-set size: a classifier trained on the tests'
            # generated MNIST, or on a subset, must not judge the full real one.
            data_dir = str(Path(datamodule.hparams.data_dir).resolve())
            key = hashlib.sha1(f"{data_dir}:{len(labels)}".encode()).hexdigest()[:10]
            path = Path(self.cache_dir) / f"judge_{datamodule.spec.name}_{key}.pt"
        if path is not None and path.is_file():
            judge = train_judge(images[:0], labels[:0], self.num_classes, epochs=0)
            judge.load_state_dict(torch.load(path, map_location=images.device))
            self.judge = judge.eval()
            return self.judge
        self.judge = train_judge(images, labels, self.num_classes, self.train_epochs, saved_to=path)
        if path is not None:
            path.parent.mkdir(parents=True, exist_ok=True)
            torch.save(self.judge.state_dict(), path)
        return self.judge

    @torch.no_grad()
    def labels(self, images: torch.Tensor) -> torch.Tensor:
        """The judge's label for each of `images` in [0, 1]."""
        return torch.cat(
            [self.judge(chunk).argmax(1) for chunk in images.split(1000)]  # type: ignore[misc]
        )

    def measure(self, images: torch.Tensor) -> tuple[float, int]:
        """(entropy in bits, classes present) of the judge's labels for `images` in [0, 1]."""
        return class_histogram(self.labels(images), self.num_classes)

    def _log(self, pl_module: L.LightningModule, prefix: str) -> torch.Tensor:
        """Logs the measures of a fresh batch of samples; returns the judge's labels of it."""
        predictions = self.labels(pl_module.sample(self.num_samples))
        entropy, present = class_histogram(predictions, self.num_classes)
        pl_module.log(f"{prefix}/class_entropy", entropy)
        pl_module.log(f"{prefix}/classes_present", float(present))
        return predictions

    def on_fit_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        self.load_judge(trainer.datamodule)

    def on_train_epoch_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        self._log(pl_module, "samples")

    def on_test_epoch_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        if self.judge is None:
            self.load_judge(trainer.datamodule)
        predictions = self._log(pl_module, "test")
        if self.output_dir and trainer.is_global_zero:
            # A histogram means little without how often the judge itself is right.
            images, truth = trainer.datamodule.on_device("test")
            accuracy = float((self.labels(images) == truth).double().mean())
            counts = torch.bincount(predictions.cpu(), minlength=self.num_classes)
            RunDir(self.output_dir).write_judged_samples(counts.tolist(), accuracy)
