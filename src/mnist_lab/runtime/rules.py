"""What each app's config accepts, checked before any heavy import or data load.

Every name a config may choose is defined here, once. The code that turns a name into a torch
class or a function (`nets.layers`, `models.optimizers`, `data.datasets`, `data.toy2d`,
`scratch.models`) looks it up without checking it again: the config was checked first, and a
test checks that each of those mappings covers exactly these names.

Each app has its own table of rules (`APPS`, keyed by the name of the config file it composes):
a rule for every leaf key its configs can hold (a test composes every config of every app and
fails on a key without one), so that every value a user can set has a type and a range. A key
of the table that the config does not have is skipped, since which keys exist depends on the
model and data chosen; a key the user added (`+key=value`) and no rule names is the user's own.
Checks that involve several keys at once (`CROSS_CHECKS`) run after the single values passed.
"""

from __future__ import annotations

import math
import os
import re
from collections.abc import Callable
from dataclasses import dataclass
from fnmatch import fnmatchcase
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
# Lightning 2's precision names (an int is read as its string), and the lab's auto
# (runtime/precision.py: chosen per machine)
PRECISIONS = (
    "64", "32", "16", "bf16", "64-true", "32-true", "16-true", "bf16-true", "16-mixed",
    "bf16-mixed", "transformer-engine", "transformer-engine-float16", "auto",
)  # fmt: skip
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
CNN_NET = "mnist_lab.nets.cnn.CNN"
DCGAN_NET = "mnist_lab.nets.gan.DCGAN"
# MNIST and Fashion-MNIST images, as the data module hands them to a net (channels, height, width)
IMAGE_SHAPE = (1, 28, 28)

# The settings each learning-rate schedule takes besides its name (`+model.scheduler.gamma=0.5`),
# and those it cannot do without; torch's own defaults fill the rest.
SCHEDULER_SETTINGS: dict[str, tuple[str, ...]] = {
    "none": (),  # takes none and ignores any
    "cosine": ("eta_min",),
    "onecycle": ("pct_start", "div_factor", "final_div_factor", "anneal_strategy"),
    "step": ("step_size", "gamma"),
}
SCHEDULER_REQUIRED: dict[str, tuple[str, ...]] = {"step": ("step_size",)}

# Keys that were renamed, old -> new: a command line with an old key is told the new one, which
# difflib alone would not find (`learning_rate` is not close to `lr`).
RENAMED_KEYS = {
    "optimizer.learning_rate": "optimizer.lr",
    "model.hidden_size": "model.hidden_dims",
    "epochs": "max_epochs",
    "toy.learning_rate": "toy.lr",
    "toy.epochs": "toy.max_epochs",
}

# NumPy's and Lightning's seeds are unsigned 32-bit integers.
MAX_SEED = 2**32 - 1
# Training keeps about four numbers per parameter: the weight, its gradient and Adam's two
# moments (or SGD's best-epoch copy and update in the NumPy half).
COPIES_PER_PARAMETER = 4


class ConfigError(LabError):
    """A config value outside what the lab accepts."""


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


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


def int_between(low: int, high: int) -> Callable[[Any], bool]:
    return lambda value: _is_int(value) and low <= value <= high


def one_of(choices: tuple[Any, ...]) -> Callable[[Any], bool]:
    return lambda value: not isinstance(value, (list, dict)) and value in choices


def optional(check: Callable[[Any], bool]) -> Callable[[Any], bool]:
    return lambda value: value is None or check(value)


def import_path(value: Any) -> bool:
    """A dotted Python name (`_target_`): a class or function Hydra imports."""
    return (
        isinstance(value, str) and re.fullmatch(r"[A-Za-z_]\w*(\.[A-Za-z_]\w*)+", value) is not None
    )


def conv_blocks(value: Any) -> bool:
    """CNN `channels`: blocks, each an int (one convolution) or a non-empty list of ints."""
    return isinstance(value, (list, tuple)) and all(
        positive_int(block) or (positive_int_list(block) and len(block) > 0) for block in value
    )


