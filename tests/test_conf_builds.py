"""Every yaml in conf/model/ and conf/data/ builds its objects and takes a training step; so does
each of E26's regulariser arms, and E9's models are the ones CS156 bonus §6 asks for.

The lists come from the folders, so a new model or dataset yaml is tested without editing here.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
import yaml
from hydra import compose, initialize_config_dir
from hydra.utils import instantiate
from torch import nn

from mnist_lab.runtime.assemble import assemble
from mnist_lab.runtime.rules import check_built_model, check_config
from tests.helpers import CONF_DIR
from tests.helpers.cli import run_cli

MODELS = sorted(p.stem for p in (CONF_DIR / "model").glob("*.yaml"))
DATASETS = sorted(p.stem for p in (CONF_DIR / "data").glob("*.yaml"))
# 2-D points, not images: only dense networks apply (the image models need 28x28 inputs)
POINT_DATASETS = {"toy2d"}


def _one_step(cfg) -> None:
    """Fit one training batch and check that the step changed the network's weights."""
    datamodule, model, trainer = assemble(cfg)
    before = [p.detach().clone() for p in model.parameters()]
    trainer.fit(model, datamodule=datamodule)
    assert trainer.global_step >= 1
    after = list(model.parameters())
    assert any(not torch.equal(b, a) for b, a in zip(before, after, strict=True))


@pytest.mark.parametrize("model", MODELS)
def test_every_model_yaml_builds_and_trains_one_step(train_config, tmp_path: Path, model: str):
    cfg = train_config(f"model={model}", "debug=fast_dev_run", "logger=none")
    if "mode_collapse" in cfg.callbacks:  # the GAN's judge: train it into this test's folder
        cfg.callbacks.mode_collapse.cache_dir = str(tmp_path / "judges")
        cfg.callbacks.mode_collapse.train_epochs = 1
    _one_step(cfg)


@pytest.mark.parametrize("data", DATASETS)
def test_every_data_yaml_builds_and_trains_one_step(train_config, data: str) -> None:
    model = "mlp" if data in POINT_DATASETS else "linear"
    _one_step(train_config(f"data={data}", f"model={model}", "debug=fast_dev_run", "logger=none"))


# E26's arms (conf/regularisers/): whether each has Dropout layers, BatchNorm layers, weight decay
ARMS = {
    "none": (False, False, False),
    "dropout": (True, False, False),
    "l2": (False, False, True),
    "batch_norm": (False, True, False),
    "all": (True, True, True),
}


def _net(cfg) -> torch.nn.Module:
    return instantiate(cfg.model.net, input_shape=[1, 28, 28], num_classes=10)


@pytest.mark.parametrize("arm", ARMS)
def test_each_regulariser_arm_switches_on_exactly_its_regularisers(train_config, arm: str):
    assert sorted(ARMS) == sorted(p.stem for p in (CONF_DIR / "regularisers").glob("*.yaml"))
    cfg = train_config("experiment=cnn_regularisers", f"regularisers={arm}")
    check_config(cfg)
    net = _net(cfg)
    check_built_model(net, cfg.get("constraints"))
    layers = {type(module) for module in net.modules()}
    switched_on = (
        nn.Dropout in layers,
        nn.BatchNorm2d in layers,
        cfg.model.optimizer.weight_decay > 0,
    )
    assert switched_on == ARMS[arm]
    if arm == "all":  # E7's net itself, with L2 added
        e7 = _net(train_config("experiment=cnn_under_1m"))
        assert [type(m) for m in net.modules()] == [type(m) for m in e7.modules()]
    _one_step(
        train_config(
            "experiment=cnn_regularisers",
            f"regularisers={arm}",
            "debug=fast_dev_run",
            "logger=none",
        )
    )


def test_bad_regulariser_arm_is_refused_in_one_line(tmp_path: Path) -> None:
    result = run_cli(
        "mnist_lab.train", "experiment=cnn_regularisers", "regularisers=l1", log_dir=tmp_path
    )
    assert result.returncode == 2
    assert result.stderr.strip() == (
        "error: regularisers='l1' is not a config in conf/regularisers/; choose one of all, "
        "batch_norm, dropout, l2, none"
    )


def test_model_comparison_has_an_unregularised_cnn_smaller_than_the_mlp(train_config) -> None:
    with initialize_config_dir(str(CONF_DIR), version_base="1.3"):
        sweep = compose("train", ["experiment=model_comparison"], return_hydra_config=True)
    assert dict(sweep.hydra.sweeper.params) == {"model": "linear,mlp,cnn,lenet", "seed": "1,2,3"}
    configs = {
        model: train_config("experiment=model_comparison", f"model={model}")
        for model in ("mlp", "cnn", "lenet")
    }
    params = {
        model: sum(p.numel() for p in _net(cfg).parameters()) for model, cfg in configs.items()
    }
    # CS156 bonus §6: a conv net with no regularisation and a fraction of the dense net's parameters
    lenet = configs["lenet"]
    layers = {type(module) for module in _net(lenet).modules()}
    assert nn.Conv2d in layers and not layers & {nn.Dropout, nn.BatchNorm2d}
    assert lenet.model.optimizer.weight_decay == 0 and lenet.model.l1 == 0
    assert params["lenet"] < params["mlp"] / 2 < params["cnn"]


def _choices(search: str) -> list[tuple[str, str]]:
    """(key, value) for every value of every `choice(...)` an Optuna search yaml sweeps."""
    params = yaml.safe_load((CONF_DIR / "hparams_search" / f"{search}.yaml").read_text())
    pairs = []
    for key, spec in params["hydra"]["sweeper"]["params"].items():
        spec = str(spec)
        if spec.startswith("choice("):
            # the sweeper hands a trial its value unquoted, as a command line would
            values = spec[len("choice(") : -1].split(",")
            pairs += [(key, value.strip().strip("'\"")) for value in values]
    return pairs


@pytest.mark.parametrize(
    ("search", "key", "value"),
    [
        pytest.param(search, key, value, id=f"{search}-{key}={value}")
        for search in ("budget_200", "fashion_mlp")
        for key, value in _choices(search)
    ],
)
def test_every_value_a_search_can_choose_composes_into_an_accepted_config(
    search: str, key: str, value: str
) -> None:
    """What Optuna hands a trial is a command-line override: `200` would arrive as an int."""
    with initialize_config_dir(str(CONF_DIR), version_base="1.3"):
        cfg = compose("train", overrides=[f"hparams_search={search}", f"{key}={value}"])
    check_config(cfg)
    if search == "budget_200":
        assert sum(cfg.model.net.hidden_dims) == 200
