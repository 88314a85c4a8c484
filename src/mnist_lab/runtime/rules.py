"""Checks on a composed config, run before any heavy import or data load.

Each rule names a key, what it accepts and a predicate; a key the config does not have is
skipped, so one table serves every entry point and model.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from omegaconf import DictConfig, ListConfig, OmegaConf

from mnist_lab import LabError
from mnist_lab.data.datasets import DATASETS
from mnist_lab.runtime.choices import (
    ACCELERATORS,
    ACTIVATIONS,
    DATA_ORDERS,
    INITS,
    OPTIMIZERS,
    SCHEDULERS,
    TOY_DATASETS,
    VAL_SPLITS,
)


class ConfigError(LabError):
    """A config value outside what the lab accepts."""


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def boolean(value: Any) -> bool:
    return isinstance(value, bool)


def positive_int(value: Any) -> bool:
    return _is_int(value) and value >= 1


def positive_number(value: Any) -> bool:
    return _is_number(value) and value > 0


def non_negative_number(value: Any) -> bool:
    return _is_number(value) and value >= 0


def probability(value: Any) -> bool:
    return _is_number(value) and 0 <= value <= 1


def open_fraction(value: Any) -> bool:
    return _is_number(value) and 0 < value < 1


def positive_int_list(value: Any) -> bool:
    return isinstance(value, (list, tuple)) and all(positive_int(v) for v in value)


def one_of(choices: tuple[str, ...]) -> Callable[[Any], bool]:
    return lambda value: value in choices


def optional(check: Callable[[Any], bool]) -> Callable[[Any], bool]:
    return lambda value: value is None or check(value)


@dataclass(frozen=True)
class Rule:
    key: str
    check: Callable[[Any], bool]
    accepted: str


def _choices(choices: tuple[str, ...] | list[str]) -> str:
    return "one of " + ", ".join(choices)


RULES = (
    # MNIST-format datasets (data=mnist, fashion_mnist) and the toy 2-D problems (data=toy2d)
    Rule(
        "data.name",
        one_of((*DATASETS, *TOY_DATASETS)),
        _choices(sorted(DATASETS) + list(TOY_DATASETS)),
    ),
    Rule("data.n_samples", positive_int, "an integer >= 1"),
    Rule("data.noise", non_negative_number, "a number >= 0"),
    Rule("data.batch_size", positive_int, "an integer >= 1"),
    Rule("data.eval_batch_size", positive_int, "an integer >= 1"),
    Rule("data.val_fraction", open_fraction, "a number strictly between 0 and 1"),
    Rule("data.val_split", one_of(VAL_SPLITS), _choices(VAL_SPLITS)),
    Rule("data.order", one_of(DATA_ORDERS), _choices(DATA_ORDERS)),
    Rule("data.subset_size", optional(positive_int), "null or an integer >= 1"),
    Rule("model.optimizer.name", one_of(OPTIMIZERS), _choices(OPTIMIZERS)),
    Rule("model.optimizer.lr", positive_number, "a number > 0"),
    Rule("model.optimizer.weight_decay", non_negative_number, "a number >= 0"),
    Rule("model.optimizer.momentum", non_negative_number, "a number >= 0"),
    Rule("model.scheduler.name", one_of(SCHEDULERS), _choices(SCHEDULERS)),
    Rule("model.l1", non_negative_number, "a number >= 0"),
    Rule("model.channels_last", boolean, "true or false"),
    Rule("model.net.hidden_dims", positive_int_list, "a list of integers >= 1 (may be empty)"),
    Rule("model.net.activation", one_of(ACTIVATIONS), _choices(ACTIVATIONS)),
    Rule("model.net.init", one_of(INITS), _choices(INITS)),
    Rule("model.net.dropout_p", probability, "a number in [0, 1]"),
    Rule("model.net.head_dropout_p", probability, "a number in [0, 1]"),
    Rule("callbacks.trajectory.snapshots_per_epoch", positive_int, "an integer >= 1"),
    Rule("trainer.max_epochs", positive_int, "an integer >= 1"),
    Rule("trainer.accelerator", one_of(ACCELERATORS), _choices(ACCELERATORS)),
    Rule("seed", _is_int, "an integer"),
    # the from-scratch NumPy classifiers (conf/scratch/)
    Rule("epochs", positive_int, "an integer >= 1"),
    Rule("threads", optional(positive_int), "null or an integer >= 1"),
    Rule("optimizer.learning_rate", positive_number, "a number > 0"),
    Rule("optimizer.weight_decay", non_negative_number, "a number >= 0"),
    Rule("model.hidden_size", positive_int, "an integer >= 1"),
    Rule("model.init_std", positive_number, "a number > 0"),
    Rule("model.relu_scores", boolean, "true or false"),
    # the toy regression problem (conf/scratch/toy.yaml)
    Rule("toy.n_train", positive_int, "an integer >= 1"),
    Rule("toy.n_test", positive_int, "an integer >= 1"),
    Rule("toy.batch_size", positive_int, "an integer >= 1"),
    Rule("toy.epochs", positive_int, "an integer >= 1"),
    Rule("toy.learning_rate", positive_number, "a number > 0"),
    Rule("toy.weight_decay", non_negative_number, "a number >= 0"),
    Rule("toy.init_std", positive_number, "a number > 0"),
)


def check_config(cfg: DictConfig) -> None:
    """Raise ConfigError naming the first key whose value the lab does not accept."""
    check_hidden_unit_budget(cfg)
    for rule in RULES:
        value = OmegaConf.select(cfg, rule.key, default=_MISSING, throw_on_missing=False)
        if value is _MISSING:
            continue
        if isinstance(value, (DictConfig, ListConfig)):
            value = OmegaConf.to_container(value, resolve=True)
        if not rule.check(value):
            raise ConfigError(f"{rule.key}={value!r} is not accepted; expected {rule.accepted}")


_MISSING = object()


def check_hidden_unit_budget(cfg: DictConfig) -> None:
    """The budget experiments' limits on hidden units and layers (`constraints` node)."""
    constraints = cfg.get("constraints")
    hidden = OmegaConf.select(cfg, "model.net.hidden_dims", default=None)
    if not constraints or hidden is None:
        return
    hidden = list(hidden)
    units = sum(v for v in hidden if isinstance(v, int))
    limit = constraints.get("max_hidden_units")
    if limit is not None and units > limit:
        raise ConfigError(
            f"model.net.hidden_dims={hidden} has {units} hidden units; this experiment allows "
            f"at most constraints.max_hidden_units={limit}"
        )
    depth = constraints.get("min_hidden_layers")
    if depth is not None and len(hidden) < depth:
        raise ConfigError(
            f"model.net.hidden_dims={hidden} has {len(hidden)} hidden layers; this experiment "
            f"needs at least constraints.min_hidden_layers={depth}"
        )


def check_built_model(net: Any, constraints: DictConfig | None) -> None:
    """The limits only a built network can show: parameter count and which layers it uses."""
    if not constraints:
        return
    params = sum(p.numel() for p in net.parameters())
    limit = constraints.get("max_params")
    if limit is not None and params > limit:
        raise ConfigError(
            f"the network has {params:,} parameters; this experiment allows at most "
            f"constraints.max_params={limit:,}"
        )
    used = {type(m).__name__ for m in net.modules() if not list(m.children())}
    allowed = constraints.get("allowed_layers")
    if allowed is not None and used - set(allowed):
        raise ConfigError(
            f"the network uses {', '.join(sorted(used - set(allowed)))}; this experiment allows "
            f"only constraints.allowed_layers={list(allowed)}"
        )
    missing = set(constraints.get("required_layers") or []) - used
    if missing:
        raise ConfigError(
            f"the network has no {', '.join(sorted(missing))}; this experiment requires "
            f"constraints.required_layers={list(constraints.required_layers)}"
        )
