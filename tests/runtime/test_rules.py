"""Every config composes; every bad value is refused in one line before anything heavy runs."""

from __future__ import annotations

from pathlib import Path

import pytest

from mnist_lab.runtime import rules
from mnist_lab.runtime.rules import ConfigError, check_config
from tests.helpers import CONF_DIR, compose_config
from tests.helpers.cli import run_cli

MODELS = sorted(p.stem for p in (CONF_DIR / "model").glob("*.yaml"))
DATASETS = sorted(p.stem for p in (CONF_DIR / "data").glob("*.yaml"))
EXPERIMENTS = sorted(p.stem for p in (CONF_DIR / "experiment").glob("*.yaml"))


@pytest.mark.parametrize("data", DATASETS)
@pytest.mark.parametrize("model", MODELS)
def test_every_model_and_dataset_compose_and_pass_checks(tmp_path: Path, model: str, data: str):
    """Every leaf key has a rule too (the other groups: tests/test_hostile_config.py)."""
    cfg = compose_config("train", [f"model={model}", f"data={data}"], tmp_path)
    check_config(cfg)
    assert rules.unruled_keys(cfg, "train") == []
    # data=toy2d holds several problems; data.name picks one (xor by default)
    assert cfg.data.name == {"toy2d": "xor"}.get(data, data)
    assert cfg.model.net._target_.startswith("mnist_lab.nets.")


@pytest.mark.parametrize("experiment", EXPERIMENTS)
def test_every_experiment_composes_and_passes_checks(tmp_path: Path, experiment: str) -> None:
    cfg = compose_config("train", [f"experiment={experiment}"], tmp_path)
    check_config(cfg)
    assert rules.unruled_keys(cfg, "train") == []


def test_every_name_mapping_covers_exactly_the_accepted_names() -> None:
    """The use sites look a checked name up without checking it again, so each mapping must
    hold every name the rules accept and no other."""
    from mnist_lab.data.datasets import DATASET_SPECS, SPLIT_FILES
    from mnist_lab.data.toy2d import GATE_OUTPUTS, PLAYGROUND
    from mnist_lab.models.optimizers import OPTIMIZER_CLASSES
    from mnist_lab.nets.layers import ACTIVATION_CLASSES, WEIGHT_INITS
    from mnist_lab.scratch.models import MODEL_CLASSES

    mappings = {
        "ACTIVATIONS": (rules.ACTIVATIONS, ACTIVATION_CLASSES),
        "INITS": (rules.INITS, WEIGHT_INITS),
        "OPTIMIZERS": (rules.OPTIMIZERS, OPTIMIZER_CLASSES),
        "DATASETS": (rules.DATASETS, DATASET_SPECS),
        "SPLITS": (rules.SPLITS, SPLIT_FILES),
        "TOY_DATASETS": (rules.TOY_DATASETS, {**PLAYGROUND, **GATE_OUTPUTS}),
        "SCRATCH_MODELS": (rules.SCRATCH_MODELS, MODEL_CLASSES),
    }
    for names, (accepted, mapping) in mappings.items():
        assert sorted(mapping) == sorted(accepted), names


@pytest.mark.parametrize(
    ("data", "names"), [("mnist", rules.DATASETS), ("toy2d", rules.TOY_DATASETS)]
)
def test_data_name_accepts_the_names_of_the_data_module_it_builds(
    tmp_path: Path, data: str, names: tuple[str, ...]
) -> None:
    other = rules.TOY_DATASETS[0] if data == "mnist" else rules.DATASETS[0]
    cfg = compose_config("train", [f"data={data}", f"data.name={other}"], tmp_path)
    with pytest.raises(ConfigError) as caught:
        check_config(cfg)
    assert str(caught.value) == (
        f"data.name={other!r} is not accepted; expected one of {', '.join(names)}"
    )


@pytest.mark.parametrize(
    ("override", "message"),
    [
        ("split=val", "split='val' is not accepted; expected one of train, test"),
        ("per_class=0", "per_class=0 is not accepted; expected an integer from 1 to 100"),
        ("data=toy2d", "data.name='xor' is not accepted; expected one of mnist, fashion_mnist"),
    ],
)
def test_visualize_has_its_own_rules(tmp_path: Path, override: str, message: str) -> None:
    check_config(compose_config("visualize", [], tmp_path), "visualize")
    with pytest.raises(ConfigError) as caught:
        check_config(compose_config("visualize", [override], tmp_path), "visualize")
    assert str(caught.value) == message