def adam_betas(value: Any) -> bool:
    return (
        isinstance(value, (list, tuple))
        and len(value) == 2
        and all(_is_number(b) and 0 <= b < 1 for b in value)
    )


def tag_patterns(value: Any) -> bool:
    """A Custom Scalars chart's tags: a non-empty list of regular expressions."""
    if not isinstance(value, (list, tuple)) or not value:
        return False
    try:
        return all(isinstance(v, str) and re.compile(v) is not None for v in value)
    except re.error:
        return False


def devices(value: Any) -> bool:
    """Lightning's `devices`: a count >= 1, -1 or "auto" for all, or a list of device ids."""
    if isinstance(value, (list, tuple)):
        return len(value) > 0 and all(_is_int(v) and v >= 0 for v in value)
    return (_is_int(value) and (value >= 1 or value == -1)) or value == "auto"


@dataclass(frozen=True)
class Rule:
    """`key` must pass `check`; `accepted` says what passes. `key` is dotted, and a `*` part
    stands for any one part (`callbacks.*.output_dir`). With `when` = (other key, value), the
    rule holds only in configs where that other key has that value."""

    key: str
    check: Callable[[Any], bool]
    accepted: str
    when: tuple[str, str] | None = None

    def matches(self, key: str) -> bool:
        parts = self.key.split(".")
        given = key.split(".")
        return len(parts) == len(given) and all(map(fnmatchcase, given, parts))


def _choice(key: str, choices: tuple[str, ...], when: tuple[str, str] | None = None) -> Rule:
    return Rule(key, one_of(choices), "one of " + ", ".join(choices), when)


def _int(key: str, low: int = 1, high: int | None = None, nullable: bool = False) -> Rule:
    """An integer >= `low` (and <= `high`, where a larger value would run away)."""
    check = int_between(low, high) if high is not None else lambda v: _is_int(v) and v >= low
    accepted = f"an integer from {low} to {high:,}" if high is not None else f"an integer >= {low}"
    if nullable:
        return Rule(key, optional(check), f"null or {accepted}")
    return Rule(key, check, accepted)


def _flag(key: str) -> Rule:
    return Rule(key, boolean, "true or false")


def _text(key: str, what: str = "a string", nullable: bool = False) -> Rule:
    return Rule(
        key, optional(is_text) if nullable else is_text, f"null or {what}" if nullable else what
    )


def _seed(key: str) -> Rule:
    return Rule(key, int_between(0, MAX_SEED), f"an integer from 0 to {MAX_SEED}")


# What every app composes: conf/paths/ and the task's name.
_COMMON = (
    _text("paths.*", "a path"),
    _text("task_name"),
    _seed("seed"),
)

# The data settings of conf/data/ (MNIST-format and toy 2-D), shared by train and visualize.
_DATA_SETTINGS = (
    Rule(
        "data._target_", one_of((MNIST_DATA_MODULE, TOY_DATA_MODULE)), "a data module of conf/data/"
    ),
    _text("data.data_dir", "a path"),
    _flag("data.download"),
    _flag("data.normalize"),
    _seed("data.seed"),
    _seed("data.split_seed"),
    _seed("data.data_seed"),
    # a toy problem's points are generated in memory: past a million, a run only waits longer
    _int("data.n_samples", 1, 1_000_000),
    Rule("data.noise", non_negative_number, "a number >= 0"),
    _int("data.batch_size"),
    _int("data.eval_batch_size"),
    Rule("data.val_fraction", open_fraction, "a number strictly between 0 and 1"),
    _choice("data.val_split", VAL_SPLITS),
    _choice("data.order", DATA_ORDERS),
    _int("data.subset_size", nullable=True),
)

