"""Measurements taken on a network or its outputs with fixed inputs (no training involved)."""

from __future__ import annotations

import warnings

import numpy as np
import torch
from torch import nn

from mnist_lab.nets.layers import evaluation_mode


@torch.no_grad()
def dead_relu_units(net: nn.Module, inputs: torch.Tensor) -> dict[str, float]:
    """Fraction of units of each ReLU layer that output zero for every input ("dead" units).

    A unit is one feature of a dense layer or one channel of a convolutional layer (dead when
    zero at every position for every input). Returns `{layer name: fraction}` plus `all`, the
    fraction over every ReLU unit of the network. Runs in eval mode and restores the mode.
    """
    alive: dict[str, torch.Tensor] = {}

    def record(name: str):
        def hook(module: nn.Module, args: tuple, output: torch.Tensor) -> None:
            per_unit = (
                output.transpose(0, 1).reshape(output.shape[1], -1)
                if output.dim() > 2
                else output.T
            )
            alive[name] = (per_unit > 0).any(dim=1)

        return hook

    handles = [
        module.register_forward_hook(record(name))
        for name, module in net.named_modules()
        if isinstance(module, nn.ReLU)
    ]
    try:
        with evaluation_mode(net):
            net(inputs)
    finally:
        for handle in handles:
            handle.remove()
    fractions = {name: 1.0 - flags.float().mean().item() for name, flags in alive.items()}
    if alive:
        every = torch.cat(list(alive.values()))
        fractions["all"] = 1.0 - every.float().mean().item()
    return fractions


def knn_accuracy(
    points: np.ndarray, labels: np.ndarray, k: int = 10, held_out: float = 0.5, seed: int = 0
) -> float:
    """How well an embedding separates classes: a kNN classifier's accuracy on held-out points.

    The kNN is fit on a random `1 - held_out` of the points and scored on the rest, so a point
    never votes for itself.
    """
    from sklearn.model_selection import train_test_split
    from sklearn.neighbors import KNeighborsClassifier

    fit_points, test_points, fit_labels, test_labels = train_test_split(
        np.asarray(points), np.asarray(labels), test_size=held_out, random_state=seed
    )
    knn = KNeighborsClassifier(n_neighbors=k).fit(fit_points, fit_labels)
    return float(knn.score(test_points, test_labels))


def class_histogram(
    predictions: torch.Tensor, num_classes: int, min_fraction: float = 0.01
) -> tuple[float, int]:
    """(entropy in bits, classes present) of predicted labels: a mode-collapse measure.

    log2(10) = 3.32 bits is a uniform spread over ten classes, 0 a single class. A class counts
    as present with at least `min_fraction` of the predictions, so a few misread samples do not
    make a collapsed generator look diverse.
    """
    counts = torch.bincount(predictions.flatten().cpu(), minlength=num_classes).double()
    fractions = counts / counts.sum().clamp(min=1)
    nonzero = fractions[fractions > 0]
    # 0 - x, not -x: a single class would print as -0.00 bits
    entropy = float(0.0 - (nonzero * nonzero.log2()).sum())
    return entropy, int((fractions >= min_fraction).sum())


def gaussian_statistics(features: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(mean, covariance) of feature vectors [n, d], in float64: what a Fréchet distance needs."""
    features = np.asarray(features, dtype=np.float64)
    return features.mean(axis=0), np.cov(features, rowvar=False)


def frechet_distance(
    mean_a: np.ndarray, cov_a: np.ndarray, mean_b: np.ndarray, cov_b: np.ndarray
) -> float:
    """Fréchet distance between the Gaussians N(mean_a, cov_a) and N(mean_b, cov_b):
    |mean_a - mean_b|^2 + tr(cov_a + cov_b - 2 (cov_a cov_b)^(1/2)), as FID computes it.

    A singular product (a feature that never fires, say) can make the square root fail: it is
    then taken with 1e-6 on both diagonals, as the reference FID code does. Rounding leaves
    tiny imaginary parts, and a distance of identical sets a hair below zero: both dropped.
    """
    from scipy import linalg

    with warnings.catch_warnings():
        # A feature that never fires makes the product singular; its root is still exact.
        warnings.simplefilter("ignore", linalg.LinAlgWarning)
        root = linalg.sqrtm(cov_a @ cov_b)
    if not np.isfinite(root).all():
        offset = 1e-6 * np.eye(len(cov_a))
        root = linalg.sqrtm((cov_a + offset) @ (cov_b + offset))
    difference = mean_a - mean_b
    distance = difference @ difference + np.trace(cov_a) + np.trace(cov_b) - 2 * np.trace(root.real)
    return max(float(distance), 0.0)
