"""Every config composes; every bad value is refused in one line before anything heavy runs."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from mnist_lab import LabError
from mnist_lab.cli import check_group_choices
from mnist_lab.config import ConfigError, check_config

from .conftest import CONF_DIR, ROOT, compose_config

MODELS = sorted(p.stem for p in (CONF_DIR / "model").glob("*.yaml"))
DATASETS = sorted(p.stem for p in (CONF_DIR / "data").glob("*.yaml"))
EXPERIMENTS = sorted(p.stem for p in (CONF_DIR / "experiment").glob("*.yaml"))


@pytest.mark.parametrize("data", DATASETS)
@pytest.mark.parametrize("model", MODELS)
def test_every_model_and_dataset_compose_and_pass_checks(tmp_path: Path, model: str, data: str):
    cfg = compose_config("train", [f"model={model}", f"data={data}"], tmp_path)
    check_config(cfg)
    assert cfg.data.name == data
    assert cfg.model.net._target_.startswith("mnist_lab.nets.")


@pytest.mark.parametrize("experiment", EXPERIMENTS)
def test_every_experiment_composes_and_passes_checks(tmp_path: Path, experiment: str) -> None:
    cfg = compose_config("train", [f"experiment={experiment}"], tmp_path)
    check_config(cfg)


def test_default_is_seed_000_mlp_on_mnist_on_cpu(tmp_path: Path) -> None:
    cfg = compose_config("train", [], tmp_path)
    assert (cfg.model.net.hidden_dims, cfg.model.net.activation) == ([200, 100], "relu")
    assert (cfg.data.name, cfg.trainer.accelerator) == ("mnist", "cpu")


def test_data_dir_comes_from_the_environment(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("MNIST_LAB_DATA_DIR", "/somewhere/else")
    cfg = compose_config("train", [], tmp_path)
    assert cfg.data.data_dir == "/somewhere/else"


BAD_VALUES = [
    ("model.optimizer.lr=-0.1", "model.optimizer.lr=-0.1 is not accepted; expected a number > 0"),
    ("model.optimizer.lr=0", "model.optimizer.lr=0 is not accepted; expected a number > 0"),
    ("data.batch_size=0", "data.batch_size=0 is not accepted; expected an integer >= 1"),
    ("data.batch_size=-32", "data.batch_size=-32 is not accepted"),
    ("trainer.max_epochs=0", "trainer.max_epochs=0 is not accepted; expected an integer >= 1"),
    ("model.net.hidden_dims=[200,0]", "model.net.hidden_dims=[200, 0] is not accepted"),
    (
        "model.net.activation=swish",
        "model.net.activation='swish' is not accepted; expected one of relu",
    ),
    (
        "model.optimizer.name=lbfgs",
        "model.optimizer.name='lbfgs' is not accepted; expected one of sgd",
    ),
    (
        "model.net.dropout_p=1.5",
        "model.net.dropout_p=1.5 is not accepted; expected a number in [0, 1]",
    ),
    (
        "model.net.init=ones",
        "model.net.init='ones' is not accepted; expected one of default, zeros",
    ),
    ("model.scheduler.name=warmup", "model.scheduler.name='warmup' is not accepted"),
    ("data.val_fraction=0", "data.val_fraction=0 is not accepted"),
    (
        "data.order=random",
        "data.order='random' is not accepted; expected one of shuffled, by_label",
    ),
    ("trainer.accelerator=quantum", "trainer.accelerator='quantum' is not accepted"),
    ("model.optimizer.weight_decay=-1", "model.optimizer.weight_decay=-1 is not accepted"),
    ("model.channels_last=fast", "model.channels_last='fast' is not accepted; expected true or"),
]


@pytest.mark.parametrize(("override", "message"), BAD_VALUES)
def test_bad_values_are_refused_with_key_value_and_accepted(
    tmp_path: Path, override: str, message: str
):
    cfg = compose_config("train", [override], tmp_path)
    with pytest.raises(ConfigError) as caught:
        check_config(cfg)
    assert str(caught.value).startswith(message)


@pytest.mark.parametrize(
    ("argument", "message"),
    [
        (
            "model=resnet",
            "model='resnet' is not a config in conf/model/; choose one of autoencoder, cnn, gan, "
            "linear, mlp",
        ),
        (
            "data=cifar10",
            "data='cifar10' is not a config in conf/data/; choose one of fashion_mnist",
        ),
        ("model=mlp,transformer", "model='transformer' is not a config"),
    ],
)
def test_unknown_group_options_are_refused(argument: str, message: str) -> None:
    with pytest.raises(LabError, match=message):
        check_group_choices([argument])
    check_group_choices(["model=cnn", "data=fashion_mnist", "model.net.dropout_p=0.5"])


def run_cli(
    module: str,
    *arguments: str,
    log_dir: Path,
    data_dir: Path | None = None,
    code: str | None = None,
) -> subprocess.CompletedProcess:
    env = dict(os.environ, MNIST_LAB_LOG_DIR=str(log_dir), MPLBACKEND="Agg")
    if data_dir is not None:
        env["MNIST_LAB_DATA_DIR"] = str(data_dir)
    command = (
        [sys.executable, "-c", code, *arguments]
        if code
        else [sys.executable, "-m", module, *arguments]
    )
    return subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        (["model=resnet"], "error: model='resnet' is not a config in conf/model/"),
        (["model.optimizer.lr=-1"], "error: model.optimizer.lr=-1 is not accepted"),
        (
            ["model.net.hidden_dims=[100,0]"],
            "error: model.net.hidden_dims=[100, 0] is not accepted",
        ),
        (
            ["data.download=false", "paths.data_dir=/does/not/exist"],
            "error: mnist files missing from /does/not/exist/MNIST/raw: train-images-idx3-ubyte",
        ),
        (["trainer.accelerator=gpu"], "error: trainer.accelerator='gpu' cannot be used here"),
        (
            ["data.batch_size=5000"],
            "error: data.batch_size=5000 is larger than the training set (540 samples)",
        ),
    ],
)
def test_train_cli_bad_input_exits_2_with_one_line_and_leaves_no_run(
    tmp_path: Path, tiny_data_dir: Path, arguments: list[str], message: str
) -> None:
    if "accelerator=gpu" in arguments[0]:
        pytest.importorskip("torch")
        import torch

        if torch.cuda.is_available():
            pytest.skip("a GPU is present")
    result = run_cli(
        "mnist_lab.train", *arguments, log_dir=tmp_path / "outputs", data_dir=tiny_data_dir
    )
    assert result.returncode == 2, result.stderr
    errors = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1 and errors[0].startswith(message), result.stderr
    assert "Traceback" not in result.stderr
    leftovers = list((tmp_path / "outputs").rglob("*.ckpt")) + list(
        (tmp_path / "outputs").glob("train/runs/*")
    )
    assert leftovers == []


def test_evaluate_cli_missing_checkpoint(tmp_path: Path) -> None:
    result = run_cli("mnist_lab.evaluate", "ckpt_path=/no/such/run", log_dir=tmp_path)
    assert result.returncode == 2
    assert result.stderr.strip() == (
        "error: ckpt_path='/no/such/run' does not exist; give a run directory "
        "(outputs/train/runs/...) or a .ckpt file"
    )


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


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        (
            ["experiment=budget_100", "model.net.hidden_dims=[60,41]"],
            "model.net.hidden_dims=[60, 41] has 101 hidden units; this experiment allows at most "
            "constraints.max_hidden_units=100",
        ),
        (
            ["experiment=budget_200", "model.net.hidden_dims=[200]"],
            "model.net.hidden_dims=[200] has 1 hidden layers; this experiment needs at least "
            "constraints.min_hidden_layers=2",
        ),
        (
            ["experiment=budget_1000", "model.net.hidden_dims=[500,500]"],
            "model.net.hidden_dims=[500, 500] has 2 hidden layers",
        ),
    ],
)
def test_hidden_unit_budgets_are_enforced(tmp_path: Path, overrides: list[str], message: str):
    cfg = compose_config("train", overrides, tmp_path)
    with pytest.raises(ConfigError) as caught:
        check_config(cfg)
    assert str(caught.value).startswith(message)


def test_built_model_limits_parameters_and_layer_kinds(tmp_path: Path) -> None:
    from mnist_lab.config import check_built_model
    from mnist_lab.nets.cnn import CNN
    from mnist_lab.nets.mlp import MLP

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

    from mnist_lab.config import check_built_model

    cfg = compose_config("train", [f"experiment={experiment}"], tmp_path)
    net = instantiate(cfg.model.net, input_shape=[1, 28, 28], num_classes=10)
    check_built_model(net, cfg.get("constraints"))


@pytest.mark.parametrize("p", ["0.0", "1.0"])
def test_dropout_sweep_ends_are_allowed(tmp_path: Path, p: str) -> None:
    from hydra.utils import instantiate

    from mnist_lab.config import check_built_model

    cfg = compose_config(
        "train", ["experiment=dropout_sweep", f"model.net.dropout_p={p}"], tmp_path
    )
    check_config(cfg)
    net = instantiate(cfg.model.net, input_shape=[1, 28, 28], num_classes=10)
    check_built_model(net, cfg.constraints)
