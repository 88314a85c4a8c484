"""Building blocks shared by the networks: activations by name, weight initialisation, eval mode."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager

import torch
from torch import nn

# One entry per name in runtime.rules.ACTIVATIONS / INITS; a checked config names no other.
ACTIVATION_CLASSES: dict[str, type[nn.Module]] = {
    "relu": nn.ReLU,
    "tanh": nn.Tanh,
    "sigmoid": nn.Sigmoid,
    "leaky_relu": nn.LeakyReLU,
    "elu": nn.ELU,
    "prelu": nn.PReLU,
}
# How each scheme draws a weight tensor (only 'normal' uses `std`); None keeps PyTorch's own.
WEIGHT_INITS: dict[str, Callable[[torch.Tensor, float], object] | None] = {
    "default": None,
    # the classic example of a network that cannot break symmetry
    "zeros": lambda weight, std: nn.init.zeros_(weight),
    "normal": lambda weight, std: nn.init.normal_(weight, 0.0, std),
    "xavier": lambda weight, std: nn.init.xavier_normal_(weight),
    "he": lambda weight, std: nn.init.kaiming_normal_(weight, nonlinearity="relu"),
}


def make_activation(name: str) -> nn.Module:
    """A fresh activation module from its config name."""
    return ACTIVATION_CLASSES[name]()


def init_weights(net: nn.Module, scheme: str, std: float = 0.01) -> None:
    """Initialise every Linear and Conv2d layer of `net`; biases start at zero except for 'default'.

    'default' keeps PyTorch's own initialisation, 'zeros' sets weights to zero too, 'normal'
    draws N(0, std^2), 'xavier' is Glorot-normal and 'he' is Kaiming-normal for ReLU (fan-in).
    """
    draw = WEIGHT_INITS[scheme]
    if draw is None:
        return
    for module in net.modules():
        if isinstance(module, (nn.Linear, nn.Conv2d)):
            draw(module.weight, std)
            if module.bias is not None:
                nn.init.zeros_(module.bias)


def dense_stack(
    in_features: int,
    hidden_dims: list[int],
    activation: str,
    dropout_p: float,
    batch_norm: bool,
) -> tuple[list[nn.Module], int]:
    """Linear [-> BatchNorm] -> activation [-> Dropout] per width; returns (layers, out width)."""
    layers: list[nn.Module] = []
    for width in hidden_dims:
        layers.append(nn.Linear(in_features, width))
        if batch_norm:
            layers.append(nn.BatchNorm1d(width))
        layers.append(make_activation(activation))
        if dropout_p > 0:
            layers.append(nn.Dropout(dropout_p))
        in_features = width
    return layers, in_features


@contextmanager
def evaluation_mode(net: nn.Module) -> Iterator[nn.Module]:
    """`net` in eval mode (dropout off, BatchNorm's running statistics) inside, as before after."""
    was_training = net.training
    net.eval()
    try:
        yield net
    finally:
        net.train(was_training)
