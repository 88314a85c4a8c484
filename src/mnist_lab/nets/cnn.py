"""Convolutional classifier: blocks of convolutions, each ending in pooling, then a dense head."""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from mnist_lab import LabError
from mnist_lab.nets.layers import dense_stack, init_weights, make_activation


class CNN(nn.Module):
    """(Conv [-> BatchNorm] -> activation)+ [-> MaxPool] [-> Dropout] per block -> dense head.

    `channels` lists the blocks: an int is a block of one convolution, a list is a block of
    several (e.g. [[32, 32], [64, 64]] is the classic VGG-style pair of blocks).
    """

    def __init__(
        self,
        input_shape: Sequence[int] = (1, 28, 28),
        num_classes: int = 10,
        channels: Sequence[int | Sequence[int]] = (32, 64),
        kernel_size: int = 3,
        padding: int = 1,
        pool: int | None = 2,
        batch_norm: bool = True,
        activation: str = "relu",
        dropout_p: float = 0.25,
        hidden_dims: Sequence[int] = (128,),
        head_dropout_p: float = 0.5,
        init: str = "default",
        init_std: float = 0.01,
    ) -> None:
        super().__init__()
        layers: list[nn.Module] = []
        in_channels = input_shape[0]
        for block in channels:
            for out_channels in [block] if isinstance(block, int) else block:
                if out_channels < 1:
                    raise LabError(f"conv layer with {out_channels} channels; must be >= 1")
                # A bias before BatchNorm is cancelled by its mean subtraction.
                layers.append(
                    nn.Conv2d(
                        in_channels, out_channels, kernel_size, padding=padding, bias=not batch_norm
                    )
                )
                if batch_norm:
                    layers.append(nn.BatchNorm2d(out_channels))
                layers.append(make_activation(activation))
                in_channels = out_channels
            if pool and pool > 1:
                layers.append(nn.MaxPool2d(pool))
            if dropout_p > 0:
                layers.append(nn.Dropout(dropout_p))
        self.features = nn.Sequential(*layers)
        self.features.eval()  # size the head without touching BatchNorm's running statistics
        with torch.no_grad():
            flat = self.features(torch.zeros(1, *input_shape)).numel()
        self.features.train()
        hidden, width = dense_stack(flat, list(hidden_dims), activation, head_dropout_p, False)
        self.head = nn.Sequential(nn.Flatten(), *hidden, nn.Linear(width, num_classes))
        init_weights(self, init, init_std)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.features(x))
