"""The plain networks: shapes, parameter counts, options and initialisations."""

from __future__ import annotations

import pytest
import torch
from lightning.pytorch.utilities.model_summary import ModelSummary
from torch import nn

from mnist_lab.callbacks.essentials import summary_table
from mnist_lab.models.classifier import Classifier
from mnist_lab.nets.cnn import CNN
from mnist_lab.nets.mlp import MLP
from mnist_lab.runtime.rules import ACTIVATIONS


def count(net: nn.Module) -> int:
    return sum(p.numel() for p in net.parameters())


def test_default_mlp_is_cs156_bonus_dense_net() -> None:
    net = MLP()
    assert count(net) == 784 * 200 + 200 + 200 * 100 + 100 + 100 * 10 + 10 == 178_110
    assert net(torch.zeros(5, 1, 28, 28)).shape == (5, 10)


def test_empty_hidden_dims_is_softmax_regression() -> None:
    net = MLP(hidden_dims=[])
    linears = [m for m in net.modules() if isinstance(m, nn.Linear)]
    assert len(linears) == 1 and count(net) == 7850


@pytest.mark.parametrize("activation", ACTIVATIONS)
def test_every_activation_builds_and_runs(activation: str) -> None:
    net = MLP(hidden_dims=[16, 8], activation=activation, dropout_p=0.2, batch_norm=True)
    assert net(torch.randn(4, 1, 28, 28)).shape == (4, 10)
    kinds = [type(m).__name__ for m in net.layers]
    assert kinds == ["Flatten"] + 2 * ["Linear", "BatchNorm1d", kinds[3], "Dropout"] + ["Linear"]


def test_zero_init_zeroes_every_weight_and_bias() -> None:
    net = MLP(init="zeros")
    assert all(torch.count_nonzero(p) == 0 for p in net.parameters())


@pytest.mark.parametrize(
    ("init", "std"),
    [("normal", 0.01), ("xavier", (2 / (784 + 200)) ** 0.5), ("he", (2 / 784) ** 0.5)],
)
def test_random_inits_have_their_standard_deviation(init: str, std: float) -> None:
    torch.manual_seed(0)
    first = MLP(init=init).layers[1]
    assert first.weight.std().item() == pytest.approx(std, rel=0.05)
    assert torch.count_nonzero(first.bias) == 0


def test_cnn_blocks_and_head() -> None:
    net = CNN(channels=[[8, 8], 16], hidden_dims=[32])
    convs = [m for m in net.features if isinstance(m, nn.Conv2d)]
    pools = [m for m in net.features if isinstance(m, nn.MaxPool2d)]
    assert [c.out_channels for c in convs] == [8, 8, 16] and len(pools) == 2
    # Sizing the head must not have touched BatchNorm's running statistics.
    norms = [m for m in net.features if isinstance(m, nn.BatchNorm2d)]
    assert len(norms) == 3 and all(m.num_batches_tracked.item() == 0 for m in norms)
    assert net.head[1].in_features == 16 * 7 * 7
    assert net(torch.zeros(3, 1, 28, 28)).shape == (3, 10)


def test_known_conv_layer_in_the_model_summary() -> None:
    """CS155 set 4 §3B-C: a 5x5 conv, 8 filters, on 32x32x3: 608 parameters, output 28x28x8."""
    model = Classifier(
        net={
            "_target_": "mnist_lab.nets.cnn.CNN",
            "channels": [8],
            "kernel_size": 5,
            "padding": 0,
            "pool": None,
            "batch_norm": False,
            "dropout_p": 0.0,
            "hidden_dims": [],
        },
        optimizer={"name": "adam", "lr": 1e-3},
        input_shape=[3, 32, 32],
    )
    summary = ModelSummary(model, max_depth=-1)
    rows = dict(
        zip(
            summary.layer_names,
            zip(summary.param_nums, summary.out_sizes, strict=True),
            strict=True,
        )
    )
    assert rows["net.features.0"] == (608, [1, 8, 28, 28])
    assert rows["net.head.1"] == (8 * 28 * 28 * 10 + 10, [1, 10])
    # and so the printed table (model_summary.txt), in exact integers
    table = summary_table(model).splitlines()
    (conv,) = [line for line in table if "| net.features.0 " in line]
    assert [cell.strip() for cell in conv.split("|")][2:] == [
        "Conv2d",
        "608",
        "[1, 3, 32, 32]",
        "[1, 8, 28, 28]",
    ]
    total = 608 + 8 * 28 * 28 * 10 + 10
    assert f"{total:,}" == "63,338" and f"{total:<12,}Total params" in table
