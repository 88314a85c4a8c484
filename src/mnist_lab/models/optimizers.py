"""Optimizers by config name, shared by every training recipe."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import torch

# One entry per name in runtime.rules.OPTIMIZERS; a checked config names no other.
OPTIMIZER_CLASSES: dict[str, type[torch.optim.Optimizer]] = {
    "sgd": torch.optim.SGD,
    "adam": torch.optim.Adam,
    "adamw": torch.optim.AdamW,
    "rmsprop": torch.optim.RMSprop,
}


def make_optimizer(params: Iterable[Any], settings: Mapping[str, Any]) -> torch.optim.Optimizer:
    """The optimizer `settings["name"]`, given the other settings as keyword arguments.

    `momentum` is passed only to the optimizers that take it, so one config serves all four.
    """
    settings = dict(settings)
    name = settings.pop("name")
    momentum = settings.pop("momentum", None)
    if momentum is not None and name in ("sgd", "rmsprop"):
        settings["momentum"] = momentum
    if "betas" in settings:  # a yaml list; torch wants a tuple
        settings["betas"] = tuple(settings["betas"])
    return OPTIMIZER_CLASSES[name](params, **settings)
