"""The command line's help: each command lists its own config groups, and only those."""

from __future__ import annotations

from pathlib import Path

import pytest
from hydra import compose, initialize_config_dir

from mnist_lab import LabError
from mnist_lab.runtime.cli import CONF_DIR, check_group_choices, check_overrides
from mnist_lab.runtime.resolvers import help_groups
from tests.helpers.cli import run_cli

TRAIN_GROUPS = [
    "callbacks",
    "data",
    "debug",
    "experiment",
    "hparams_search",
    "logger",
    "model",
    "paths",
    "trainer",
]


def _options(folder: Path) -> str:
    return ", ".join(sorted(p.stem for p in folder.glob("*.yaml")))


@pytest.mark.parametrize(
    ("config_name", "conf_dir", "groups"),
    [
        ("train", CONF_DIR, TRAIN_GROUPS),
        ("evaluate", CONF_DIR, ["paths", "trainer"]),
        ("visualize", CONF_DIR, ["data", "paths"]),
        ("scratch", CONF_DIR / "scratch", ["experiment", "model"]),
        ("toy", CONF_DIR / "scratch", []),
    ],
)
def test_help_lists_the_groups_the_command_composes(
    config_name: str, conf_dir: Path, groups: list[str]
) -> None:
    with initialize_config_dir(str(conf_dir), version_base="1.3"):
        cfg = compose(config_name, return_hydra_config=True)
        listing = help_groups(cfg.hydra.runtime.choices)
    if not groups:
        assert listing == "(none: set the config's keys below)"
        return
    assert listing.splitlines() == [f"{g}: {_options(conf_dir / g)}" for g in groups]


def test_train_help_offers_no_scratch_group(tmp_path: Path) -> None:
    result = run_cli("mnist_lab.train", "--help", log_dir=tmp_path)
    assert result.returncode == 0, result.stderr
    section = result.stdout.split("== Configuration groups ==")[1].split("== Config ==")[0]
    listed = [line.split(":")[0] for line in section.splitlines()[2:] if line.strip()]
    assert listed == TRAIN_GROUPS


@pytest.mark.parametrize(
    ("argument", "instead"),
    [
        ("scratch=toy", "python -m mnist_lab.scratch.toy"),
        ("+scratch=toy", "python -m mnist_lab.scratch.toy"),
        ("scratch=scratch", "python -m mnist_lab.scratch"),
        ("scratch/model=two_layer", "python -m mnist_lab.scratch model=two_layer"),
        ("scratch=foo", "python -m mnist_lab.scratch or python -m mnist_lab.scratch.toy"),
    ],
)
def test_train_points_the_numpy_groups_at_their_command(argument: str, instead: str) -> None:
    with pytest.raises(LabError) as caught:
        check_group_choices([argument], CONF_DIR, "train")
    assert str(caught.value) == (
        f"{argument}: conf/scratch/ holds other commands' configs, not a config group of train; "
        f"run {instead} instead"
    )


@pytest.mark.parametrize(
    ("config_name", "conf_dir", "argument", "message"),
    [
        (
            "evaluate",
            CONF_DIR,
            "model=cnn",
            "model=cnn names no config group of evaluate (its groups: paths, trainer)",
        ),
        (
            "toy",
            CONF_DIR / "scratch",
            "model=two_layer",
            "model=two_layer names no config group of toy (its groups: paths)",
        ),
        (
            "train",
            CONF_DIR,
            "regularisers=l2",
            f"regularisers=l2 names no config group of train (its groups: "
            f"{', '.join(TRAIN_GROUPS)}); add one with +regularisers=l2",
        ),
    ],
)
def test_a_group_the_command_is_not_composed_from(
    config_name: str, conf_dir: Path, argument: str, message: str
) -> None:
    with pytest.raises(LabError) as caught:
        check_group_choices([argument], conf_dir, config_name)
        check_overrides([argument], config_name, conf_dir)
    assert str(caught.value) == message
