"""Measurements taken on a network with a fixed batch of inputs (no training involved)."""

from __future__ import annotations

import torch
from torch import nn


@torch.no_grad()
def dead_relu_units(net: nn.Module, inputs: torch.Tensor) -> dict[str, float]:
    """Fraction of units of each ReLU layer that output zero for every input ("dead" units).

    A unit is one feature of a dense layer or one channel of a convolutional layer (dead when
    zero at every position for every input). Returns `{layer name: fraction}` plus `all`, the
    fraction over every ReLU unit of the network. Runs in eval mode and restores the mode.
    """
    alive: dict[str, torch.Tensor] = {}

    def record(name: str):
        def hook(module: nn.Module, args: tuple, output: torch.Tensor) -> None:
            per_unit = (
                output.transpose(0, 1).reshape(output.shape[1], -1)
                if output.dim() > 2
                else output.T
            )
            alive[name] = (per_unit > 0).any(dim=1)

        return hook

    handles = [
        module.register_forward_hook(record(name))
        for name, module in net.named_modules()
        if isinstance(module, nn.ReLU)
    ]
    was_training = net.training
    net.eval()
    try:
        net(inputs)
    finally:
        net.train(was_training)
        for handle in handles:
            handle.remove()
    fractions = {name: 1.0 - flags.float().mean().item() for name, flags in alive.items()}
    if alive:
        every = torch.cat(list(alive.values()))
        fractions["all"] = 1.0 - every.float().mean().item()
    return fractions
