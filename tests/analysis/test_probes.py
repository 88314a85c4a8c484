"""Probes on hand-made networks where the right answer is known."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

from mnist_lab.analysis.probes import dead_relu_units, frechet_distance, gaussian_statistics
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


def test_the_frechet_distance_of_a_set_to_itself_is_zero() -> None:
    features = np.random.default_rng(0).normal(size=(2000, 16)) @ np.diag(np.arange(1, 17))
    statistics = gaussian_statistics(features)
    assert frechet_distance(*statistics, *statistics) == pytest.approx(0.0, abs=1e-6)


def test_the_frechet_distance_of_two_gaussians_is_the_closed_form() -> None:
    """|m1 - m2|^2 + tr(S1 + S2 - 2 (S1 S2)^(1/2)); for S2 = c^2 S1 the root is c S1, so the
    trace term is (1 - c)^2 tr(S1), with S1 a full (non-diagonal) covariance."""
    rotation = np.linalg.qr(np.random.default_rng(1).normal(size=(3, 3)))[0]
    cov = rotation @ np.diag([4.0, 1.0, 0.25]) @ rotation.T
    mean_a, mean_b = np.array([0.0, 0.0, 0.0]), np.array([3.0, 4.0, 0.0])
    expected = 25.0 + (1 - 3) ** 2 * np.trace(cov)  # c = 3
    assert frechet_distance(mean_a, cov, mean_b, 9 * cov) == pytest.approx(expected)
    # diagonal covariances: the trace term is the sum of (sigma_a - sigma_b)^2
    distance = frechet_distance(mean_a, np.diag([4.0, 9, 1]), mean_a, np.diag([1.0, 1, 1]))
    assert distance == pytest.approx((2 - 1) ** 2 + (3 - 1) ** 2 + 0)


def test_sampled_frechet_distance_approaches_the_closed_form_and_grows_with_a_shift() -> None:
    rng = np.random.default_rng(2)
    reference = gaussian_statistics(rng.normal(size=(20000, 4)))
    distances = [
        frechet_distance(*gaussian_statistics(rng.normal(size=(20000, 4)) + shift), *reference)
        for shift in (0.0, 0.5, 1.0, 2.0)
    ]
    assert distances == sorted(distances) and distances[0] < 0.01
    # a shift of s in each of 4 dimensions: 4 s^2
    assert distances[1:] == pytest.approx([1.0, 4.0, 16.0], rel=0.05)


def test_a_feature_that_never_fires_leaves_the_distance_finite() -> None:
    features = np.random.default_rng(3).normal(size=(500, 4))
    features[:, 2] = 0.0  # a dead ReLU unit of the judge: a singular covariance
    statistics = gaussian_statistics(features)
    shifted = gaussian_statistics(features + np.array([1.0, 0.0, 0.0, 0.0]))
    assert frechet_distance(*statistics, *shifted) == pytest.approx(1.0, abs=1e-3)
