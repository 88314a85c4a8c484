"""Hostile config values and inputs (issue 15, classes 1, 2, 7, 8 and 9): every leaf key of
every composed config has a rule; shapes, sizes, data files and the NumPy half's divergence
each get one line.

Unit tests call the checks directly; a handful of rows then go through the real command line
together (each a process of its own): exit status 2, one `error:` line, no traceback, no run.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from omegaconf import OmegaConf

from mnist_lab import LabError
from mnist_lab.runtime import rules
from mnist_lab.runtime.cli import check_flags, check_overrides
from mnist_lab.runtime.rules import ConfigError, check_config
from tests.helpers import CONF_DIR, ROOT, compose_config

SCRATCH_DIR = CONF_DIR / "scratch"


def _stems(folder: Path) -> list[str]:
    return sorted(p.stem for p in folder.glob("*.yaml"))


def _compositions() -> list[tuple[str, Path, list[str]]]:
    """(app, config folder, overrides): every option of every group each app composes."""
    train: list[list[str]] = [
        [f"model={m}", f"data={d}"]
        for m in _stems(CONF_DIR / "model")
        for d in _stems(CONF_DIR / "data")
    ]
    for group in ("experiment", "hparams_search", "trainer", "logger", "callbacks", "debug"):
        train += [[f"{group}={option}"] for option in _stems(CONF_DIR / group)]
    # the regularisers are arms of one experiment, chosen within it
    train += [
        ["experiment=cnn_regularisers", f"regularisers={arm}"]
        for arm in _stems(CONF_DIR / "regularisers")
    ]
    return [
        *(("train", CONF_DIR, overrides) for overrides in train),
        ("evaluate", CONF_DIR, ["ckpt_path=outputs/train/runs/x"]),
        *(("visualize", CONF_DIR, [f"data={d}"]) for d in ("mnist", "fashion_mnist")),
        *(("scratch", SCRATCH_DIR, [f"model={m}"]) for m in _stems(SCRATCH_DIR / "model")),
        *(
            ("scratch", SCRATCH_DIR, [f"experiment={e}"])
            for e in _stems(SCRATCH_DIR / "experiment")
        ),
        ("toy", SCRATCH_DIR, []),
    ]


def _compose(app: str, conf_dir: Path, overrides: list[str], tmp_path: Path):
    from hydra import compose, initialize_config_dir

    with initialize_config_dir(str(conf_dir), version_base="1.3"):
        cfg = compose(app, overrides=overrides)
    cfg.paths.output_dir = str(tmp_path)
    return cfg


def test_every_leaf_key_of_every_composed_config_has_a_rule(tmp_path: Path) -> None:
    """What "every value has a type and a range" means: a key added to a yaml without a rule
    in runtime/rules.py fails here, naming it. Every shipped config passes its rules."""
    unruled = set()
    for app, conf_dir, overrides in _compositions():
        cfg = _compose(app, conf_dir, overrides, tmp_path)
        check_config(cfg, app)
        for key, _ in rules.leaves(cfg):
            if rules.rule_for(rules.APPS[app], key, cfg) is None:
                unruled.add(f"{app}: {key}")
    assert sorted(unruled) == []


# (app, overrides, the line after `error: `): classes 1 and 2, each refused before anything runs
CONFIG_CASES = [
    # network shapes that cannot work
    (
        "train",
        ["model=cnn", "model.net.channels=[8,8,8,8,8,8]"],
        "model.net.channels=[8, 8, 8, 8, 8, 8]: 6 blocks, each ending in a 2x2 pool, shrink "
        "28x28 to 0x0; at most 4 fit (fewer blocks, or model.net.pool=null)",
    ),
    (
        "train",
        ["model=cnn", "model.net.pool=3", "model.net.channels=[8,8,8,8]"],
        "model.net.channels=[8, 8, 8, 8]: 4 blocks, each ending in a 3x3 pool, shrink 28x28 to "
        "0x0; at most 3 fit",
    ),
    (
        "train",
        ["model=cnn", "model.net.kernel_size=40"],
        "model.net.kernel_size=40 with model.net.padding=1 shrinks the 28x28 images to nothing "
        "in block 1 of model.net.channels=[32, 64]",
    ),
    (
        "train",
        ["model=cnn", "model.net.kernel_size=9", "model.net.padding=0", "model.net.pool=null",
         "model.net.channels=[8,8,8,8]"],
        "model.net.kernel_size=9 with model.net.padding=0 shrinks the 28x28 images to nothing in "
        "block 4 of model.net.channels=[8, 8, 8, 8]",
    ),  # fmt: skip
    ("train", ["model=cnn", "model.net.kernel_size=0"], "model.net.kernel_size=0 is not accepted; expected an integer >= 1"),
    ("train", ["model=cnn", "model.net.padding=-1"], "model.net.padding=-1 is not accepted; expected an integer >= 0"),
    ("train", ["model=cnn", "model.net.channels=[8,[]]"], "model.net.channels=[8, []] is not accepted; expected a list of blocks"),
    ("train", ["model=conv_gan", "model.net.channels=[8]"], "model.net.channels=[8] is not accepted; expected an integer >= 1"),
    ("train", ["model=autoencoder", "model.net.code_size=-2"], "model.net.code_size=-2 is not accepted; expected an integer >= 1"),
    ("train", ["model=gan", "model.net.latent_dim=0"], "model.net.latent_dim=0 is not accepted; expected an integer >= 1"),
    ("train", ["model.net.init=normal", "model.net.init_std=-1"], "model.net.init_std=-1 is not accepted; expected a number >= 0"),
    # values of the wrong type or out of range
    ("train", ["data.normalize=maybe"], "data.normalize='maybe' is not accepted; expected true or false"),
    ("train", ["model.net.batch_norm=3"], "model.net.batch_norm=3 is not accepted; expected true or false"),
    ("train", ["data.download=1"], "data.download=1 is not accepted; expected true or false"),
    ("train", ["trainer.check_val_every_n_epoch=0"], "trainer.check_val_every_n_epoch=0 is not accepted; expected null or an integer >= 1"),
    ("train", ["+trainer.precision=13"], "trainer.precision=13 is not accepted; expected one of 64, 32, 16, bf16,"),
    ("train", ["+trainer.precision=half"], "trainer.precision='half' is not accepted; expected one of"),
    ("train", ["trainer.devices=0"], "trainer.devices=0 is not accepted; expected an integer >= 1, -1"),
    ("train", ["trainer.deterministic=sometimes"], "trainer.deterministic='sometimes' is not accepted; expected true, false or warn"),
    ("train", ["seed=-5"], "seed=-5 is not accepted; expected an integer from 0 to 4294967295"),
    ("train", ["seed=4294967296"], "seed=4294967296 is not accepted; expected an integer from 0 to 4294967295"),
    ("train", ["data.split_seed=1.5"], "data.split_seed=1.5 is not accepted; expected an integer from 0 to"),
    ("train", ["model.optimizer.lr=inf"], "model.optimizer.lr=inf is not accepted; expected a number > 0"),
    ("train", ["model.optimizer.weight_decay=nan"], "model.optimizer.weight_decay=nan is not accepted; expected a number >= 0"),
    ("train", ["model=gan", "model.optimizer.betas=[0.5,1.5]"], "model.optimizer.betas=[0.5, 1.5] is not accepted; expected two numbers in [0, 1)"),
    ("train", ["callbacks.model_checkpoint.save_top_k=-2"], "callbacks.model_checkpoint.save_top_k=-2 is not accepted; expected an integer >= -1"),
    ("train", ["logger.tensorboard.default_hp_metric=yes"], "logger.tensorboard.default_hp_metric='yes' is not accepted; expected true or false"),
    ("train", ["test=3"], "test=3 is not accepted; expected true or false"),
    ("train", ["monitor_mode=biggest"], "monitor_mode='biggest' is not accepted; expected one of min, max"),
    ("train", ["model.scheduler.name=step"], "model.scheduler.name=step needs model.scheduler.step_size; add it with +model.scheduler.step_size=N"),
    ("train", ["model.scheduler.name=cosine", "+model.scheduler.gamma=0.5"], "model.scheduler.gamma is not a setting of the cosine schedule; it takes eta_min"),
    ("train", ["model.scheduler.name=step", "+model.scheduler.step_size=0"], "model.scheduler.step_size=0 is not accepted; expected an integer >= 1"),
    # interpolation errors
    ("train", ["model.optimizer.lr=${oops}"], "model.optimizer.lr: Interpolation key 'oops' not found"),
    ("train", ["data.batch_size=${model.optimizer}"], "data.batch_size={'name': 'adam', 'lr': 0.001,"),
    # runaway options
    ("train", ["data=toy2d", "data.n_samples=100000000"], "data.n_samples=100000000 is not accepted; expected an integer from 1 to 1,000,000"),
    ("train", ["experiment=autoencoder_2d", "callbacks.code_embedding.num_points=10000000"], "callbacks.code_embedding.num_points=10000000 is not accepted; expected an integer from 1 to 10,000"),
    ("visualize", ["per_class=100000"], "per_class=100000 is not accepted; expected an integer from 1 to 100"),
    ("visualize", ["data.normalize=maybe"], "data.normalize='maybe' is not accepted; expected true or false"),
    ("scratch", ["model.hidden_dims=[100000000000]"], "model.hidden_dims: the network has 79,500,000,000,010 parameters, 2,544,000.0 GB to train"),
    ("scratch", ["progress=sometimes"], "progress='sometimes' is not accepted; expected true or false"),
    ("scratch", ["seed=-1"], "seed=-1 is not accepted; expected an integer from 0 to 4294967295"),
    ("toy", ["toy.n_train=1000000000"], "toy.n_train=1000000000 is not accepted; expected an integer from 1 to 1,000,000"),
    ("toy", ["toy.lr=inf"], "toy.lr=inf is not accepted; expected a number > 0"),
]  # fmt: skip


@pytest.mark.parametrize(
    ("app", "overrides", "message"), CONFIG_CASES, ids=[" ".join(c[1]) for c in CONFIG_CASES]
)
def test_hostile_value_is_refused_in_one_line(app: str, overrides: list[str], message: str) -> None:
    conf_dir = SCRATCH_DIR if app in ("scratch", "toy") else CONF_DIR
    with pytest.raises(ConfigError) as caught:
        check_overrides(overrides, app, conf_dir)
    assert str(caught.value).startswith(message)
    assert "\n" not in str(caught.value)


def test_every_shipped_cnn_shape_passes_and_its_arithmetic_matches_torch(tmp_path: Path) -> None:
    """The shape rule computes what the convolutions and pools do; torch agrees at the edge."""
    torch = pytest.importorskip("torch")
    from mnist_lab.nets.cnn import CNN

    for kernel, padding, blocks in [(3, 1, 4), (5, 0, 3), (7, 0, 4)]:
        overrides = ["model=cnn", f"model.net.kernel_size={kernel}", f"model.net.padding={padding}"]
        overrides.append(f"model.net.channels=[{','.join(['4'] * blocks)}]")
        cfg = compose_config("train", overrides, tmp_path)
        try:
            check_config(cfg)
            refused = False
        except ConfigError:
            refused = True
        try:
            with torch.device("meta"):
                CNN(channels=[4] * blocks, kernel_size=kernel, padding=padding, hidden_dims=[8])
            broken = False
        except (RuntimeError, ValueError):
            broken = True
        assert refused == broken, (kernel, padding, blocks)


def test_empty_sweep_is_refused() -> None:
    with pytest.raises(
        LabError, match=r"^seed=range\(3,3\) sweeps over no values; give at least one$"
    ):
        check_overrides(["-m", "seed=range(3,3)"], "train")


@pytest.mark.parametrize("flag", ["--foo", "-x", "--cfg=nonsense-flag-name"])
def test_unknown_flag_is_refused_in_the_labs_format(flag: str) -> None:
    if flag.startswith("--cfg"):
        check_flags([flag])  # a known flag with its value, for Hydra to judge
        return
    with pytest.raises(LabError, match=f"^{flag} is not an option; the options are --help"):
        check_flags(["model=cnn", flag])
