"""Probes on hand-made networks where the right answer is known."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from mnist_lab.analysis.probes import dead_relu_units
from mnist_lab.nets.cnn import CNN
from mnist_lab.nets.mlp import MLP


def test_dead_units_of_a_hand_made_mlp() -> None:
    net = MLP(input_shape=[1, 2, 2], hidden_dims=[4, 2], init="zeros")
    first, second = net.layers[1], net.layers[3]
    with torch.no_grad():
        # Layer 1: units 0 and 1 get bias -1 (always off), units 2 and 3 bias +1 (always on).
        first.bias.copy_(torch.tensor([-1.0, -1.0, 1.0, 1.0]))
        # Layer 2: unit 0 reads the live units (on), unit 1 has a negative bias (dead).
        second.weight.copy_(torch.tensor([[0.0, 0.0, 1.0, 1.0], [0.0, 0.0, 0.0, 0.0]]))
        second.bias.copy_(torch.tensor([0.0, -0.5]))
    fractions = dead_relu_units(net, torch.randn(64, 1, 2, 2))
    assert fractions == {"layers.2": 0.5, "layers.4": 0.5, "all": pytest.approx(3 / 6)}


def test_a_unit_alive_for_one_input_is_not_dead() -> None:
    net = nn.Sequential(nn.Flatten(), nn.Linear(1, 1), nn.ReLU())
    with torch.no_grad():
        net[1].weight.fill_(1.0)
        net[1].bias.fill_(0.0)
    inputs = torch.tensor([[-3.0], [-2.0], [0.5]])
    assert dead_relu_units(net, inputs)["all"] == 0.0
    assert dead_relu_units(net, inputs[:2])["all"] == 1.0


def test_conv_units_are_channels_and_mode_is_restored() -> None:
    net = CNN(
        input_shape=[1, 8, 8],
        channels=[2],
        batch_norm=False,
        dropout_p=0.0,
        hidden_dims=[],
        pool=None,
    )
    conv = net.features[0]
    with torch.no_grad():
        conv.weight.zero_()
        conv.bias.copy_(torch.tensor([-1.0, 2.0]))  # channel 0 dead everywhere, channel 1 alive
    net.train()
    fractions = dead_relu_units(net, torch.randn(5, 1, 8, 8))
    assert fractions == {"features.1": 0.5, "all": 0.5}
    assert net.training
