"""Small 2-D classification problems: TensorFlow Playground's datasets and the Boolean gates.

Every problem has two classes and points in about [-1, 1]^2 (the gates: the corners of
{0, 1}^2). The points are generated from `data_seed`, so every run of a sweep sees the same data
whatever its `seed`; `noise` is the standard deviation of Gaussian jitter added to each point.
"""

from __future__ import annotations

from dataclasses import dataclass

import lightning as L
import numpy as np
import torch

from mnist_lab import LabError
from mnist_lab.data.datamodule import TensorSplits

# The truth tables: inputs (x1, x2) in this order, and each gate's output for them.
GATE_INPUTS = np.array([[0, 0], [0, 1], [1, 0], [1, 1]], dtype=np.float32)
GATE_OUTPUTS = {
    "gate_and": np.array([0, 0, 0, 1]),
    "gate_or": np.array([0, 1, 1, 1]),
    "gate_xor": np.array([0, 1, 1, 0]),
}


@dataclass(frozen=True)
class Toy2DSpec:
    """What the run's printout and figures need to know about a toy problem."""

    name: str
    classes: tuple[str, ...] = ("class 0", "class 1")
    items: str = "points"
    # What the last evaluation is on, as metric names say it (`<test_split>/acc`): a gate has no
    # held-out rows, it is tested on the truth table it also validated on.
    test_split: str = "test"


def _balanced_labels(n: int, rng: np.random.Generator) -> np.ndarray:
    """n labels, half of each class (one more 0 when n is odd), in random order."""
    return rng.permutation(np.arange(n) % 2)


def _xor(n: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    # Like the Playground, points keep a small margin from the axes so the quadrants are clean.
    points = rng.uniform(0.06, 1.0, size=(n, 2)) * rng.choice([-1.0, 1.0], size=(n, 2))
    return points, (points[:, 0] * points[:, 1] > 0).astype(np.int64)


def _circle(n: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    labels = _balanced_labels(n, rng)
    # class 1 inside radius 0.5, class 0 on a ring from 0.7 to 1.0
    radius = np.where(labels == 1, rng.uniform(0.0, 0.5, n), rng.uniform(0.7, 1.0, n))
    angle = rng.uniform(0, 2 * np.pi, n)
    return np.stack([radius * np.cos(angle), radius * np.sin(angle)], axis=1), labels


def _spiral(n: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    labels = _balanced_labels(n, rng)
    # Two interleaved arms of 1.75 turns each; class 0's arm is class 1's turned by pi.
    along = rng.uniform(0, 1, n)
    angle = 1.75 * 2 * np.pi * along + np.pi * (labels == 0)
    return np.stack([along * np.sin(angle), along * np.cos(angle)], axis=1), labels


def _gauss(n: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    labels = _balanced_labels(n, rng)
    centres = np.where(labels[:, None] == 1, 0.4, -0.4)
    return centres + rng.normal(0, 0.15, size=(n, 2)), labels


# With GATE_OUTPUTS, one entry per name in runtime.rules.TOY_DATASETS.
PLAYGROUND = {"xor": _xor, "circle": _circle, "spiral": _spiral, "gauss": _gauss}


def make_points(
    name: str, n: int, noise: float, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    """n points of problem `name` as (float32 [n, 2], int64 labels [n]).

    A gate's points cycle through its truth table (n = 4 is the table itself).
    """
    if name in GATE_OUTPUTS:
        rows = np.arange(n) % 4
        points, labels = GATE_INPUTS[rows].astype(np.float64), GATE_OUTPUTS[name][rows]
    else:
        points, labels = PLAYGROUND[name](n, rng)
    if noise > 0:
        points = points + rng.normal(0, noise, size=points.shape)
    return points.astype(np.float32), labels.astype(np.int64)


class Toy2DDataModule(TensorSplits, L.LightningDataModule):
    """A toy 2-D problem with train, validation and test splits held as tensors.

    Playground problems: `n_samples` points, `val_fraction` of them for validation, and a test
    set of another `n_samples` points from the same distribution. Gates: `n_samples` training
    points cycling through the truth table; validation and test are the four noise-free rows, so
    the test numbers are named for what they are: `truth_table/acc`, not held-out accuracy.
    """

    def __init__(
        self,
        name: str = "xor",
        n_samples: int = 1000,
        noise: float = 0.0,
        data_seed: int = 12345,
        batch_size: int = 32,
        eval_batch_size: int = 1000,
        val_fraction: float = 0.2,
        order: str = "shuffled",
        seed: int = 0,
    ) -> None:
        super().__init__()
        self.save_hyperparameters()
        if name in GATE_OUTPUTS:
            self.spec = Toy2DSpec(name, items="rows", test_split="truth_table")
        else:
            self.spec = Toy2DSpec(name)
        self.splits: dict[str, tuple[torch.Tensor, torch.Tensor]] = {}

    @property
    def num_classes(self) -> int:
        return len(self.spec.classes)

    @property
    def input_shape(self) -> tuple[int]:
        """The shape of one input (named as in MNISTDataModule, which the models read)."""
        return (2,)

    def prepare_data(self) -> None:
        """Nothing to fetch: the points are generated."""

    def setup(self, stage: str | None = None) -> None:
        if self.splits:
            return
        hp = self.hparams
        # An independent stream for the test set: a fresh sample, not a slice of the pool.
        seeds = np.random.SeedSequence(hp.data_seed).spawn(2)
        pool_rng, test_rng = (np.random.default_rng(seed) for seed in seeds)
        points, labels = make_points(hp.name, hp.n_samples, hp.noise, pool_rng)
        if hp.name in GATE_OUTPUTS:
            table = make_points(hp.name, 4, 0.0, test_rng)
            parts = {"train": (points, labels), "val": table, "test": table}
        else:
            n_val = int(round(hp.n_samples * hp.val_fraction))
            if n_val < 1 or n_val >= hp.n_samples:
                raise LabError(
                    f"data.val_fraction={hp.val_fraction} of data.n_samples={hp.n_samples} "
                    f"leaves no training or no validation point; use more samples"
                )
            # The generators emit points in random order: the first n_val are a random sample.
            parts = {
                "train": (points[n_val:], labels[n_val:]),
                "val": (points[:n_val], labels[:n_val]),
                "test": make_points(hp.name, hp.n_samples, hp.noise, test_rng),
            }
        n_train = len(parts["train"][1])
        if hp.batch_size > n_train:
            raise LabError(
                f"data.batch_size={hp.batch_size} is larger than the training set "
                f"({n_train} points); use at most {n_train}"
            )
        self.splits = {
            split: (torch.from_numpy(x), torch.from_numpy(y)) for split, (x, y) in parts.items()
        }
