"""Small generated IDX datasets in torchvision's layout: learnable, and fast to train on."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from mnist_lab.data.datasets import SPLIT_FILES
from mnist_lab.data.idx import write_idx


def make_images(labels: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """28x28 uint8 images whose class is a bright horizontal bar at row 2 + 2*label, plus noise."""
    images = rng.integers(0, 60, size=(len(labels), 28, 28), dtype=np.uint8)
    for i, label in enumerate(labels):
        row = 2 + 2 * int(label)
        images[i, row : row + 2, 4:24] = 255
    return images


def write_dataset(root: Path, folder: str, n_train: int, n_test: int, seed: int, gz: bool) -> None:
    """Write the four IDX files of a learnable toy dataset in torchvision's layout."""
    rng = np.random.default_rng(seed)
    raw = root / folder / "raw"
    raw.mkdir(parents=True, exist_ok=True)
    suffix = ".gz" if gz else ""
    for split, n in (("train", n_train), ("test", n_test)):
        labels = rng.integers(0, 10, size=n).astype(np.uint8)
        images_stem, labels_stem = SPLIT_FILES[split]
        write_idx(raw / f"{images_stem}{suffix}", make_images(labels, rng))
        write_idx(raw / f"{labels_stem}{suffix}", labels)


def load_data(data_dir: Path, **settings: object) -> None:
    """Read, check and split the MNIST files under `data_dir` as a run's data module does."""
    from mnist_lab.data.datamodule import MNISTDataModule  # Lightning: only where it is used

    datamodule = MNISTDataModule(data_dir=str(data_dir), download=False, **settings)
    datamodule.prepare_data()
    datamodule.setup("fit")