def test_default_is_cs156_bonus_mlp_on_mnist_on_cpu(tmp_path: Path) -> None:
    cfg = compose_config("train", [], tmp_path)
    assert (cfg.model.net.hidden_dims, cfg.model.net.activation) == ([200, 100], "relu")
    assert (cfg.data.name, cfg.trainer.accelerator) == ("mnist", "cpu")


def test_data_dir_comes_from_the_environment(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("MNIST_LAB_DATA_DIR", "/somewhere/else")
    cfg = compose_config("train", [], tmp_path)
    assert cfg.data.data_dir == "/somewhere/else"


HEAVY_IMPORTS_AFTER = """
import sys, runpy
sys.argv = ["mnist_lab.train", *sys.argv[1:]]
try:
    runpy.run_module("mnist_lab.train", run_name="__main__")
except SystemExit:
    pass
heavy = sorted(m for m in ("torch", "lightning", "torchmetrics") if m in sys.modules)
print("HEAVY:", ",".join(heavy) or "none")
"""


@pytest.mark.parametrize("arguments", [["--help"], ["--cfg", "job"], ["model=cnn", "--cfg", "job"]])
def test_help_and_cfg_never_import_torch_or_lightning(tmp_path: Path, arguments: list[str]) -> None:
    result = run_cli("", *arguments, log_dir=tmp_path, code=HEAVY_IMPORTS_AFTER)
    assert result.returncode == 0, result.stderr
    assert "HEAVY: none" in result.stdout
    assert "model" in result.stdout


def test_built_model_limits_parameters_and_layer_kinds(tmp_path: Path) -> None:
    from mnist_lab.nets.cnn import CNN
    from mnist_lab.nets.mlp import MLP
    from mnist_lab.runtime.rules import check_built_model

    cnn_cfg = compose_config("train", ["experiment=cnn_under_1m"], tmp_path)
    check_built_model(CNN(**_net_kwargs(cnn_cfg)), cnn_cfg.constraints)
    too_big = CNN(**_net_kwargs(cnn_cfg, hidden_dims=[1024]))
    with pytest.raises(ConfigError, match=r"has 3,\d{3},\d{3} parameters; .*max_params=999,999"):
        check_built_model(too_big, cnn_cfg.constraints)
    without_norm = CNN(**_net_kwargs(cnn_cfg, batch_norm=False))
    with pytest.raises(ConfigError, match="has no BatchNorm2d; this experiment requires"):
        check_built_model(without_norm, cnn_cfg.constraints)

    mlp_cfg = compose_config("train", ["experiment=budget_100"], tmp_path)
    check_built_model(MLP(**_net_kwargs(mlp_cfg)), mlp_cfg.constraints)
    with pytest.raises(ConfigError, match="uses BatchNorm1d; this experiment allows only"):
        check_built_model(MLP(**_net_kwargs(mlp_cfg, batch_norm=True)), mlp_cfg.constraints)


def _net_kwargs(cfg, **changes) -> dict:
    """The experiment's network arguments, with `changes` applied."""
    from omegaconf import OmegaConf

    kwargs = OmegaConf.to_container(cfg.model.net, resolve=True)
    kwargs.pop("_target_")
    return {**kwargs, **changes}


@pytest.mark.parametrize("experiment", EXPERIMENTS)
def test_every_experiment_builds_a_network_within_its_constraints(tmp_path: Path, experiment: str):
    from hydra.utils import instantiate

    from mnist_lab.runtime.rules import check_built_model

    cfg = compose_config("train", [f"experiment={experiment}"], tmp_path)
    net = instantiate(cfg.model.net, input_shape=[1, 28, 28], num_classes=10)
    check_built_model(net, cfg.get("constraints"))


@pytest.mark.parametrize("p", ["0.0", "1.0"])
def test_dropout_sweep_ends_are_allowed(tmp_path: Path, p: str) -> None:
    from hydra.utils import instantiate

    from mnist_lab.runtime.rules import check_built_model

    cfg = compose_config(
        "train", ["experiment=dropout_sweep", f"model.net.dropout_p={p}"], tmp_path
    )
    check_config(cfg)
    net = instantiate(cfg.model.net, input_shape=[1, 28, 28], num_classes=10)
    check_built_model(net, cfg.constraints)
