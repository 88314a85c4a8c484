"""CS7643 A1's two classifiers, with forward and backward passes written out by hand.

A model keeps its parameters in `params` and, after `loss_and_gradients`, the gradient of the
mean cross-entropy with respect to each of them in `gradients` (same names). `biases` names the
parameters that L2 regularisation must leave alone.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from mnist_lab.scratch.functions import (
    accuracy,
    cross_entropy,
    cross_entropy_gradient,
    relu,
    relu_derivative,
    sigmoid,
)


class Model:
    """What the optimizer and the training loop need from a model."""

    params: dict[str, np.ndarray]
    gradients: dict[str, np.ndarray]
    biases: tuple[str, ...] = ()

    def scores(self, x: np.ndarray) -> np.ndarray:
        """Unnormalised class scores (logits), one row per sample."""
        raise NotImplementedError

    def loss_and_gradients(self, x: np.ndarray, labels: np.ndarray) -> tuple[float, float]:
        """Mean cross-entropy and accuracy on the batch; fills `gradients`."""
        raise NotImplementedError

    def parameter_count(self) -> int:
        """Number of trainable numbers."""
        return sum(p.size for p in self.params.values())


class SoftmaxRegression(Model):
    """scores = x W, no bias; with `relu_scores`, ReLU(x W) as CS7643 A1 words it.

    The ReLU lets a class die: once its score is <= 0 on every sample it gets no gradient
    and is never predicted again (on MNIST two to five of the ten classes die; README, E20).
    """

    def __init__(
        self,
        input_size: int,
        num_classes: int,
        init_std: float,
        seed: int,
        relu_scores: bool = False,
    ) -> None:
        rng = np.random.default_rng(seed)
        self.params = {"W": init_std * rng.standard_normal((input_size, num_classes))}
        self.gradients = {name: np.zeros_like(p) for name, p in self.params.items()}
        self.relu_scores = relu_scores

    def scores(self, x: np.ndarray) -> np.ndarray:
        linear = x @ self.params["W"]
        return relu(linear) if self.relu_scores else linear

    def loss_and_gradients(self, x: np.ndarray, labels: np.ndarray) -> tuple[float, float]:
        linear = x @ self.params["W"]
        scores = relu(linear) if self.relu_scores else linear
        d_linear = cross_entropy_gradient(scores, labels)
        if self.relu_scores:
            d_linear *= relu_derivative(linear)
        self.gradients["W"] = x.T @ d_linear
        return cross_entropy(scores, labels), accuracy(scores, labels)


class TwoLayerMLP(Model):
    """scores = sigmoid(x W1 + b1) W2 + b2: CS7643 A1's two-layer perceptron.

    `hidden_dims` is a list like the Lightning MLP's, here of exactly one width.
    """

    biases = ("b1", "b2")

    def __init__(
        self,
        input_size: int,
        hidden_dims: Sequence[int],
        num_classes: int,
        init_std: float,
        seed: int,
    ) -> None:
        (width,) = hidden_dims
        rng = np.random.default_rng(seed)
        self.params = {
            "W1": init_std * rng.standard_normal((input_size, width)),
            "b1": np.zeros(width),
            "W2": init_std * rng.standard_normal((width, num_classes)),
            "b2": np.zeros(num_classes),
        }
        self.gradients = {name: np.zeros_like(p) for name, p in self.params.items()}

    def scores(self, x: np.ndarray) -> np.ndarray:
        hidden = sigmoid(x @ self.params["W1"] + self.params["b1"])
        return hidden @ self.params["W2"] + self.params["b2"]

    def loss_and_gradients(self, x: np.ndarray, labels: np.ndarray) -> tuple[float, float]:
        p = self.params
        hidden = sigmoid(x @ p["W1"] + p["b1"])
        scores = hidden @ p["W2"] + p["b2"]
        d_scores = cross_entropy_gradient(scores, labels)
        d_hidden = d_scores @ p["W2"].T
        # sigmoid' = s (1 - s), with s the hidden activation already at hand
        d_linear = d_hidden * hidden * (1 - hidden)
        self.gradients = {
            "W1": x.T @ d_linear,
            "b1": d_linear.sum(axis=0),
            "W2": hidden.T @ d_scores,
            "b2": d_scores.sum(axis=0),
        }
        return cross_entropy(scores, labels), accuracy(scores, labels)


# One entry per name in runtime.rules.SCRATCH_MODELS; a checked config names no other.
MODEL_CLASSES: dict[str, type[Model]] = {
    "softmax_regression": SoftmaxRegression,
    "two_layer": TwoLayerMLP,
}


def build_model(name: str, input_size: int, num_classes: int, seed: int, **options: Any) -> Model:
    """The model a config names; `options` are its yaml's other keys."""
    return MODEL_CLASSES[name](input_size=input_size, num_classes=num_classes, seed=seed, **options)
