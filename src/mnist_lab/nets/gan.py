"""GAN networks: a generator from a latent vector to an image and a discriminator to a logit.

Each class holds the pair as `generator` and `discriminator`, so one config node builds both
and the GAN recipe can swap the dense pair for the DCGAN. Images are in [-1, 1] (tanh output).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

from torch import nn


def _leaky_stack(in_features: int, widths: Sequence[int]) -> tuple[list[nn.Module], int]:
    """Linear -> LeakyReLU(0.2) per width: the slope GANs use so D's gradient never dies."""
    layers: list[nn.Module] = []
    for width in widths:
        layers += [nn.Linear(in_features, width), nn.LeakyReLU(0.2)]
        in_features = width
    return layers, in_features


class DenseGAN(nn.Module):
    """Generator latent -> widths -> image (tanh); discriminator image -> widths -> 1 logit."""

    def __init__(
        self,
        input_shape: Sequence[int] = (1, 28, 28),
        num_classes: int = 10,  # the lab passes it to every net; this GAN is unconditional
        latent_dim: int = 64,
        generator_dims: Sequence[int] = (256, 512),
        discriminator_dims: Sequence[int] = (512, 256),
    ) -> None:
        super().__init__()
        self.latent_dim = latent_dim
        pixels = math.prod(input_shape)
        hidden, width = _leaky_stack(latent_dim, generator_dims)
        self.generator = nn.Sequential(
            *hidden, nn.Linear(width, pixels), nn.Tanh(), nn.Unflatten(1, tuple(input_shape))
        )
        hidden, width = _leaky_stack(pixels, discriminator_dims)
        self.discriminator = nn.Sequential(nn.Flatten(), *hidden, nn.Linear(width, 1))


class DCGAN(nn.Module):
    """DCGAN (Radford et al. 2016) for 28x28 images, with every layer's shape in view.

    Generator: latent -> Linear to (2c, 7, 7) -> BatchNorm, ReLU -> ConvTranspose 4x4 stride 2
    to (c, 14, 14) -> BatchNorm, ReLU -> ConvTranspose 4x4 stride 2 to (1, 28, 28) -> tanh.
    Discriminator: image -> Conv 4x4 stride 2 to (c, 14, 14) -> LeakyReLU(0.2) -> Conv 4x4
    stride 2 to (2c, 7, 7) -> LeakyReLU(0.2) -> Linear to 1 logit. Strided convolutions
    instead of pooling, as the paper has it; c is `channels`.
    """

    def __init__(
        self,
        input_shape: Sequence[int] = (1, 28, 28),
        num_classes: int = 10,  # the lab passes it to every net; this GAN is unconditional
        latent_dim: int = 64,
        channels: int = 64,
    ) -> None:
        super().__init__()
        self.latent_dim = latent_dim
        image_channels = input_shape[0]
        wide = 2 * channels
        # No bias before BatchNorm: its mean subtraction cancels one.
        self.generator = nn.Sequential(
            nn.Linear(latent_dim, wide * 7 * 7, bias=False),
            nn.BatchNorm1d(wide * 7 * 7),
            nn.ReLU(),
            nn.Unflatten(1, (wide, 7, 7)),
            nn.ConvTranspose2d(wide, channels, 4, stride=2, padding=1, bias=False),
            nn.BatchNorm2d(channels),
            nn.ReLU(),
            nn.ConvTranspose2d(channels, image_channels, 4, stride=2, padding=1),
            nn.Tanh(),
        )
        self.discriminator = nn.Sequential(
            nn.Conv2d(image_channels, channels, 4, stride=2, padding=1),
            nn.LeakyReLU(0.2),
            nn.Conv2d(channels, wide, 4, stride=2, padding=1),
            nn.LeakyReLU(0.2),
            nn.Flatten(),
            nn.Linear(wide * 7 * 7, 1),
        )
        # The paper's initialisation: weights N(0, 0.02^2), BatchNorm scales N(1, 0.02^2).
        for module in self.modules():
            if isinstance(module, nn.Linear | nn.Conv2d | nn.ConvTranspose2d):
                nn.init.normal_(module.weight, 0.0, 0.02)
                if module.bias is not None:
                    nn.init.zeros_(module.bias)
            elif isinstance(module, nn.BatchNorm1d | nn.BatchNorm2d):
                nn.init.normal_(module.weight, 1.0, 0.02)
                nn.init.zeros_(module.bias)
