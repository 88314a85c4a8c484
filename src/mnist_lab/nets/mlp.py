"""Multi-layer perceptron; with no hidden layer it is softmax regression."""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
from torch import nn

from mnist_lab.nets.layers import dense_stack, init_weights


class MLP(nn.Module):
    """Flatten -> (Linear [-> BatchNorm] -> activation [-> Dropout]) per hidden width -> Linear.

    Returns logits; the softmax lives in the loss.
    """

    def __init__(
        self,
        input_shape: Sequence[int] = (1, 28, 28),
        num_classes: int = 10,
        hidden_dims: Sequence[int] = (200, 100),
        activation: str = "relu",
        dropout_p: float = 0.0,
        batch_norm: bool = False,
        init: str = "he",
        init_std: float = 0.01,
    ) -> None:
        super().__init__()
        hidden, width = dense_stack(
            math.prod(input_shape), list(hidden_dims), activation, dropout_p, batch_norm
        )
        self.layers = nn.Sequential(nn.Flatten(), *hidden, nn.Linear(width, num_classes))
        init_weights(self, init, init_std)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.layers(x)
