"""LeNet-5 (LeCun et al., 1998): the classic convolutional network for 28x28 digits."""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from mnist_lab.nets.layers import init_weights, make_activation


class LeNet5(nn.Module):
    """Conv 5x5 (6) -> pool -> conv 5x5 (16) -> pool -> 120 -> 84 -> classes: 61,706 parameters.

    The first convolution pads by 2, so 28x28 inputs meet the second one at 14x14, as the
    original's 32x32 inputs did; pooling is 2x2 averaging, the original's subsampling.
    """

    def __init__(
        self,
        input_shape: Sequence[int] = (1, 28, 28),
        num_classes: int = 10,
        activation: str = "tanh",
        init: str = "default",
        init_std: float = 0.01,
    ) -> None:
        super().__init__()
        channels, height, width = input_shape
        # 5x5 'same' convolution, pool, 5x5 'valid' convolution, pool
        side_h, side_w = (height // 2 - 4) // 2, (width // 2 - 4) // 2
        self.features = nn.Sequential(
            nn.Conv2d(channels, 6, kernel_size=5, padding=2),
            make_activation(activation),
            nn.AvgPool2d(2),
            nn.Conv2d(6, 16, kernel_size=5),
            make_activation(activation),
            nn.AvgPool2d(2),
        )
        self.classifier = nn.Sequential(
            nn.Flatten(),
            nn.Linear(16 * side_h * side_w, 120),
            make_activation(activation),
            nn.Linear(120, 84),
            make_activation(activation),
            nn.Linear(84, num_classes),
        )
        init_weights(self, init, init_std)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.classifier(self.features(x))