_NET_SETTINGS = (
    Rule("model.net._target_", import_path, "a network class of mnist_lab.nets"),
    Rule("model.net.hidden_dims", positive_int_list, "a list of integers >= 1 (may be empty)"),
    _choice("model.net.activation", ACTIVATIONS),
    _choice("model.net.init", INITS),
    Rule("model.net.init_std", non_negative_number, "a number >= 0"),
    Rule("model.net.dropout_p", probability, "a number in [0, 1]"),
    Rule("model.net.head_dropout_p", probability, "a number in [0, 1]"),
    _flag("model.net.batch_norm"),
    Rule(
        "model.net.channels",
        conv_blocks,
        "a list of blocks, each an integer >= 1 or a list of them, e.g. [32, [64, 64]]",
        when=("model.net._target_", CNN_NET),
    ),
    Rule(
        "model.net.channels",
        positive_int,
        "an integer >= 1",
        when=("model.net._target_", DCGAN_NET),
    ),
    _int("model.net.kernel_size"),
    _int("model.net.padding", 0),
    _int("model.net.pool", nullable=True),
    _int("model.net.code_size"),
    _flag("model.net.code_activation"),
    _int("model.net.latent_dim"),
    Rule("model.net.generator_dims", positive_int_list, "a list of integers >= 1 (may be empty)"),
    Rule(
        "model.net.discriminator_dims", positive_int_list, "a list of integers >= 1 (may be empty)"
    ),
)

_RECIPE_SETTINGS = (
    Rule("model._target_", import_path, "a recipe class of mnist_lab.models"),
    _choice("model.optimizer.name", OPTIMIZERS),
    Rule("model.optimizer.lr", positive_number, "a number > 0"),
    Rule("model.optimizer.weight_decay", non_negative_number, "a number >= 0"),
    Rule("model.optimizer.momentum", non_negative_number, "a number >= 0"),
    Rule("model.optimizer.betas", adam_betas, "two numbers in [0, 1), e.g. [0.9, 0.999]"),
    _choice("model.scheduler.name", SCHEDULERS),
    _int("model.scheduler.step_size"),
    Rule("model.scheduler.gamma", positive_number, "a number > 0"),
    Rule("model.scheduler.eta_min", non_negative_number, "a number >= 0"),
    Rule("model.scheduler.pct_start", open_fraction, "a number strictly between 0 and 1"),
    Rule("model.scheduler.div_factor", positive_number, "a number > 0"),
    Rule("model.scheduler.final_div_factor", positive_number, "a number > 0"),
    _choice("model.scheduler.anneal_strategy", ("cos", "linear")),
    Rule("model.l1", non_negative_number, "a number >= 0"),
    _flag("model.channels_last"),
    # the GAN's fixed noise: one sample grid per epoch
    _int("model.num_fixed_samples", 1, 1024),
)

_TRAINER_SETTINGS = (
    Rule("trainer._target_", import_path, "a Trainer class"),
    _text("trainer.default_root_dir", "a path"),
    _choice("trainer.accelerator", ACCELERATORS),
    Rule(
        "trainer.devices", devices, 'an integer >= 1, -1 or "auto" (all), or a list of device ids'
    ),
    _int("trainer.num_nodes"),
    _text("trainer.strategy", "a Lightning strategy name (e.g. ddp, auto)"),
    _int("trainer.max_epochs"),
    _int("trainer.max_steps", -1),
    _int("trainer.check_val_every_n_epoch", nullable=True),
    _int("trainer.log_every_n_steps"),
    _int("trainer.num_sanity_val_steps", -1),
    _int("trainer.accumulate_grad_batches"),
    Rule("trainer.gradient_clip_val", optional(non_negative_number), "null or a number >= 0"),
    Rule("trainer.deterministic", one_of((True, False, "warn")), "true, false or warn"),
    Rule(
        "trainer.fast_dev_run",
        lambda v: boolean(v) or positive_int(v),
        "true, false or an integer >= 1",
    ),
    Rule(
        "trainer.precision",
        lambda v: str(v) in PRECISIONS and not isinstance(v, bool),
        "one of " + ", ".join(PRECISIONS),
    ),
    _flag("trainer.enable_progress_bar"),
    _flag("trainer.enable_checkpointing"),
    Rule("trainer.plugins", lambda v: isinstance(v, list), "a list of plugin configs"),
    *(
        Rule(
            f"trainer.limit_{split}_batches",
            lambda v: positive_int(v) or probability(v),
            "a fraction in [0, 1] or an integer >= 1",
        )
        for split in ("train", "val", "test")
    ),
)

