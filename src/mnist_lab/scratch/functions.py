"""Activations, softmax cross-entropy and accuracy in NumPy, with the derivatives backprop uses.

Inputs are batches: rows are samples. Every function works in the dtype it is given.
"""

from __future__ import annotations

import numpy as np


def relu(x: np.ndarray) -> np.ndarray:
    """max(0, x) elementwise."""
    return np.maximum(x, 0)


def relu_derivative(x: np.ndarray) -> np.ndarray:
    """d relu / dx: 1 where x > 0, else 0 (the kink at 0 gets 0, as in PyTorch)."""
    return (x > 0).astype(x.dtype)


def sigmoid(x: np.ndarray) -> np.ndarray:
    """1 / (1 + e^-x), computed without overflow for large |x|."""
    # e^-x overflows for x << 0; there sigmoid(x) = e^x / (1 + e^x) is the safe form.
    e = np.exp(-np.abs(x))
    return np.where(x >= 0, 1 / (1 + e), e / (1 + e))


def sigmoid_derivative(x: np.ndarray) -> np.ndarray:
    """d sigmoid / dx = sigmoid(x) * (1 - sigmoid(x)): the forward value is all it needs."""
    s = sigmoid(x)
    return s * (1 - s)


def softmax(scores: np.ndarray) -> np.ndarray:
    """Row-wise softmax; subtracting each row's maximum keeps exp from overflowing."""
    shifted = scores - scores.max(axis=1, keepdims=True)
    e = np.exp(shifted)
    return e / e.sum(axis=1, keepdims=True)


def cross_entropy(scores: np.ndarray, labels: np.ndarray) -> float:
    """Mean of -log softmax(scores)[label] over the batch, stable for any size of score."""
    shifted = scores - scores.max(axis=1, keepdims=True)
    # log softmax = shifted - log sum exp(shifted); the sum is >= 1, so its log never fails.
    log_probs = shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))
    return float(-log_probs[np.arange(len(labels)), labels].mean())


def cross_entropy_gradient(scores: np.ndarray, labels: np.ndarray) -> np.ndarray:
    """d cross_entropy / d scores = (softmax(scores) - one_hot(labels)) / batch size."""
    gradient = softmax(scores)
    gradient[np.arange(len(labels)), labels] -= 1
    return gradient / len(labels)


def accuracy(scores: np.ndarray, labels: np.ndarray) -> float:
    """Fraction of rows whose highest score is at the true label."""
    return float((scores.argmax(axis=1) == labels).mean())
