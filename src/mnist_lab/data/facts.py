"""The facts about a dataset that CS155 set 4 §2B asks for, measured from its IDX files.

Image shape, images per split (the official train/test files and the lab's train/val/test)
and per class, and the pixels' range, mean and standard deviation. Torch-free: `visualize`
computes them with NumPy.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from mnist_lab.data.datasets import DatasetSpec, load_split, split_train

# Each split's pixels are counted per grey level a chunk of images at a time: exact moments
# without a float copy of all 47 million training pixels.
_CHUNK = 10_000
GREY_LEVELS = 256
# The official files, then the lab's splits of them.
SPLITS = ("official_train", "official_test", "train", "val", "test")


def grey_level_counts(images: np.ndarray) -> np.ndarray:
    """How many pixels of `images` (uint8) have each grey level 0..255."""
    counts = np.zeros(GREY_LEVELS, dtype=np.int64)
    for start in range(0, len(images), _CHUNK):
        counts += np.bincount(images[start : start + _CHUNK].ravel(), minlength=GREY_LEVELS)
    return counts


def pixel_facts(images: np.ndarray) -> dict[str, float]:
    """Smallest and largest grey level (0-255), and mean and std of the pixels scaled to [0, 1]."""
    counts = grey_level_counts(images)
    levels = np.flatnonzero(counts)
    values = np.arange(GREY_LEVELS) / (GREY_LEVELS - 1)
    total = counts.sum()
    mean = float(counts @ values / total)
    std = float(np.sqrt(counts @ (values - mean) ** 2 / total))
    return {"min": int(levels[0]), "max": int(levels[-1]), "mean": mean, "std": std}


def data_facts(
    spec: DatasetSpec,
    data_dir: str | Path,
    val_fraction: float,
    val_split: str,
    split_seed: int,
    subset_size: int | None = None,
    download: bool = False,
) -> dict[str, Any]:
    """The dataset's facts, keyed `<split>/<fact>` (numbers, as metrics.json holds them).

    Splits: `official_train` and `official_test` (the files), and `train`, `val`, `test` as the
    lab trains on them with these data settings. Per split: `images`, `pixel_min`, `pixel_max`
    (grey levels 0-255), `pixel_mean`, `pixel_std` (of the pixels scaled to [0, 1], as the lab
    feeds them before standardising) and `class_<i>` images of class i.
    """
    train_images, train_labels = load_split(spec, data_dir, "train", download)
    test_images, test_labels = load_split(spec, data_dir, "test", download)
    train_idx, val_idx = split_train(
        len(train_labels), val_fraction, val_split, split_seed, subset_size
    )
    splits = {
        "official_train": (train_images, train_labels),
        "official_test": (test_images, test_labels),
        "train": (train_images[train_idx], train_labels[train_idx]),
        "val": (train_images[val_idx], train_labels[val_idx]),
        "test": (test_images, test_labels),
    }
    height, width = train_images.shape[1:]
    facts: dict[str, Any] = {"image/height": height, "image/width": width, "image/channels": 1}
    facts["classes"] = len(spec.classes)
    for split in SPLITS:
        images, labels = splits[split]
        facts[f"{split}/images"] = len(labels)
        pixels = pixel_facts(images)
        facts.update({f"{split}/pixel_{name}": value for name, value in pixels.items()})
        per_class = np.bincount(labels, minlength=len(spec.classes))
        facts.update({f"{split}/class_{i}": int(count) for i, count in enumerate(per_class)})
    return facts


def _row(cells: list[str]) -> str:
    return "| " + " | ".join(cells) + " |"


def facts_markdown(facts: dict[str, Any], spec: DatasetSpec, settings: str) -> str:
    """The facts as two Markdown tables, per split and per class, under a caption.

    `settings` names the data options the lab's split was made with, for the caption.
    """
    shape = f"{facts['image/channels']} x {facts['image/height']} x {facts['image/width']}"
    lines = [
        f"{spec.name}: each image is {shape} (channels x height x width), one uint8 grey level "
        f"per pixel, 0 = background to 255 = full ink; the lab scales them to [0, 1] and "
        f"standardises with mean {spec.mean} and std {spec.std} (data.normalize=true). The "
        f"lab's train/val split: {settings}; its test split is the official test file.",
        "",
        _row(["split", "images", "pixel min", "pixel max", "mean (0-1)", "std (0-1)"]),
        "|---|---:|---:|---:|---:|---:|",
    ]
    for split in SPLITS:
        lines.append(
            _row(
                [
                    split,
                    f"{facts[f'{split}/images']:,}",
                    str(facts[f"{split}/pixel_min"]),
                    str(facts[f"{split}/pixel_max"]),
                    f"{facts[f'{split}/pixel_mean']:.4f}",
                    f"{facts[f'{split}/pixel_std']:.4f}",
                ]
            )
        )
    lines += ["", _row(["class", *SPLITS]), "|---" + "|---:" * len(SPLITS) + "|"]
    for i, name in enumerate(spec.classes):
        counts = [f"{facts[f'{split}/class_{i}']:,}" for split in SPLITS]
        label = name if name == str(i) else f"{i} {name}"  # Fashion-MNIST's names, with the label
        lines.append(_row([label.replace("|", "\\|"), *counts]))
    return "\n".join(lines) + "\n"
