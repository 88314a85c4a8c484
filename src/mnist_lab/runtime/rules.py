"""What each app's config accepts, checked before any heavy import or data load.

Every name a config may choose is defined here, once. The code that turns a name into a torch
class or a function (`nets.layers`, `models.optimizers`, `data.datasets`, `data.toy2d`,
`scratch.models`) looks it up without checking it again: the config was checked first, and a
test checks that each of those mappings covers exactly these names.

Each app has its own table of rules (`APPS`, keyed by the name of the config file it composes).
A rule names a key, what it accepts and a predicate; a key the config does not have is skipped,
since which keys exist depends on the model and data chosen.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from omegaconf import DictConfig, ListConfig, OmegaConf
from omegaconf.errors import InterpolationResolutionError

from mnist_lab import LabError

# --- the names a config may choose ---------------------------------------------------------------
ACTIVATIONS = ("relu", "tanh", "sigmoid", "leaky_relu", "elu", "prelu")
INITS = ("default", "zeros", "normal", "xavier", "he")
OPTIMIZERS = ("sgd", "adam", "adamw", "rmsprop")
SCHEDULERS = ("none", "cosine", "onecycle", "step")
ACCELERATORS = ("cpu", "gpu", "cuda", "mps", "tpu", "auto")
# the MNIST-format datasets (IDX files on disk) and their two official splits
DATASETS = ("mnist", "fashion_mnist")
SPLITS = ("train", "test")
DATA_ORDERS = ("shuffled", "by_label", "fixed")
VAL_SPLITS = ("random", "last")
# TensorFlow Playground's datasets, then the Boolean gates on {0, 1}^2 (`data=toy2d`)
TOY_DATASETS = ("xor", "circle", "spiral", "gauss", "gate_and", "gate_or", "gate_xor")
# the NumPy classifiers (conf/scratch/model/)
SCRATCH_MODELS = ("softmax_regression", "two_layer")

# Which of the names above `data.name` may take depends on the data module the config builds.
MNIST_DATA_MODULE = "mnist_lab.data.datamodule.MNISTDataModule"
TOY_DATA_MODULE = "mnist_lab.data.toy2d.Toy2DDataModule"

# Keys that were renamed, old -> new: a command line with an old key is told the new one, which
# difflib alone would not find (`learning_rate` is not close to `lr`).
RENAMED_KEYS = {
    "optimizer.learning_rate": "optimizer.lr",
    "model.hidden_size": "model.hidden_dims",
    "epochs": "max_epochs",
    "toy.learning_rate": "toy.lr",
    "toy.epochs": "toy.max_epochs",
}


class ConfigError(LabError):
    """A config value outside what the lab accepts."""


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def is_text(value: Any) -> bool:
    return isinstance(value, str)


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


def one_positive_int(value: Any) -> bool:
    return positive_int_list(value) and len(value) == 1


def one_of(choices: tuple[str, ...]) -> Callable[[Any], bool]:
    return lambda value: value in choices


def optional(check: Callable[[Any], bool]) -> Callable[[Any], bool]:
    return lambda value: value is None or check(value)


@dataclass(frozen=True)
class Rule:
    """`key` must pass `check`; `accepted` says what passes. With `when` = (other key, value),
    the rule holds only in configs where that other key has that value."""

    key: str
    check: Callable[[Any], bool]
    accepted: str
    when: tuple[str, str] | None = None


def _choice(key: str, choices: tuple[str, ...], when: tuple[str, str] | None = None) -> Rule:
    return Rule(key, one_of(choices), "one of " + ", ".join(choices), when)


# The data settings of conf/data/ (MNIST-format and toy 2-D), shared by train and visualize.
_DATA_SETTINGS = (
    Rule("data.n_samples", positive_int, "an integer >= 1"),
    Rule("data.noise", non_negative_number, "a number >= 0"),
    Rule("data.batch_size", positive_int, "an integer >= 1"),
    Rule("data.eval_batch_size", positive_int, "an integer >= 1"),
    Rule("data.val_fraction", open_fraction, "a number strictly between 0 and 1"),
    _choice("data.val_split", VAL_SPLITS),
    _choice("data.order", DATA_ORDERS),
    Rule("data.subset_size", optional(positive_int), "null or an integer >= 1"),
)
_SEED = Rule("seed", _is_int, "an integer")

# conf/train.yaml, and conf/evaluate.yaml (its trainer and seed)
TRAIN_RULES = (
    _choice("data.name", DATASETS, when=("data._target_", MNIST_DATA_MODULE)),
    _choice("data.name", TOY_DATASETS, when=("data._target_", TOY_DATA_MODULE)),
    *_DATA_SETTINGS,
    _choice("model.optimizer.name", OPTIMIZERS),
    Rule("model.optimizer.lr", positive_number, "a number > 0"),
    Rule("model.optimizer.weight_decay", non_negative_number, "a number >= 0"),
    Rule("model.optimizer.momentum", non_negative_number, "a number >= 0"),
    _choice("model.scheduler.name", SCHEDULERS),
    Rule("model.l1", non_negative_number, "a number >= 0"),
    Rule("model.channels_last", boolean, "true or false"),
    Rule("model.net.hidden_dims", positive_int_list, "a list of integers >= 1 (may be empty)"),
    _choice("model.net.activation", ACTIVATIONS),
    _choice("model.net.init", INITS),
    Rule("model.net.dropout_p", probability, "a number in [0, 1]"),
    Rule("model.net.head_dropout_p", probability, "a number in [0, 1]"),
    Rule("callbacks.trajectory.snapshots_per_epoch", positive_int, "an integer >= 1"),
    Rule("trainer.max_epochs", positive_int, "an integer >= 1"),
    _choice("trainer.accelerator", ACCELERATORS),
    Rule("from_search", optional(is_text), "null or a sweep dir"),
    Rule("from_search_member", optional(is_text), "null (it is set by from_search)"),
    _SEED,
)

# conf/visualize.yaml: example images read from the IDX files
VISUALIZE_RULES = (
    _choice("data.name", DATASETS),
    *_DATA_SETTINGS,
    _choice("split", SPLITS),
    Rule("per_class", positive_int, "an integer >= 1"),
    _SEED,
)

# conf/scratch/scratch.yaml: the NumPy classifiers
SCRATCH_RULES = (
    _choice("data.name", DATASETS),
    Rule("data.batch_size", positive_int, "an integer >= 1"),
    Rule("data.val_fraction", open_fraction, "a number strictly between 0 and 1"),
    Rule("data.subset_size", optional(positive_int), "null or an integer >= 1"),
    _choice("model.name", SCRATCH_MODELS),
    Rule(
        "model.hidden_dims",
        one_positive_int,
        "a list of one integer >= 1 (the two-layer net has one hidden layer), e.g. [128]",
    ),
    Rule("model.init_std", positive_number, "a number > 0"),
    Rule("model.relu_scores", boolean, "true or false"),
    Rule("optimizer.lr", positive_number, "a number > 0"),
    Rule("optimizer.weight_decay", non_negative_number, "a number >= 0"),
    Rule("max_epochs", positive_int, "an integer >= 1"),
    Rule("threads", optional(positive_int), "null or an integer >= 1"),
    _SEED,
)

# conf/scratch/toy.yaml: the toy regression problem
TOY_RULES = (
    Rule("toy.n_train", positive_int, "an integer >= 1"),
    Rule("toy.n_test", positive_int, "an integer >= 1"),
    Rule("toy.batch_size", positive_int, "an integer >= 1"),
    Rule("toy.max_epochs", positive_int, "an integer >= 1"),
    Rule("toy.lr", positive_number, "a number > 0"),
    Rule("toy.weight_decay", non_negative_number, "a number >= 0"),
    Rule("toy.init_std", positive_number, "a number > 0"),
    _SEED,
)

APPS: dict[str, tuple[Rule, ...]] = {
    "train": TRAIN_RULES,
    "evaluate": TRAIN_RULES,
    "visualize": VISUALIZE_RULES,
    "scratch": SCRATCH_RULES,
    "toy": TOY_RULES,
}


def check_config(cfg: DictConfig, app: str = "train") -> None:
    """Raise ConfigError naming the first key whose value `app` does not accept.

    `app` is the name of the config file the app composes (a key of APPS).
    """
    try:
        _check_rules(cfg, app)
    except InterpolationResolutionError as error:
        # A resolver's complaint (e.g. `${lab.first:...}` given a depth beyond its widths).
        reason = str(error).splitlines()[0].split("while resolving interpolation: ", 1)[-1]
        raise ConfigError(f"{error.full_key}: {reason}") from None


def _check_rules(cfg: DictConfig, app: str) -> None:
    check_hidden_unit_budget(cfg)
    for rule in APPS[app]:
        if rule.when is not None and _select(cfg, rule.when[0]) != rule.when[1]:
            continue
        value = _select(cfg, rule.key)
        if value is _MISSING:
            continue
        if isinstance(value, (DictConfig, ListConfig)):
            value = OmegaConf.to_container(value, resolve=True)
        if not rule.check(value):
            raise ConfigError(f"{rule.key}={value!r} is not accepted; expected {rule.accepted}")


_MISSING = object()


def _select(cfg: DictConfig, key: str) -> Any:
    return OmegaConf.select(cfg, key, default=_MISSING, throw_on_missing=False)


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