_LOGGER_SETTINGS = (
    Rule("logger.*._target_", import_path, "a Lightning logger class"),
    _text("logger.*.save_dir", "a path"),
    _text("logger.*.name"),
    Rule(
        "logger.*.version",
        lambda v: v is None or is_text(v) or _is_int(v),
        "null (named for the run's overrides), a string or an integer",
    ),
    _flag("logger.*.default_hp_metric"),
)

# conf/callbacks/: the bounds keep a figure or a probe from running away
_CALLBACK_SETTINGS = (
    Rule("callbacks.*._target_", import_path, "a Lightning callback class"),
    _text("callbacks.*.output_dir", "a path"),
    _text("callbacks.*.run_dir", "a path"),
    _text("callbacks.*.cache_dir", "a path"),
    _int("callbacks.code_embedding.num_points", 1, 10_000),
    _int("callbacks.code_embedding.manifold_size", 0, 100),
    _int("callbacks.generated_samples.interpolation_rows", 0, 100),
    _int("callbacks.generated_samples.interpolation_steps", 2, 100),
    _int("callbacks.dead_units.probe_size", 1, 60_000),
    _int("callbacks.decision_boundary.images", 1, 1_000),
    _int("callbacks.progress_bar.refresh_rate", 1, 100),
    _int("callbacks.error_analysis.pairs", 1, 100),
    _int("callbacks.error_analysis.per_class", 1, 100),
    _int("callbacks.error_analysis.per_pair", 1, 100),
    _int("callbacks.last_batch_losses.count", 1, 10_000),
    _text("callbacks.mode_collapse.classifier_path", "a path", nullable=True),
    # a covariance (the feature distance) needs two samples or more
    _int("callbacks.mode_collapse.num_samples", 2, 100_000),
    _int("callbacks.mode_collapse.final_samples", 2, 100_000),
    _int("callbacks.mode_collapse.reference_size", 2, 100_000),
    _int("callbacks.mode_collapse.train_epochs", 1, 100),
    _flag("callbacks.model_checkpoint.auto_insert_metric_name"),
    _choice("callbacks.model_checkpoint.mode", ("min", "max")),
    _text("callbacks.model_checkpoint.monitor", "a metric name", nullable=True),
    _flag("callbacks.model_checkpoint.save_last"),
    _int("callbacks.model_checkpoint.save_top_k", -1),
    _int("callbacks.reconstructions.grid_size", 1, 256),
    _int("callbacks.reconstructions.pairs", 1, 100),
    _int("callbacks.trajectory.snapshots_per_epoch", 1, 1_000),
    _int("callbacks.step_log_interval.points_per_epoch", 1, 1_000),
    Rule(
        "callbacks.learning_rate.logging_interval",
        one_of(("step", "epoch", None)),
        "step, epoch or null",
    ),
)

# train.yaml's own keys, the experiments' constraints and the hyper-parameter searches' space
_RUN_SETTINGS = (
    Rule("ckpt_path", optional(is_text), "null, last, a run directory or a .ckpt file"),
    _flag("train"),
    _flag("test"),
    _int("threads", nullable=True),
    _text("monitor", "a metric name", nullable=True),
    _choice("monitor_mode", ("min", "max")),
    _text("main_metric", "a metric name", nullable=True),
    _text("optimized_metric", "a metric name", nullable=True),
    Rule(
        "custom_scalars.*", tag_patterns, "a non-empty list of tag patterns (regular expressions)"
    ),
    Rule("from_search", optional(is_text), "null or a sweep dir"),
    Rule("from_search_member", optional(is_text), "null (it is set by from_search)"),
    Rule("constraints", lambda v: v is None, "null or the experiment's limits"),
    _int("constraints.max_hidden_units", nullable=True),
    _int("constraints.min_hidden_layers", nullable=True),
    _int("constraints.max_params", nullable=True),
    Rule(
        "constraints.allowed_layers",
        lambda v: isinstance(v, list) and all(map(is_text, v)),
        "a list of layer class names",
    ),
    Rule(
        "constraints.required_layers",
        lambda v: isinstance(v, list) and all(map(is_text, v)),
        "a list of layer class names",
    ),
    Rule("layouts.*", positive_int_list, "a list of integers >= 1"),
    _text("search.layout", "a name of layouts"),
    _int("search.*"),
)

