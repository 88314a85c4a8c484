"""Vanilla SGD on J = cross-entropy + weight_decay / 2 * sum of squared weights (biases exempt),
and the epoch loop that records learning curves."""

from __future__ import annotations

import copy
import math
import time
from dataclasses import dataclass, field
from typing import Protocol

import numpy as np

from mnist_lab import LabError
from mnist_lab.scratch.data import batches
from mnist_lab.scratch.functions import accuracy, cross_entropy
from mnist_lab.scratch.models import Model


class Parameterized(Protocol):
    """Anything with named parameters, their gradients and the names of its biases."""

    params: dict[str, np.ndarray]
    gradients: dict[str, np.ndarray]
    biases: tuple[str, ...]


class SGD:
    """theta <- theta - lr * dJ/dtheta, with L2 on every parameter but the biases."""

    def __init__(self, lr: float, weight_decay: float = 0.0) -> None:
        self.lr = lr
        self.weight_decay = weight_decay

    def penalty(self, model: Parameterized) -> float:
        """The L2 term of J: weight_decay / 2 * sum of squared weights, biases left out."""
        squares = sum(float((p**2).sum()) for n, p in model.params.items() if n not in model.biases)
        return self.weight_decay / 2 * squares

    def regularized_gradients(self, model: Parameterized) -> dict[str, np.ndarray]:
        """dJ/dtheta: the model's cross-entropy gradients plus weight_decay * w for weights."""
        return {
            name: gradient
            if name in model.biases
            else gradient + self.weight_decay * model.params[name]
            for name, gradient in model.gradients.items()
        }

    def step(self, model: Parameterized) -> None:
        """One update from the gradients the model computed last."""
        for name, gradient in self.regularized_gradients(model).items():
            model.params[name] -= self.lr * gradient


def evaluate(
    model: Model, x: np.ndarray, y: np.ndarray, batch_size: int = 10_000
) -> tuple[float, float]:
    """Mean cross-entropy and accuracy over a whole split (batched only to bound memory)."""
    losses, hits = 0.0, 0.0
    for xb, yb in batches(x, y, batch_size):
        scores = model.scores(xb)
        losses += cross_entropy(scores, yb) * len(yb)
        hits += accuracy(scores, yb) * len(yb)
    return losses / len(y), hits / len(y)


# The per-epoch curves, under the names the Lightning runs log them by, so that one report
# reads both halves of the lab.
CURVES = ("train/loss_epoch", "train/acc", "val/loss", "val/acc", "val/acc_best", "time/epoch_s")


@dataclass
class History:
    """Per-epoch curves, SGD steps taken by the end of each epoch, and the parameters of the
    epoch with the best validation accuracy."""

    curves: dict[str, list[float]] = field(default_factory=lambda: {key: [] for key in CURVES})
    steps: list[int] = field(default_factory=list)
    best_epoch: int = 0
    best_params: dict[str, np.ndarray] = field(default_factory=dict)


def non_finite_loss(
    loss: float, step: int, epoch: int, lr: float, x: np.ndarray, lr_key: str = "optimizer.lr"
) -> LabError:
    """The one line a run stops with when its loss is no longer finite: what is known."""
    if np.isfinite(x).all():
        cause = f"the inputs were finite; try a smaller {lr_key}"
    else:
        cause = "the batch's inputs hold nan or inf values: the data, not the learning rate"
    return LabError(
        f"training loss became {loss} at step {step} (epoch {epoch}) with learning rate "
        f"{lr:g}; {cause}"
    )


def fit(
    model: Model,
    optimizer: SGD,
    train: tuple[np.ndarray, np.ndarray],
    val: tuple[np.ndarray, np.ndarray],
    max_epochs: int,
    batch_size: int,
    seed: int,
    progress: bool = True,
) -> History:
    """Train for `max_epochs`; train loss/acc are epoch means over batches (CS7643 A1's curves)."""
    from tqdm.auto import tqdm

    rng = np.random.default_rng(seed)
    history = History()
    bar = tqdm(range(1, max_epochs + 1), desc="epochs", unit="epoch", disable=not progress)
    steps = 0
    for epoch in bar:
        started = time.perf_counter()
        sizes, losses, accuracies = [], [], []
        for xb, yb in batches(*train, batch_size, rng):
            loss, acc = model.loss_and_gradients(xb, yb)
            if not math.isfinite(loss):
                # The NumPy half stops like the Lightning half (FiniteLoss): once a loss is
                # NaN the weights are too, and every later epoch would only report it.
                raise non_finite_loss(loss, steps + len(sizes) + 1, epoch, optimizer.lr, xb)
            optimizer.step(model)
            sizes.append(len(yb))
            losses.append(loss)
            accuracies.append(acc)
        seconds = time.perf_counter() - started
        steps += len(sizes)
        val_loss, val_acc = evaluate(model, *val)
        for key, value in (
            ("train/loss_epoch", np.average(losses, weights=sizes)),
            ("train/acc", np.average(accuracies, weights=sizes)),
            ("val/loss", val_loss),
            ("val/acc", val_acc),
            ("val/acc_best", max([val_acc, *history.curves["val/acc"]])),
            ("time/epoch_s", seconds),
        ):
            history.curves[key].append(float(value))
        history.steps.append(steps)
        if val_acc > max(history.curves["val/acc"][:-1], default=-1.0):
            history.best_epoch = epoch
            history.best_params = copy.deepcopy(model.params)
        bar.set_postfix(
            train_loss=f"{history.curves['train/loss_epoch'][-1]:.3f}", val_acc=f"{val_acc:.4f}"
        )
    return history
