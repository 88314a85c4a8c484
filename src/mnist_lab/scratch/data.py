"""MNIST as NumPy arrays, CS7643 A1's first-80% / last-20% split, and mini-batches."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np

from mnist_lab.data.datasets import DATASET_SPECS, check_split_sizes, load_split


def load_flat(
    name: str, data_dir: str | Path, split: str, download: bool = False
) -> tuple[np.ndarray, np.ndarray]:
    """One split as (float64 [n, 784] pixels in [0, 1], int64 [n] labels) via the IDX reader."""
    images, labels = load_split(DATASET_SPECS[name], data_dir, split, download)
    return images.reshape(len(images), -1) / 255.0, labels


def train_val_split(
    x: np.ndarray, y: np.ndarray, val_fraction: float = 0.2
) -> tuple[tuple[np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray]]:
    """The first (1 - val_fraction) of the samples for training, the rest for validation."""
    n_train = round(len(x) * (1 - val_fraction))
    check_split_sizes(len(x), len(x) - n_train, val_fraction)
    return (x[:n_train], y[:n_train]), (x[n_train:], y[n_train:])


def batches(
    x: np.ndarray, y: np.ndarray, batch_size: int, rng: np.random.Generator | None = None
) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """Every sample exactly once, in batches of batch_size (the last may be smaller).

    With `rng` the order is a fresh permutation, so each epoch sees different batches.
    """
    order = rng.permutation(len(x)) if rng is not None else np.arange(len(x))
    for start in range(0, len(x), batch_size):
        chosen = order[start : start + batch_size]
        yield x[chosen], y[chosen]
