"""Probes: opt-in callbacks that measure a network as it trains (dead units, weights, modes)."""

from __future__ import annotations

import hashlib
import math
from pathlib import Path

import lightning as L
import numpy as np
import torch
from torch import Tensor
from torch.nn.utils import parameters_to_vector

from mnist_lab.analysis.probes import (
    class_histogram,
    dead_relu_units,
    frechet_distance,
    gaussian_statistics,
)
from mnist_lab.models.judge import judge_features, train_judge
from mnist_lab.nets.cnn import CNN
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
    """The GAN judge: a classifier labels generated images, and its features measure them.

    After each training epoch, `num_samples` fresh samples give the entropy of the predicted-
    class histogram (`samples/class_entropy`, in bits; 3.32 for ten equally frequent classes),
    the classes present (`samples/classes_present`) and the Fréchet distance between their
    judge features and those of the first `reference_size` test images
    (`samples/feature_distance`; fewer samples than at the end, so a little higher for the
    same generator). After testing, the same on `final_samples` samples as `test/...`, with
    `test/judge_acc` (the judge's own accuracy on those test images), the floor
    `test/feature_distance_floor` (the distance of `reference_size` real training images) and
    `test/epochs_to_all_classes` (the first epoch whose samples had every class, when one did);
    with an `output_dir`, `judged_samples.json` keeps the final counts and distances for the
    report.

    The classifier is trained on the run's training split the first time and cached in
    `cache_dir` under the dataset's name and data dir, or loaded from `classifier_path` (a file
    this callback saved before).
    """

    def __init__(
        self,
        cache_dir: str | None = None,
        classifier_path: str | None = None,
        num_samples: int = 1000,
        final_samples: int = 10000,
        reference_size: int = 10000,
        train_epochs: int = 1,
        output_dir: str | None = None,
    ) -> None:
        self.output_dir = output_dir
        self.cache_dir = cache_dir
        self.classifier_path = classifier_path
        self.num_samples = num_samples
        self.final_samples = final_samples
        self.reference_size = reference_size
        self.train_epochs = train_epochs
        self.judge: CNN | None = None
        self.num_classes = 10
        # the test images' feature mean and covariance, which every distance is measured to
        self.reference: tuple[np.ndarray, np.ndarray] | None = None
        self.judge_test_acc = math.nan
        self.floor = math.nan
        self.epochs_to_all_classes: int | None = None

    def load_judge(self, datamodule: L.LightningDataModule) -> CNN:
        """The cached classifier for this dataset (trained and saved first when there is none),
        with the test images' features measured for the distances to come."""
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
        else:
            self.judge = train_judge(
                images, labels, self.num_classes, self.train_epochs, saved_to=path
            )
            if path is not None:
                path.parent.mkdir(parents=True, exist_ok=True)
                torch.save(self.judge.state_dict(), path)
        self._measure_reference(datamodule)
        return self.judge

    def _measure_reference(self, datamodule: L.LightningDataModule) -> None:
        """The test images' feature statistics, the judge's accuracy on them, and the floor:
        the distance of as many real training images (chosen at random, always the same)."""
        images, truth = datamodule.on_device("test")
        images, truth = images[: self.reference_size], truth[: self.reference_size]
        features, predicted = judge_features(self.judge, images)
        self.judge_test_acc = float((predicted == truth).double().mean())
        self.reference = gaussian_statistics(features.cpu().numpy())
        train_images, _ = datamodule.on_device("train")
        chosen = torch.randperm(len(train_images), generator=torch.Generator().manual_seed(0))
        chosen = chosen[: self.reference_size].to(train_images.device)
        self.floor = self.feature_distance(judge_features(self.judge, train_images[chosen])[0])
        if datamodule.ranks()[0] == 0:
            print(
                f"GAN judge: test accuracy {self.judge_test_acc:.4f} on {len(truth):,} test "
                f"images; feature distance of {len(chosen):,} real training images to them "
                f"(the floor): {self.floor:.3f}",
                flush=True,
            )

    def feature_distance(self, features: torch.Tensor) -> float:
        """Fréchet distance between judge features [n, d] and the test images' features."""
        assert self.reference is not None, "load_judge first"
        return frechet_distance(*gaussian_statistics(features.cpu().numpy()), *self.reference)

    def measure(self, images: torch.Tensor) -> tuple[float, int]:
        """(entropy in bits, classes present) of the judge's labels for `images` in [0, 1]."""
        return class_histogram(judge_features(self.judge, images)[1], self.num_classes)

    def _log(
        self, pl_module: L.LightningModule, prefix: str, count: int
    ) -> tuple[float, int, float, Tensor]:
        """Logs the measures of `count` fresh samples; returns them (entropy, classes present,
        feature distance) and the judge's labels."""
        # Drawn in chunks: 10,000 DCGAN samples at once would hold ~250 MB of activations.
        sizes = [min(1000, count - start) for start in range(0, count, 1000)]
        features, labels = judge_features(
            self.judge, torch.cat([pl_module.sample(size) for size in sizes])
        )
        entropy, present = class_histogram(labels, self.num_classes)
        distance = self.feature_distance(features)
        pl_module.log(f"{prefix}/class_entropy", entropy)
        pl_module.log(f"{prefix}/classes_present", float(present))
        pl_module.log(f"{prefix}/feature_distance", distance)
        return entropy, present, distance, labels

    def on_fit_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        self.load_judge(trainer.datamodule)

    def on_train_epoch_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        _, present, _, _ = self._log(pl_module, "samples", self.num_samples)
        if present == self.num_classes and self.epochs_to_all_classes is None:
            self.epochs_to_all_classes = trainer.current_epoch + 1

    def on_test_epoch_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        if self.judge is None:
            self.load_judge(trainer.datamodule)
        entropy, present, distance, labels = self._log(pl_module, "test", self.final_samples)
        # Every judged number is only as good as the judge: its accuracy goes beside them.
        pl_module.log("test/judge_acc", self.judge_test_acc)
        pl_module.log("test/feature_distance_floor", self.floor)
        if self.epochs_to_all_classes is not None:
            pl_module.log("test/epochs_to_all_classes", float(self.epochs_to_all_classes))
        if not trainer.is_global_zero:
            return
        print(
            f"GAN judge (test accuracy {self.judge_test_acc:.4f}): {self.final_samples:,} "
            f"samples, {present} of {self.num_classes} classes, entropy {entropy:.2f} bits, "
            f"feature distance {distance:.3f} (floor {self.floor:.3f})",
            flush=True,
        )
        if self.output_dir:
            counts = torch.bincount(labels.cpu(), minlength=self.num_classes)
            RunDir(self.output_dir).write_judged_samples(
                counts.tolist(), self.judge_test_acc, distance, self.floor
            )

    def state_dict(self) -> dict[str, int | None]:
        # A resumed run still knows when its samples first had every class.
        return {"epochs_to_all_classes": self.epochs_to_all_classes}

    def load_state_dict(self, state_dict: dict[str, int | None]) -> None:
        self.epochs_to_all_classes = state_dict.get("epochs_to_all_classes")
