"""Building blocks shared by the networks: activations by name and weight initialisation."""

from __future__ import annotations

from torch import nn

from mnist_lab import LabError
from mnist_lab.runtime.choices import ACTIVATIONS, INITS

ACTIVATION_CLASSES: dict[str, type[nn.Module]] = {
    "relu": nn.ReLU,
    "tanh": nn.Tanh,
    "sigmoid": nn.Sigmoid,
    "leaky_relu": nn.LeakyReLU,
    "elu": nn.ELU,
    "prelu": nn.PReLU,
}
assert tuple(ACTIVATION_CLASSES) == ACTIVATIONS


def make_activation(name: str) -> nn.Module:
    """A fresh activation module from its config name."""
    if name not in ACTIVATION_CLASSES:
        raise LabError(f"unknown activation {name!r}; choose one of {', '.join(ACTIVATIONS)}")
    return ACTIVATION_CLASSES[name]()


def init_weights(net: nn.Module, scheme: str, std: float = 0.01) -> None:
    """Initialise every Linear and Conv2d layer of `net`; biases start at zero except for 'default'.

    'default' keeps PyTorch's own initialisation, 'zeros' sets weights to zero too (the
    classic example of a network that cannot break symmetry), 'normal' draws N(0, std^2),
    'xavier' is Glorot-normal and 'he' is Kaiming-normal for ReLU (fan-in).
    """
    if scheme not in INITS:
        raise LabError(f"unknown init {scheme!r}; choose one of {', '.join(INITS)}")
    if scheme == "default":
        return
    for module in net.modules():
        if not isinstance(module, (nn.Linear, nn.Conv2d)):
            continue
        if scheme == "zeros":
            nn.init.zeros_(module.weight)
        elif scheme == "normal":
            nn.init.normal_(module.weight, 0.0, std)
        elif scheme == "xavier":
            nn.init.xavier_normal_(module.weight)
        else:
            nn.init.kaiming_normal_(module.weight, nonlinearity="relu")
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
        if width < 1:
            raise LabError(
                f"hidden layer of size {width} in {list(hidden_dims)}; sizes must be >= 1"
            )
        layers.append(nn.Linear(in_features, width))
        if batch_norm:
            layers.append(nn.BatchNorm1d(width))
        layers.append(make_activation(activation))
        if dropout_p > 0:
            layers.append(nn.Dropout(dropout_p))
        in_features = width
    return layers, in_features
