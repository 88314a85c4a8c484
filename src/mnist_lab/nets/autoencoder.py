"""Dense autoencoder: an encoder to a small code and a mirrored decoder back to the image."""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
from torch import nn

from mnist_lab.nets.layers import dense_stack, init_weights, make_activation


class DenseAutoencoder(nn.Module):
    """Flatten -> (Linear -> activation) per width -> Linear to `code_size` [-> activation],
    then the decoder mirrors the widths -> Linear -> Sigmoid, reshaped to the input's shape.

    With hidden_dims [128] and code_size 64 this is CS541 HW3's 784-128-64-128-784. The sigmoid
    output matches pixels in [0, 1] (`data.normalize=false`). `code_activation=false` leaves the
    code linear, which a 2-D code needs: a ReLU would fold three quarters of the plane onto
    its axes.
    """

    def __init__(
        self,
        input_shape: Sequence[int] = (1, 28, 28),
        num_classes: int = 10,  # the lab passes it to every net; a reconstruction ignores it
        hidden_dims: Sequence[int] = (128,),
        code_size: int = 64,
        activation: str = "relu",
        code_activation: bool = True,
        init: str = "default",
        init_std: float = 0.01,
    ) -> None:
        super().__init__()
        self.input_shape = tuple(input_shape)
        pixels = math.prod(input_shape)
        hidden, width = dense_stack(pixels, list(hidden_dims), activation, 0.0, False)
        code: list[nn.Module] = [nn.Linear(width, code_size)]
        if code_activation:
            code.append(make_activation(activation))
        self.encoder = nn.Sequential(nn.Flatten(), *hidden, *code)
        hidden, width = dense_stack(code_size, list(hidden_dims)[::-1], activation, 0.0, False)
        self.decoder = nn.Sequential(
            *hidden,
            nn.Linear(width, pixels),
            nn.Sigmoid(),
            nn.Unflatten(1, self.input_shape),
        )
        init_weights(self, init, init_std)

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        """Images [n, c, h, w] -> codes [n, code_size]."""
        return self.encoder(x)

    def decode(self, code: torch.Tensor) -> torch.Tensor:
        """Codes [n, code_size] -> images [n, c, h, w] in [0, 1]."""
        return self.decoder(code)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.decode(self.encode(x))