# conf/train.yaml
TRAIN_RULES = (
    _choice("data.name", DATASETS, when=("data._target_", MNIST_DATA_MODULE)),
    _choice("data.name", TOY_DATASETS, when=("data._target_", TOY_DATA_MODULE)),
    *_DATA_SETTINGS,
    *_NET_SETTINGS,
    *_RECIPE_SETTINGS,
    *_TRAINER_SETTINGS,
    *_LOGGER_SETTINGS,
    *_CALLBACK_SETTINGS,
    *_RUN_SETTINGS,
    *_COMMON,
)

# conf/evaluate.yaml: a run to test, where its data is, and the trainer that tests it
EVALUATE_RULES = (
    Rule("ckpt_path", is_text, "a run directory or a .ckpt file"),
    _text("data_dir", "a path"),
    *_TRAINER_SETTINGS,
    *_COMMON,
)

# conf/visualize.yaml: example images read from the IDX files
VISUALIZE_RULES = (
    _choice("data.name", DATASETS),
    *_DATA_SETTINGS,
    _choice("split", SPLITS),
    # one column per example: past 100 the grid is unreadable and takes minutes to draw
    _int("per_class", 1, 100),
    *_COMMON,
)

# conf/scratch/scratch.yaml: the NumPy classifiers
SCRATCH_RULES = (
    _choice("data.name", DATASETS),
    _text("data.data_dir", "a path"),
    _flag("data.download"),
    _int("data.batch_size"),
    Rule("data.val_fraction", open_fraction, "a number strictly between 0 and 1"),
    _int("data.subset_size", nullable=True),
    _choice("model.name", SCRATCH_MODELS),
    Rule(
        "model.hidden_dims",
        one_positive_int,
        "a list of one integer >= 1 (the two-layer net has one hidden layer), e.g. [128]",
    ),
    Rule("model.init_std", positive_number, "a number > 0"),
    _flag("model.relu_scores"),
    Rule("optimizer.lr", positive_number, "a number > 0"),
    Rule("optimizer.weight_decay", non_negative_number, "a number >= 0"),
    _int("max_epochs"),
    _int("threads", nullable=True),
    _flag("progress"),
    *_COMMON,
)

# conf/scratch/toy.yaml: the toy regression problem
TOY_RULES = (
    _int("toy.n_train", 1, 1_000_000),
    _int("toy.n_test", 1, 1_000_000),
    _int("toy.batch_size"),
    _int("toy.max_epochs"),
    Rule("toy.lr", positive_number, "a number > 0"),
    Rule("toy.weight_decay", non_negative_number, "a number >= 0"),
    Rule("toy.init_std", positive_number, "a number > 0"),
    _flag("progress"),
    *_COMMON,
)

APPS: dict[str, tuple[Rule, ...]] = {
    "train": TRAIN_RULES,
    "evaluate": EVALUATE_RULES,
    "visualize": VISUALIZE_RULES,
    "scratch": SCRATCH_RULES,
    "toy": TOY_RULES,
}


def check_config(cfg: DictConfig, app: str = "train") -> None:
    """Raise ConfigError naming the first key whose value `app` does not accept.

    `app` is the name of the config file the app composes (a key of APPS). Every leaf is
    resolved here, so a broken interpolation (`lr=${oops}`) is named too.
    """
    rules = APPS[app]
    for key, value in leaves(cfg):
        rule = rule_for(rules, key, cfg)
        if rule is not None and not rule.check(value):
            raise ConfigError(f"{key}={value!r} is not accepted; expected {rule.accepted}")
    for check in CROSS_CHECKS[app]:
        check(cfg)


