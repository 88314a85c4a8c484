"""Li et al.'s directions and the one evaluation of points on a plane or a line (E31)."""

from __future__ import annotations

import copy

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from torch import nn
from torch.nn.utils import parameters_to_vector, vector_to_parameters

from mnist_lab.analysis.loss_plane import (
    Plane,
    filter_normalised_direction,
    plane_metrics,
    random_plane,
)
from mnist_lab.nets.cnn import CNN
from mnist_lab.nets.mlp import MLP


def small_cnn() -> nn.Module:
    """Conv2d, BatchNorm and Linear layers: every kind of parameter the direction treats."""
    torch.manual_seed(0)
    return CNN(input_shape=[1, 8, 8], channels=[4], hidden_dims=[6], batch_norm=True)


def split_like(net: nn.Module, vector: torch.Tensor) -> dict[str, torch.Tensor]:
    """A flat vector cut back into the net's parameters, by name."""
    parts = vector.split([p.numel() for p in net.parameters()])
    return {n: v.view(p.shape) for (n, p), v in zip(net.named_parameters(), parts, strict=True)}


def test_each_filter_of_the_direction_is_as_long_as_the_weights_filter() -> None:
    net = small_cnn()
    direction = split_like(net, filter_normalised_direction(net, torch.Generator().manual_seed(3)))
    layers = {n: m for n, m in net.named_modules() if isinstance(m, nn.Conv2d | nn.Linear)}
    assert any(isinstance(m, nn.Conv2d) for m in layers.values())
    for name, layer in layers.items():
        d = direction[f"{name}.weight"]
        # Conv2d: one filter per output channel [out, in, k, k]; Linear: one per row [out, in].
        expected = layer.weight.detach().flatten(1).norm(dim=1)
        torch.testing.assert_close(d.flatten(1).norm(dim=1), expected, rtol=1e-5, atol=1e-7)
        assert not torch.allclose(d, layer.weight)  # a random direction, not the weights


def test_biases_and_batch_norm_parameters_stay_at_zero() -> None:
    net = small_cnn()
    direction = split_like(net, filter_normalised_direction(net, torch.Generator().manual_seed(3)))
    norms = [n for n, m in net.named_modules() if isinstance(m, nn.BatchNorm2d | nn.BatchNorm1d)]
    assert norms  # the net has BatchNorm, so its scale and shift are checked below
    fixed = [n for n in direction if n.endswith(".bias") or n.rsplit(".", 1)[0] in norms]
    assert len(fixed) >= 2 * len(norms) + 2
    for name in fixed:
        assert torch.count_nonzero(direction[name]) == 0, name
    moving = [n for n in direction if n not in fixed]
    assert all(torch.count_nonzero(direction[n]) == direction[n].numel() for n in moving)


def test_random_directions_are_seeded() -> None:
    net = small_cnn()
    first, again, other = (random_plane(net, 2, seed) for seed in (5, 5, 6))
    assert first.directions.shape == (2, sum(p.numel() for p in net.parameters()))
    assert torch.equal(first.directions, again.directions)
    assert not torch.allclose(first.directions, other.directions)
    assert not torch.allclose(first.directions[0], first.directions[1])  # two directions
    assert torch.equal(first.origin, parameters_to_vector(net.parameters()))
    assert random_plane(net, 1, 5).directions.shape[0] == 1


def own_metrics(net: nn.Module, images: torch.Tensor, labels: torch.Tensor) -> tuple[float, float]:
    with torch.no_grad():
        logits = net.eval()(images)
    accuracy = (logits.argmax(1) == labels).float().mean().item()
    return F.cross_entropy(logits, labels).item(), accuracy


@pytest.mark.parametrize("kind", ["mlp", "cnn"])
def test_the_line_between_two_nets_starts_and_ends_at_their_own_loss(kind: str) -> None:
    torch.manual_seed(0)
    make = {
        "mlp": lambda: MLP(input_shape=[1, 8, 8], hidden_dims=[12, 6]),  # the plane shortcut
        "cnn": lambda: CNN(input_shape=[1, 8, 8], channels=[3], hidden_dims=[8]),
    }[kind]
    first, second = make(), make()
    images, labels = torch.randn(60, 1, 8, 8), torch.randint(0, 10, (60,))
    start, end = (parameters_to_vector(n.parameters()).detach() for n in (first, second))
    line = Plane(start, (end - start)[None])
    alphas = np.array([-0.5, 0.0, 0.5, 1.0, 1.5])
    losses, accuracies = plane_metrics(first, line, alphas[:, None], images, labels, 2)
    for index, net in ((1, first), (3, second)):
        loss, accuracy = own_metrics(net, images, labels)
        assert losses[index] == pytest.approx(loss, rel=1e-5)
        assert accuracies[index] == pytest.approx(accuracy)
    halfway = copy.deepcopy(first)
    vector_to_parameters((start + end) / 2, halfway.parameters())
    assert (losses[2], accuracies[2]) == pytest.approx(own_metrics(halfway, images, labels), 1e-5)
    assert len(set(np.round(losses, 4))) == 5  # the line really changes the loss


def test_the_accuracy_counts_the_points_right() -> None:
    """One point, hand-made logits: a linear layer on one-hot images outputs its own columns."""
    net = nn.Sequential(nn.Flatten(), nn.Linear(3, 2, bias=False))
    with torch.no_grad():
        net[1].weight.copy_(torch.tensor([[1.0, 0.0, 0.0], [0.0, 1.0, 1.0]]))
    images = torch.eye(3).view(3, 1, 1, 3)  # image i lights pixel i: logits are column i
    labels = torch.tensor([0, 0, 1])  # right, wrong (class 1 wins), right
    plane = Plane(parameters_to_vector(net.parameters()).detach(), torch.zeros(1, 6))
    losses, accuracies = plane_metrics(net, plane, np.zeros((1, 1)), images, labels)
    assert accuracies[0] == pytest.approx(2 / 3)
    expected = np.mean([np.log1p(np.exp(-1.0)), np.log1p(np.exp(1.0)), np.log1p(np.exp(-1.0))])
    assert losses[0] == pytest.approx(expected, rel=1e-6)
