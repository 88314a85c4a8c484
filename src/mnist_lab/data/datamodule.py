"""One LightningDataModule for every MNIST-format dataset, holding each split as a single tensor.

The whole dataset is a few hundred MB as float32, so it is moved once to the device the trainer
runs on and every mini-batch is a slice of it: no per-sample `__getitem__`, no collate, no
host-to-device copy per step.

Under data-parallel training (`trainer=ddp`) every process holds the whole dataset and takes its
own share of each epoch's order (`shard`): Lightning only splits real DataLoaders among ranks.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from typing import Any

import lightning as L
import numpy as np
import torch
from hydra.utils import to_absolute_path

from mnist_lab import LabError
from mnist_lab.data.datasets import (
    DATASET_SPECS,
    DatasetSpec,
    ensure_files,
    load_split,
    split_train,
)


def shard(indices: torch.Tensor, rank: int, world_size: int, pad: bool) -> torch.Tensor:
    """Rank `rank`'s share of `indices`: every `world_size`-th entry, starting at entry `rank`.

    With `pad`, the start of `indices` is repeated at the end until their count divides by
    `world_size`, as torch's DistributedSampler does: every rank then takes the same number of
    steps (a rank with fewer would wait for the others' gradients forever), and at most
    `world_size - 1` samples are seen twice in an epoch. Without `pad` the shares differ by at
    most one and every sample is counted exactly once, which is what evaluation needs.
    """
    if world_size == 1:
        return indices
    if pad:
        extra = -len(indices) % world_size
        indices = torch.cat([indices, indices[torch.arange(extra) % len(indices)]])
    return indices[rank::world_size]


class EpochOrder:
    """The order samples are visited in each epoch; `set_epoch` is called by Lightning.

    The order depends only on (seed, epoch), so every rank of a data-parallel run computes the
    same permutation and keeps its own share of it.
    """

    def __init__(
        self, labels: torch.Tensor, order: str, seed: int, rank: int = 0, world_size: int = 1
    ) -> None:
        self.labels = labels
        self.order = order
        self.seed = seed
        self.rank = rank
        self.world_size = world_size
        self.epoch = 0

    def __len__(self) -> int:
        """Samples this rank visits per epoch."""
        return math.ceil(len(self.labels) / self.world_size)

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def indices(self) -> torch.Tensor | None:
        """This rank's indices for this epoch, or None when the stored order is used as it is."""
        if self.order == "fixed" and self.world_size == 1:
            return None
        if self.order == "fixed":
            order = torch.arange(len(self.labels))
        elif self.order == "by_label":
            order = torch.sort(self.labels.cpu(), stable=True).indices
        else:
            generator = torch.Generator().manual_seed(self.seed + self.epoch)
            order = torch.randperm(len(self.labels), generator=generator)
        return shard(order, self.rank, self.world_size, pad=True)


class TensorBatches:
    """An iterable of (images, labels) mini-batches sliced from device-resident tensors."""

    def __init__(
        self,
        images: torch.Tensor,
        labels: torch.Tensor,
        batch_size: int,
        sampler: EpochOrder | None = None,
    ) -> None:
        self.images = images
        self.labels = labels
        self.batch_size = batch_size
        # Named like DataLoader's attributes so Lightning calls `sampler.set_epoch` each epoch.
        self.sampler = sampler
        self.batch_sampler = None

    def __len__(self) -> int:
        samples = len(self.sampler) if self.sampler is not None else len(self.labels)
        return math.ceil(samples / self.batch_size)

    def __iter__(self) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        images, labels = self.images, self.labels
        order = self.sampler.indices() if self.sampler is not None else None
        if order is not None:
            # One gather per epoch; every batch below is then a zero-copy view.
            order = order.to(labels.device)
            images, labels = images[order], labels[order]
        for start in range(0, len(labels), self.batch_size):
            yield images[start : start + self.batch_size], labels[start : start + self.batch_size]


def to_float_images(images: np.ndarray, spec: DatasetSpec, normalize: bool) -> torch.Tensor:
    """uint8 [n, 28, 28] -> float32 [n, 1, 28, 28] in [0, 1], standardised if `normalize`."""
    tensor = torch.from_numpy(np.require(images, requirements=["C", "W"]))
    tensor = tensor.unsqueeze(1).float().div_(255)
    if normalize:
        tensor.sub_(spec.mean).div_(spec.std)
    return tensor


class TensorSplits:
    """The loaders of a DataModule that keeps each split as one (inputs, labels) tensor pair.

    Expects `self.splits` ({"train", "val", "test"} -> tensors) and the hparams `batch_size`,
    `eval_batch_size`, `order` and `seed`.
    """

    splits: dict[str, tuple[torch.Tensor, torch.Tensor]]
    trainer: L.Trainer | None
    hparams: Any

    def on_device(self, split: str) -> tuple[torch.Tensor, torch.Tensor]:
        """A split's tensors on the trainer's device, moved there once."""
        device = self.trainer.strategy.root_device if self.trainer else torch.device("cpu")
        inputs, labels = self.splits[split]
        if inputs.device != device:
            inputs, labels = inputs.to(device), labels.to(device)
            self.splits[split] = (inputs, labels)
        return inputs, labels

    def ranks(self) -> tuple[int, int]:
        """(this process's rank, number of processes) of the trainer; (0, 1) without one."""
        if self.trainer is None:
            return 0, 1
        return self.trainer.global_rank, self.trainer.world_size

    def train_dataloader(self) -> TensorBatches:
        inputs, labels = self.on_device("train")
        rank, world_size = self.ranks()
        sampler = EpochOrder(labels, self.hparams.order, self.hparams.seed, rank, world_size)
        return TensorBatches(inputs, labels, self.hparams.batch_size, sampler)

    def _eval_batches(self, split: str) -> TensorBatches:
        inputs, labels = self.on_device(split)
        rank, world_size = self.ranks()
        if world_size > 1:
            # Unpadded shares: the metrics' sums, added up over the ranks, count each sample once.
            part = shard(torch.arange(len(labels), device=labels.device), rank, world_size, False)
            inputs, labels = inputs[part], labels[part]
        return TensorBatches(inputs, labels, self.hparams.eval_batch_size)

    def val_dataloader(self) -> TensorBatches:
        return self._eval_batches("val")

    def test_dataloader(self) -> TensorBatches:
        return self._eval_batches("test")


class MNISTDataModule(TensorSplits, L.LightningDataModule):
    """MNIST or Fashion-MNIST with a validation split carved from the training set."""

    def __init__(
        self,
        name: str = "mnist",
        data_dir: str = "data",
        download: bool = True,
        batch_size: int = 128,
        eval_batch_size: int = 1000,
        val_fraction: float = 0.1,
        val_split: str = "random",
        split_seed: int = 12345,
        order: str = "shuffled",
        seed: int = 0,
        subset_size: int | None = None,
        normalize: bool = True,
    ) -> None:
        super().__init__()
        self.save_hyperparameters()
        self.spec = DATASET_SPECS[name]
        self.splits: dict[str, tuple[torch.Tensor, torch.Tensor]] = {}

    @property
    def num_classes(self) -> int:
        return len(self.spec.classes)

    @property
    def input_shape(self) -> tuple[int, int, int]:
        return (1, 28, 28)

    def prepare_data(self) -> None:
        # Runs on one process only: the right place for a download.
        ensure_files(self.spec, to_absolute_path(self.hparams.data_dir), self.hparams.download)

    def setup(self, stage: str | None = None) -> None:
        """Load and check all splits (on the CPU; the loaders move them to the device)."""
        if self.splits:
            return
        hp = self.hparams
        data_dir = to_absolute_path(hp.data_dir)
        train_images, train_labels = load_split(self.spec, data_dir, "train", hp.download)
        test_images, test_labels = load_split(self.spec, data_dir, "test", hp.download)
        train_idx, val_idx = split_train(
            len(train_labels), hp.val_fraction, hp.val_split, hp.split_seed, hp.subset_size
        )
        if hp.batch_size > len(train_idx):
            raise LabError(
                f"data.batch_size={hp.batch_size} is larger than the training set "
                f"({len(train_idx)} samples); use at most {len(train_idx)}"
            )
        parts = {
            "train": (train_images[train_idx], train_labels[train_idx]),
            "val": (train_images[val_idx], train_labels[val_idx]),
            "test": (test_images, test_labels),
        }
        for split, (images, labels) in parts.items():
            self.splits[split] = (
                to_float_images(images, self.spec, hp.normalize),
                torch.from_numpy(labels),
            )