def rule_for(rules: tuple[Rule, ...], key: str, cfg: DictConfig) -> Rule | None:
    """The first rule of `rules` for `key` that holds in `cfg` (None: no rule names it)."""
    for rule in rules:
        if rule.matches(key) and (rule.when is None or _select(cfg, rule.when[0]) == rule.when[1]):
            return rule
    return None


def unruled_keys(cfg: DictConfig, app: str) -> list[str]:
    """The leaf keys of `cfg` that no rule of `app` names (the tests keep this empty for every
    config the lab ships)."""
    return [key for key, _ in leaves(cfg) if rule_for(APPS[app], key, cfg) is None]


def leaves(cfg: DictConfig) -> list[tuple[str, Any]]:
    """(dotted key, resolved plain value) of every leaf; a list is one leaf. Values given
    directly come first, then those interpolated from another key, so that a bad value is
    named by the key the user set (`monitor_mode`, not the checkpoint's `mode` that copies it).
    Mandatory values not given yet (`???`) and paths that only a running Hydra app can resolve
    are left out."""
    direct: list[tuple[str, Any]] = []
    copied: list[tuple[str, Any]] = []

    def walk(node: DictConfig, prefix: str) -> None:
        for key in node:
            full = f"{prefix}{key}"
            if OmegaConf.is_missing(node, key):
                continue
            try:
                value = node[key]
            except InterpolationResolutionError as error:
                if "HydraConfig was not set" in str(error):
                    continue
                reason = str(error).splitlines()[0].split("while resolving interpolation: ")[-1]
                raise ConfigError(f"{error.full_key or full}: {reason}") from None
            interpolated = OmegaConf.is_interpolation(node, key)
            if isinstance(value, DictConfig) and not interpolated:
                walk(value, f"{full}.")
                continue
            if isinstance(value, (DictConfig, ListConfig)):
                value = OmegaConf.to_container(value, resolve=True)
            (copied if interpolated else direct).append((full, value))

    walk(cfg, "")
    return direct + copied


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


def check_scheduler_settings(cfg: DictConfig) -> None:
    """A schedule gets the settings it takes, and those it needs (step: step_size)."""
    scheduler = OmegaConf.select(cfg, "model.scheduler", default=None)
    if not isinstance(scheduler, DictConfig) or scheduler.get("name") not in SCHEDULER_SETTINGS:
        return
    name = scheduler.name
    takes = SCHEDULER_SETTINGS[name]
    for key in scheduler:
        # `none` builds no schedule, so settings left over from another are harmless there.
        if key != "name" and key not in takes and name != "none":
            raise ConfigError(
                f"model.scheduler.{key} is not a setting of the {name} schedule; it takes "
                f"{', '.join(takes)}"
            )
    for key in SCHEDULER_REQUIRED.get(name, ()):
        if key not in scheduler:
            raise ConfigError(
                f"model.scheduler.name={name} needs model.scheduler.{key}; add it with "
                f"+model.scheduler.{key}=N"
            )


def check_conv_shapes(cfg: DictConfig) -> None:
    """A CNN's blocks must leave at least one pixel of the 28x28 images: each convolution
    takes kernel_size - 1 - 2 * padding pixels, each pool divides by `pool`."""
    net = OmegaConf.select(cfg, "model.net", default=None)
    if net is None or net.get("_target_") != CNN_NET:
        return
    if OmegaConf.select(cfg, "data._target_", default=None) != MNIST_DATA_MODULE:
        return  # no images: the network built on the data's shape says why (check_network)
    kernel, padding, pool = net.kernel_size, net.padding, net.pool or 1
    size = IMAGE_SHAPE[1]
    for number, block in enumerate(net.channels, 1):
        for _ in [block] if isinstance(block, int) else block:
            size += 2 * padding - kernel + 1
            if size < 1:
                raise ConfigError(
                    f"model.net.kernel_size={kernel} with model.net.padding={padding} shrinks the "
                    f"28x28 images to nothing in block {number} of model.net.channels="
                    f"{OmegaConf.to_container(net.channels)}; use a smaller kernel, more padding "
                    f"or fewer blocks"
                )
        if pool > 1:
            if size // pool < 1:
                fit = _pools_that_fit(IMAGE_SHAPE[1], pool)
                raise ConfigError(
                    f"model.net.channels={OmegaConf.to_container(net.channels)}: "
                    f"{len(net.channels)} blocks, each ending in a {pool}x{pool} pool, shrink "
                    f"28x28 to 0x0; at most {fit} fit (fewer blocks, or model.net.pool=null)"
                )
            size //= pool


def _pools_that_fit(size: int, pool: int) -> int:
    count = 0
    while size // pool >= 1:
        size //= pool
        count += 1
    return count


def check_scratch_memory(cfg: DictConfig) -> None:
    """The NumPy nets' float64 parameters must fit in memory (784 inputs, 10 classes)."""
    pixels, classes = IMAGE_SHAPE[1] * IMAGE_SHAPE[2], 10
    if cfg.model.name == "two_layer":
        hidden = cfg.model.hidden_dims[0]
        parameters = pixels * hidden + hidden + hidden * classes + classes
    else:
        parameters = pixels * classes
    check_memory(parameters, 8, "model.hidden_dims")


def check_memory(parameters: int, bytes_per_number: int, key: str) -> None:
    """Refuse a net whose training state (COPIES_PER_PARAMETER numbers per parameter) would
    not fit in the memory available now; `key` names the setting that sized it."""
    needed = parameters * bytes_per_number * COPIES_PER_PARAMETER
    available = available_memory()
    if available is not None and needed > available:
        raise ConfigError(
            f"{key}: the network has {parameters:,} parameters, {_gigabytes(needed)} to train "
            f"(weights, gradients and optimizer state), but only {_gigabytes(available)} of "
            f"memory is available; use a smaller network"
        )


def available_memory() -> int | None:
    """Bytes of memory available to a new allocation (MemAvailable), None where unknown."""
    try:
        with open("/proc/meminfo") as meminfo:
            for line in meminfo:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    try:
        return os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (ValueError, OSError, AttributeError):
        return None


def _gigabytes(count: int) -> str:
    return f"{count / 1e9:,.1f} GB"


CROSS_CHECKS: dict[str, tuple[Callable[[DictConfig], None], ...]] = {
    "train": (check_hidden_unit_budget, check_scheduler_settings, check_conv_shapes),
    "evaluate": (),
    "visualize": (),
    "scratch": (check_scratch_memory,),
    "toy": (),
}


def check_network(
    net_cfg: DictConfig,
    input_shape: tuple[int, ...],
    num_classes: int,
    constraints: DictConfig | None,
) -> None:
    """Build the network `net_cfg` describes on torch's meta device (no memory, no time) and
    pass a batch of the data's shape through it, before the real one is built or data loads:
    a shape it cannot take, a size that does not fit in memory, or a layer the experiment does
    not allow becomes one line."""
    import torch
    from hydra.errors import InstantiationException
    from hydra.utils import instantiate

    target = net_cfg.get("_target_", "model.net").rsplit(".", 1)[-1]
    where = f"model.net ({target}) on inputs of shape {tuple(input_shape)}"
    try:
        with torch.device("meta"):
            net = instantiate(net_cfg, input_shape=list(input_shape), num_classes=num_classes)
            check_memory(sum(p.numel() for p in net.parameters()), 4, "model.net")
            check_built_model(net, constraints)
            batch = torch.zeros(2, *input_shape)
            if hasattr(net, "generator"):  # the GAN pair: noise -> image -> logit
                net.discriminator(net.generator(torch.zeros(2, net.latent_dim)))
                net.discriminator(batch)
            else:
                net(batch)
    except InstantiationException as error:
        cause = error.__cause__ or error
        if isinstance(cause, LabError):
            raise ConfigError(f"{where}: {cause}") from None
        raise ConfigError(f"{where} cannot be built: {_first_line(cause)}") from None
    except (RuntimeError, ValueError) as error:
        raise ConfigError(f"{where} does not work: {_first_line(error)}") from None


def _first_line(error: BaseException) -> str:
    return str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__


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
