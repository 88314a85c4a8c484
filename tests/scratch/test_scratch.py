"""The from-scratch NumPy package: every hand-written gradient against torch autograd or finite
differences, the data helpers, the toy problem, and short runs through the CLI."""

from __future__ import annotations

import csv
import json
import warnings
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from hydra import compose, initialize_config_dir
from omegaconf import DictConfig, OmegaConf, open_dict

from mnist_lab.analysis.stats import estimate
from mnist_lab.report import main as report
from mnist_lab.runtime.cli import CONF_DIR, check_overrides
from mnist_lab.runtime.rules import RENAMED_KEYS, SCRATCH_MODELS, ConfigError, check_config
from mnist_lab.runtime.rundir import RunDir, find_runs
from mnist_lab.scratch.data import batches, load_flat, train_val_split
from mnist_lab.scratch.functions import (
    accuracy,
    cross_entropy,
    cross_entropy_gradient,
    relu,
    relu_derivative,
    sigmoid,
    sigmoid_derivative,
    softmax,
)
from mnist_lab.scratch.models import SoftmaxRegression, TwoLayerMLP, build_model
from mnist_lab.scratch.sgd import CURVES, SGD, evaluate, fit
from mnist_lab.scratch.toy import LinearModel, ToyConvNet, logsumexp, toy_targets, train_toy
from tests.helpers.cli import run_cli

TIGHT = {"rtol": 1e-10, "atol": 1e-12}  # float64 throughout: only rounding may differ


def as_torch(array: np.ndarray) -> torch.Tensor:
    return torch.tensor(array, dtype=torch.float64, requires_grad=True)


def autograd(function, *arrays: np.ndarray) -> tuple[float, list[np.ndarray]]:
    """Value and gradients of a scalar torch function of the arrays."""
    tensors = [as_torch(a) for a in arrays]
    value = function(*tensors)
    value.backward()
    return value.item(), [t.grad.numpy() for t in tensors]


def scores_and_labels(n: int = 16, classes: int = 10, scale: float = 3.0, seed: int = 0):
    rng = np.random.default_rng(seed)
    return scale * rng.standard_normal((n, classes)), rng.integers(0, classes, n)


# --- functions -------------------------------------------------------------------------------


def test_relu_and_sigmoid_derivatives_match_autograd() -> None:
    x = np.random.default_rng(1).normal(scale=4, size=(8, 5))
    for function, derivative, reference in (
        (relu, relu_derivative, torch.relu),
        (sigmoid, sigmoid_derivative, torch.sigmoid),
    ):
        tensor = as_torch(x)
        reference(tensor).sum().backward()
        np.testing.assert_allclose(function(x), reference(as_torch(x)).detach().numpy(), **TIGHT)
        np.testing.assert_allclose(derivative(x), tensor.grad.numpy(), **TIGHT)
    assert relu_derivative(np.array([-1.0, 0.0, 2.0])).tolist() == [0.0, 0.0, 1.0]


def test_sigmoid_of_huge_inputs_neither_overflows_nor_loses_its_range() -> None:
    x = np.array([-1000.0, -40.0, 0.0, 40.0, 1000.0])
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # an overflow in exp would raise here
        values = sigmoid(x)
    assert values[0] == 0.0 and values[2] == 0.5 and values[4] == 1.0
    assert 0 < values[1] < 1e-17 and 1 - 1e-15 < values[3] <= 1


def test_softmax_cross_entropy_and_its_gradient_match_torch() -> None:
    scores, labels = scores_and_labels()
    loss, (gradient,) = autograd(lambda s: F.cross_entropy(s, torch.tensor(labels)), scores)
    assert cross_entropy(scores, labels) == pytest.approx(loss, rel=1e-12)
    np.testing.assert_allclose(cross_entropy_gradient(scores, labels), gradient, **TIGHT)
    np.testing.assert_allclose(softmax(scores).sum(axis=1), 1.0, rtol=1e-14)


def test_cross_entropy_is_stable_for_huge_logits() -> None:
    scores = np.array([[1e4, 0.0, -1e4], [5e3, 5e3 + 2.0, 0.0], [-1e4, -1e4, -1e4]])
    labels = np.array([0, 0, 2])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        loss = cross_entropy(scores, labels)
        gradient = cross_entropy_gradient(scores, labels)
    # row 1: ln(1 + e^-1e4 + ...) = 0; row 2: ln(1 + e^2) - 0; row 3: ln 3
    expected = (0.0 + np.log1p(np.exp(2.0)) + np.log(3.0)) / 3
    assert loss == pytest.approx(expected, rel=1e-12)
    reference = F.cross_entropy(torch.tensor(scores), torch.tensor(labels)).item()
    assert loss == pytest.approx(reference, rel=1e-12)
    assert np.isfinite(gradient).all()
    np.testing.assert_allclose(softmax(scores)[0], [1.0, 0.0, 0.0])


def test_accuracy_counts_rows_whose_top_score_is_the_label() -> None:
    scores = np.array([[0.1, 0.9], [0.8, 0.2], [0.3, 0.7], [0.6, 0.4]])
    assert accuracy(scores, np.array([1, 0, 0, 0])) == 0.75


# --- models and the optimizer ----------------------------------------------------------------


def batch(n: int = 12, features: int = 20, classes: int = 10, seed: int = 3):
    rng = np.random.default_rng(seed)
    return rng.random((n, features)), rng.integers(0, classes, n)


@pytest.mark.parametrize("relu_scores", [False, True])
def test_softmax_regression_gradient_matches_autograd(relu_scores: bool) -> None:
    x, labels = batch()
    model = SoftmaxRegression(20, 10, init_std=0.5, seed=0, relu_scores=relu_scores)
    loss, acc = model.loss_and_gradients(x, labels)

    def reference(w: torch.Tensor) -> torch.Tensor:
        scores = torch.tensor(x) @ w
        return F.cross_entropy(torch.relu(scores) if relu_scores else scores, torch.tensor(labels))

    expected, (gradient,) = autograd(reference, model.params["W"])
    assert loss == pytest.approx(expected, rel=1e-12)
    np.testing.assert_allclose(model.gradients["W"], gradient, **TIGHT)
    assert acc == accuracy(model.scores(x), labels)
    assert list(model.params) == ["W"]  # no bias


def two_layer_reference(x: np.ndarray, labels: np.ndarray, weight_decay: float = 0.0):
    """J = CE + weight_decay / 2 * (||W1||^2 + ||W2||^2) of the two-layer net, in torch."""

    def j(w1, b1, w2, b2):
        scores = torch.sigmoid(torch.tensor(x) @ w1 + b1) @ w2 + b2
        penalty = weight_decay / 2 * ((w1**2).sum() + (w2**2).sum())
        return F.cross_entropy(scores, torch.tensor(labels)) + penalty

    return j


def test_two_layer_gradients_match_autograd() -> None:
    x, labels = batch()
    model = TwoLayerMLP(20, hidden_dims=[7], num_classes=10, init_std=0.5, seed=0)
    model.params["b1"] += 0.3  # non-zero biases, so their gradient path is exercised
    model.params["b2"] -= 0.2
    loss, _ = model.loss_and_gradients(x, labels)
    expected, gradients = autograd(two_layer_reference(x, labels), *model.params.values())
    assert loss == pytest.approx(expected, rel=1e-12)
    for name, gradient in zip(model.params, gradients, strict=True):
        np.testing.assert_allclose(model.gradients[name], gradient, **TIGHT, err_msg=name)


def test_l2_gradients_skip_the_biases_and_match_autograd() -> None:
    x, labels = batch()
    model = TwoLayerMLP(20, hidden_dims=[7], num_classes=10, init_std=0.5, seed=0)
    model.params["b1"] += 5.0  # large biases: any L2 on them would show at once
    optimizer = SGD(lr=0.1, weight_decay=0.3)
    model.loss_and_gradients(x, labels)
    gradients = optimizer.regularized_gradients(model)
    _, expected = autograd(two_layer_reference(x, labels, 0.3), *model.params.values())
    for name, gradient in zip(model.params, expected, strict=True):
        np.testing.assert_allclose(gradients[name], gradient, **TIGHT, err_msg=name)
    np.testing.assert_array_equal(gradients["b1"], model.gradients["b1"])
    weights = sum((model.params[n] ** 2).sum() for n in ("W1", "W2"))
    assert optimizer.penalty(model) == pytest.approx(0.15 * weights, rel=1e-14)


def test_regularised_objective_agrees_with_finite_differences() -> None:
    """Independent of torch: central differences of J = CE + L2 on a few entries of each."""
    x, labels = batch(n=6, features=5, classes=3)
    model = TwoLayerMLP(5, hidden_dims=[4], num_classes=3, init_std=0.8, seed=1)
    optimizer = SGD(lr=0.1, weight_decay=0.2)

    def objective() -> float:
        return model.loss_and_gradients(x, labels)[0] + optimizer.penalty(model)

    objective()
    analytic = optimizer.regularized_gradients(model)
    step = 1e-6
    for name, param in model.params.items():
        for index in list(np.ndindex(param.shape))[:4]:
            saved = param[index]
            param[index] = saved + step
            plus = objective()
            param[index] = saved - step
            minus = objective()
            param[index] = saved
            numeric = (plus - minus) / (2 * step)
            assert analytic[name][index] == pytest.approx(numeric, rel=1e-6, abs=1e-9), name


def test_sgd_step_moves_each_parameter_against_its_regularised_gradient() -> None:
    x, labels = batch()
    model = TwoLayerMLP(20, hidden_dims=[7], num_classes=10, init_std=0.5, seed=0)
    optimizer = SGD(lr=0.1, weight_decay=0.01)
    before = {name: p.copy() for name, p in model.params.items()}
    model.loss_and_gradients(x, labels)
    expected = {n: before[n] - 0.1 * g for n, g in optimizer.regularized_gradients(model).items()}
    optimizer.step(model)
    for name, param in model.params.items():
        np.testing.assert_allclose(param, expected[name], **TIGHT)


def test_build_model_takes_the_yaml_keys() -> None:
    model = build_model("two_layer", 4, 3, seed=0, init_std=0.1, hidden_dims=[5])
    assert isinstance(model, TwoLayerMLP) and model.parameter_count() == 4 * 5 + 5 + 5 * 3 + 3
    model = build_model("softmax_regression", 4, 3, seed=0, init_std=0.1, relu_scores=True)
    assert isinstance(model, SoftmaxRegression) and model.parameter_count() == 4 * 3


# --- data ------------------------------------------------------------------------------------


def test_split_takes_the_first_80_percent_for_training_in_order() -> None:
    x, y = np.arange(100).reshape(50, 2), np.arange(50)
    (x_train, y_train), (x_val, y_val) = train_val_split(x, y, 0.2)
    assert y_train.tolist() == list(range(40)) and y_val.tolist() == list(range(40, 50))
    np.testing.assert_array_equal(x_val, x[40:])


def test_batches_cover_every_sample_once_in_a_new_order_each_epoch() -> None:
    x, y = np.arange(103)[:, None], np.arange(103)
    rng = np.random.default_rng(0)
    epochs = [[b[1] for b in batches(x, y, 10, rng)] for _ in range(2)]
    for epoch in epochs:
        assert [len(b) for b in epoch] == [10] * 10 + [3]
        assert sorted(np.concatenate(epoch).tolist()) == list(range(103))
    assert not np.array_equal(np.concatenate(epochs[0]), np.concatenate(epochs[1]))
    in_order = np.concatenate([b[1] for b in batches(x, y, 10)])
    assert in_order.tolist() == list(range(103))
    for xb, yb in batches(x, y, 10, rng):
        np.testing.assert_array_equal(xb[:, 0], yb)  # images stay with their labels


def test_load_flat_scales_pixels_and_flattens(tiny_data_dir: Path) -> None:
    x, y = load_flat("mnist", tiny_data_dir, "train")
    assert x.shape == (600, 784) and y.shape == (600,) and x.dtype == np.float64
    assert x.min() >= 0 and x.max() == 1.0


def test_fit_learns_a_tiny_problem_and_keeps_the_best_epoch(tiny_data_dir: Path) -> None:
    x, y = load_flat("mnist", tiny_data_dir, "train")
    train, val = train_val_split(x, y)
    model = TwoLayerMLP(784, hidden_dims=[32], num_classes=10, init_std=0.01, seed=0)
    history = fit(
        model, SGD(0.5, 1e-4), train, val, max_epochs=8, batch_size=32, seed=0, progress=False
    )
    assert [len(v) for v in history.curves.values()] == [8] * 6
    assert history.curves["train/loss_epoch"][-1] < 0.5 * history.curves["train/loss_epoch"][0]
    best = max(history.curves["val/acc"])
    assert best > 0.9
    assert history.curves["val/acc"][history.best_epoch - 1] == best
    running_best = np.maximum.accumulate(history.curves["val/acc"]).tolist()
    assert history.curves["val/acc_best"] == running_best
    # 480 training images in batches of 32: 15 steps per epoch
    assert history.steps == [15 * epoch for epoch in range(1, 9)]
    model.params = history.best_params
    assert evaluate(model, *val)[1] == best


# --- the toy problem ---------------------------------------------------------------------------


def test_toy_targets_are_apml_ex3s_three_functions() -> None:
    w = np.array([[1.0, 0, 0, 0], [0, 2, 0, 0], [0, 0, 0, 0], [1, 1, 1, 1]])
    x = np.array([[1.0, -2.0, 3.0, 0.5], [0.0, 0.0, 0.0, 0.0]])
    targets = toy_targets(x, w)
    assert list(targets) == ["y1 = sum(Wx)", "y2 = max(x)", "y3 = logsumexp(Wx)"]
    # W x = [1, -4, 0, 2.5] and [0, 0, 0, 0]
    np.testing.assert_allclose(targets["y1 = sum(Wx)"], [-0.5, 0.0])
    np.testing.assert_allclose(targets["y2 = max(x)"], [3.0, 0.0])
    expected = np.log(np.exp([1, -4, 0, 2.5]).sum())
    np.testing.assert_allclose(targets["y3 = logsumexp(Wx)"], [expected, np.log(4)], rtol=1e-14)
    big = np.array([[1000.0, 999.0, -5.0]])
    assert logsumexp(big)[0] == pytest.approx(torch.logsumexp(torch.tensor(big), 1).item())


def test_linear_toy_gradient_matches_autograd() -> None:
    rng = np.random.default_rng(0)
    x, y = rng.standard_normal((9, 4)), rng.standard_normal(9)
    model = LinearModel(0.5, rng)
    loss = model.loss_and_gradients(x, y)
    expected, (gradient,) = autograd(
        lambda w: ((torch.tensor(x) @ w - torch.tensor(y)) ** 2).mean(), model.params["w"]
    )
    assert loss == pytest.approx(expected, rel=1e-12)
    np.testing.assert_allclose(model.gradients["w"], gradient, **TIGHT)


def torch_toy_convnet(x: np.ndarray, y: np.ndarray):
    """The same convnet from torch's layers: conv1d (padding 1), ReLU, max-pool 2, dot with u."""

    def loss(w1, w2, u):
        filters = torch.stack([w1, w2])[:, None, :]  # [2 out channels, 1 in channel, 3]
        conv = F.conv1d(torch.tensor(x)[:, None, :], filters, padding=1)
        features = F.max_pool1d(torch.relu(conv), 2).flatten(1)
        return ((features @ u - torch.tensor(y)) ** 2).mean()

    return loss


def test_toy_convnet_gradients_match_torch_conv_relu_maxpool() -> None:
    rng = np.random.default_rng(5)
    x, y = rng.standard_normal((32, 4)), rng.standard_normal(32)
    model = ToyConvNet(0.7, rng)
    loss = model.loss_and_gradients(x, y)
    expected, gradients = autograd(torch_toy_convnet(x, y), *model.params.values())
    assert loss == pytest.approx(expected, rel=1e-12)
    for name, gradient in zip(model.params, gradients, strict=True):
        np.testing.assert_allclose(model.gradients[name], gradient, **TIGHT, err_msg=name)
    assert all(np.abs(g).sum() > 0 for g in model.gradients.values())


def test_toy_convnet_started_at_zero_gets_no_gradient() -> None:
    """APML ex3, question 1.3: with u = w1 = w2 = 0 every gradient is zero, so SGD never moves."""
    rng = np.random.default_rng(0)
    model = ToyConvNet(0.7, rng)
    model.params = {name: np.zeros_like(p) for name, p in model.params.items()}
    model.loss_and_gradients(rng.standard_normal((16, 4)), rng.standard_normal(16))
    assert all(not g.any() for g in model.gradients.values())


def test_toy_training_reduces_the_loss_and_the_linear_model_fits_the_linear_target() -> None:
    rng = np.random.default_rng(0)
    w = rng.standard_normal((4, 4))
    x_train, x_test = rng.standard_normal((400, 4)), rng.standard_normal((200, 4))
    target = "y1 = sum(Wx)"
    train = (x_train, toy_targets(x_train, w)[target])
    test = (x_test, toy_targets(x_test, w)[target])
    for model in (LinearModel(0.5, rng), ToyConvNet(0.5, rng)):
        curves = train_toy(model, train, test, 10, 16, 0.01, 1e-4, rng)
        assert curves["test"][-1] < 0.2 * curves["train"][0], type(model).__name__
    assert curves["test"][-1] > 1e-3  # the convnet cannot represent a linear function exactly
    linear = LinearModel(0.5, rng)
    train_toy(linear, train, test, 20, 16, 0.05, 0.0, rng)
    np.testing.assert_allclose(linear.params["w"], w.sum(axis=0), rtol=1e-6)


# --- configs and the command line --------------------------------------------------------------


def scratch_config(config_name: str, overrides: list[str], output_dir: Path, data_dir: Path):
    with initialize_config_dir(str(CONF_DIR / "scratch"), version_base="1.3"):
        cfg = compose(config_name, overrides=overrides)
    with open_dict(cfg):
        cfg.paths.output_dir = str(output_dir)
        cfg.paths.data_dir = str(data_dir)
    return cfg


@pytest.mark.parametrize("model", SCRATCH_MODELS)
def test_scratch_configs_compose_and_pass_checks(tmp_path: Path, model: str) -> None:
    cfg: DictConfig = scratch_config("scratch", [f"model={model}"], tmp_path, tmp_path)
    check_config(cfg, "scratch")
    assert cfg.model.name == model and cfg.data.val_fraction == 0.2


def test_toy_config_composes_and_passes_checks(tmp_path: Path) -> None:
    check_config(scratch_config("toy", [], tmp_path, tmp_path), "toy")


def test_scratch_keys_say_what_the_lightning_half_says(tmp_path: Path) -> None:
    cfg = scratch_config("scratch", ["model.hidden_dims=[64]"], tmp_path, tmp_path)
    check_config(cfg, "scratch")
    assert (cfg.optimizer.lr, cfg.max_epochs, cfg.model.hidden_dims) == (0.5, 10, [64])
    toy = scratch_config("toy", [], tmp_path, tmp_path).toy
    assert (toy.lr, toy.max_epochs) == (0.01, 60)


SCRATCH_EXPERIMENTS = sorted(p.stem for p in (CONF_DIR / "scratch" / "experiment").glob("*.yaml"))


def sweep_members(config_name: str, overrides: list[str]) -> list[list[str]]:
    """The overrides of each member of the sweep the config's hydra.sweeper.params spell out."""
    with initialize_config_dir(str(CONF_DIR / "scratch"), version_base="1.3"):
        cfg = compose(config_name, overrides=overrides, return_hydra_config=True)
    params = cfg.hydra.sweeper.params or {}
    members: list[list[str]] = [[]]
    for key, values in params.items():
        members = [[*m, f"{key}={v}"] for m in members for v in str(values).split(",")]
    return members


@pytest.mark.parametrize("experiment", SCRATCH_EXPERIMENTS)
def test_every_scratch_experiment_member_composes_and_passes_checks(
    tmp_path: Path, experiment: str
) -> None:
    for member in sweep_members("scratch", [f"experiment={experiment}"]):
        cfg = scratch_config("scratch", [f"experiment={experiment}", *member], tmp_path, tmp_path)
        check_config(cfg, "scratch")
        assert cfg.model.name == "two_layer"  # CS7643 A1 §5 is about the two-layer MLP


def test_the_sweeps_vary_one_setting_and_the_tuning_three(tmp_path: Path) -> None:
    """§5a-b: one hyper-parameter at a time, the rest at the defaults; §5d: at least three,
    epochs not counted."""
    keys = {
        name: {o.split("=")[0] for m in sweep_members("scratch", [f"experiment={name}"]) for o in m}
        for name in ("lr_sweep", "l2_sweep", "tuning")
    }
    assert keys["lr_sweep"] == {"optimizer.lr"}
    assert keys["l2_sweep"] == {"optimizer.weight_decay"}
    assert len(keys["tuning"] - {"max_epochs", "seed"}) >= 3
    defaults = OmegaConf.to_container(scratch_config("scratch", [], tmp_path, tmp_path))
    for name in ("lr_sweep", "l2_sweep", "tuning"):
        cfg = OmegaConf.to_container(
            scratch_config("scratch", [f"experiment={name}"], tmp_path, tmp_path)
        )
        assert cfg == defaults, name  # only the swept keys differ between the members


def test_the_tuned_setting_is_a_member_of_the_grid_and_changes_three_defaults(
    tmp_path: Path,
) -> None:
    tuned = scratch_config("scratch", ["experiment=tuned"], tmp_path, tmp_path)
    defaults = scratch_config("scratch", [], tmp_path, tmp_path)
    grid = sweep_members("scratch", ["experiment=tuning"])
    keys = [override.split("=")[0] for override in grid[0]]
    members = [
        scratch_config("scratch", ["experiment=tuning", *member], tmp_path, tmp_path)
        for member in grid
    ]
    same = [
        m
        for m in members
        if all(OmegaConf.select(m, k) == OmegaConf.select(tuned, k) for k in keys)
    ]
    assert len(same) == 1
    assert OmegaConf.to_container(same[0]) == OmegaConf.to_container(tuned)
    assert all(OmegaConf.select(tuned, k) != OmegaConf.select(defaults, k) for k in keys)


@pytest.mark.parametrize(
    ("override", "message"),
    [
        (
            "model.hidden_dims=[64,32]",
            "model.hidden_dims=[64, 32] is not accepted; expected a list of one integer >= 1",
        ),
        ("model.hidden_dims=[0]", "model.hidden_dims=[0] is not accepted; expected a list of"),
        ("model.name=mlp", "model.name='mlp' is not accepted; expected one of softmax_regression"),
        ("max_epochs=0", "max_epochs=0 is not accepted; expected an integer >= 1"),
    ],
)
def test_bad_scratch_values_are_refused(tmp_path: Path, override: str, message: str) -> None:
    with pytest.raises(ConfigError) as caught:
        check_config(scratch_config("scratch", [override], tmp_path, tmp_path), "scratch")
    assert str(caught.value).startswith(message)


@pytest.mark.parametrize(
    ("config_name", "argument", "new_key"),
    [
        ("scratch", "optimizer.learning_rate=0.1", "optimizer.lr"),
        ("scratch", "epochs=3", "max_epochs"),
        ("scratch", "model.hidden_size=64", "model.hidden_dims"),
        ("scratch", "-m model.hidden_size=64,128", "model.hidden_dims"),
        ("toy", "toy.learning_rate=0.1", "toy.lr"),
        ("toy", "toy.epochs=5", "toy.max_epochs"),
    ],
)
def test_old_scratch_keys_are_refused_naming_the_new_one(
    config_name: str, argument: str, new_key: str
) -> None:
    with pytest.raises(ConfigError) as caught:
        check_overrides(argument.split(), config_name, CONF_DIR / "scratch")
    old = argument.split()[-1].split(",")[0]
    assert str(caught.value) == f"{old} names no key of the config; did you mean {new_key}?"


def test_every_renamed_key_names_a_key_of_its_config(tmp_path: Path) -> None:
    """The old -> new table must point at keys that exist, or its hint would mislead."""
    keys = set()
    for config_name in ("scratch", "toy"):
        cfg = scratch_config(config_name, [], tmp_path, tmp_path)
        keys |= {k for k in RENAMED_KEYS.values() if OmegaConf.select(cfg, k) is not None}
        assert not [k for k in RENAMED_KEYS if OmegaConf.select(cfg, k) is not None]
    assert keys == set(RENAMED_KEYS.values())


@pytest.fixture(scope="module")
def numpy_run(tmp_path_factory: pytest.TempPathFactory, tiny_data_dir: Path):
    """One short two-layer run through the CLI on the tiny data: (the process, its run dir)."""
    log_dir = tmp_path_factory.mktemp("numpy_run")
    code = """
import sys, runpy
sys.argv = ["mnist_lab.scratch", *sys.argv[1:]]
runpy.run_module("mnist_lab.scratch", run_name="__main__")
print("TORCH:", "torch" in sys.modules)
"""
    result = run_cli(
        "",
        "model=two_layer",
        "model.hidden_dims=[32]",
        "model.init_std=0.01",
        "max_epochs=4",
        "data.batch_size=16",
        "progress=false",
        log_dir=log_dir,
        data_dir=tiny_data_dir,
        code=code,
    )
    assert result.returncode == 0, result.stderr
    (run,) = (log_dir / "scratch" / "runs").iterdir()
    return result, run


def test_scratch_cli_trains_without_torch_and_leaves_its_run_dir(numpy_run) -> None:
    result, run = numpy_run
    assert "TORCH: False" in result.stdout
    metrics = json.loads((run / "metrics.json").read_text())
    assert metrics["test/acc"] > 0.9
    assert f"test accuracy {metrics['test/acc']:.4f}" in result.stdout
    # CS155 set 4 §2A: what applies to a NumPy run (no torch, no Lightning)
    assert set(metrics["environment"]) == {"python", "hydra-core", "numpy", "device"}
    assert f"numpy {np.__version__}; device cpu: " in result.stdout
    assert (run / "learning_curves.png").stat().st_size > 10_000
    assert set(np.load(run / "params.npz")) == {"W1", "b1", "W2", "b2"}


def test_a_numpy_run_reads_back_like_a_lightning_run(numpy_run) -> None:
    _, run_dir = numpy_run
    run = RunDir(run_dir).read()
    assert run.status == "ok"
    assert {len(run.curves[key]) for key in CURVES} == {4}
    assert run.best_val_acc == max(run.curves["val/acc"]) == run.metrics["val/acc"]
    assert run.final_train_loss == run.curves["train/loss_epoch"][-1]
    assert 0 < run.seconds_per_epoch < run.wall_seconds
    # 480 training images in batches of 16: 30 SGD steps per epoch
    rows = list(csv.DictReader((run_dir / "csv" / "metrics.csv").open()))
    assert [(row["epoch"], row["step"]) for row in rows] == [
        ("0", "30"),
        ("1", "60"),
        ("2", "90"),
        ("3", "120"),
    ]


def test_report_on_a_numpy_run_shows_its_curves_and_best_val_acc(
    numpy_run, capsys: pytest.CaptureFixture
) -> None:
    _, run_dir = numpy_run
    assert report([str(run_dir)]) == 0
    printed = capsys.readouterr().out
    assert "no per-epoch curves" not in printed
    best = RunDir(run_dir).read().best_val_acc
    (row,) = list(csv.DictReader((run_dir / "report.csv").open()))
    assert float(row["best val acc"]) == best and float(row["mean s/epoch"]) > 0
    assert f"| {best:.4f} |" in (run_dir / "report.md").read_text()


def test_a_numpy_seed_sweep_reports_one_group_of_three(tmp_path: Path, tiny_data_dir: Path) -> None:
    sweep = tmp_path / "sweep"
    result = run_cli(
        "mnist_lab.scratch",
        "-m",
        "seed=1,2,3",
        "model.hidden_dims=[16]",
        "max_epochs=2",
        "data.subset_size=200",
        "progress=false",
        f"hydra.sweep.dir={sweep}",
        log_dir=tmp_path,
        data_dir=tiny_data_dir,
    )
    assert result.returncode == 0, result.stderr
    runs = find_runs(sweep)
    # data.subset_size=200 at batch 64: 4 SGD steps per epoch
    assert [RunDir(run.path).read().metrics["params"] for run in runs] == [784 * 16 + 16 + 170] * 3
    steps = {
        row["step"] for r in runs for row in csv.DictReader((r.path / "csv" / "metrics.csv").open())
    }
    assert steps == {"4", "8"}
    assert report([str(sweep)]) == 0
    text = (sweep / "report.md").read_text()
    assert "Over seed: mean ± half-width of the 95% confidence interval" in text
    (row,) = [line for line in text.splitlines() if line.startswith("| all runs |")]
    assert row.startswith("| all runs | 3 of 3 | 12,730 |")
    best = estimate([run.best_val_acc for run in runs])
    assert f"| {best.mean:.4f} ± {best.half_width:.4f} (n=3) |" in row
    assert (sweep / "learning_curves.png").stat().st_size > 10_000


def test_toy_cli_writes_its_figure_and_errors(tmp_path: Path) -> None:
    result = run_cli(
        "mnist_lab.scratch.toy",
        "toy.max_epochs=3",
        "toy.n_train=200",
        "toy.n_test=100",
        "progress=false",
        log_dir=tmp_path,
    )
    assert result.returncode == 0, result.stderr
    (run,) = (tmp_path / "scratch_toy" / "runs").iterdir()
    errors = json.loads((run / "metrics.json").read_text())["test_squared_error"]
    assert set(errors) == {"y1 = sum(Wx)", "y2 = max(x)", "y3 = logsumexp(Wx)"}
    assert all(set(e) == {"linear", "convnet"} for e in errors.values())
    assert (run / "toy_loss_curves.png").stat().st_size > 10_000


@pytest.mark.parametrize(
    ("module", "arguments", "message"),
    [
        (
            "mnist_lab.scratch",
            ["model=mlp"],
            "error: model='mlp' is not a config in conf/scratch/model/; choose one of "
            "softmax_regression, two_layer",
        ),
        (
            "mnist_lab.scratch",
            ["optimizer.lr=0"],
            "error: optimizer.lr=0 is not accepted; expected a number > 0",
        ),
        # the keys before the NumPy half took the Lightning half's words
        (
            "mnist_lab.scratch",
            ["optimizer.learning_rate=0.1"],
            "error: optimizer.learning_rate=0.1 names no key of the config; did you mean "
            "optimizer.lr?",
        ),
        (
            "mnist_lab.scratch.toy",
            ["toy.epochs=5"],
            "error: toy.epochs=5 names no key of the config; did you mean toy.max_epochs?",
        ),
        (
            "mnist_lab.scratch",
            ["data.download=false", "paths.data_dir=/does/not/exist"],
            "error: mnist files missing from /does/not/exist/MNIST/raw",
        ),
        (
            "mnist_lab.scratch.toy",
            ["toy.batch_size=0"],
            "error: toy.batch_size=0 is not accepted; expected an integer >= 1",
        ),
    ],
)
def test_scratch_cli_bad_input_exits_2_with_one_line(
    tmp_path: Path, module: str, arguments: list[str], message: str
) -> None:
    result = run_cli(module, *arguments, log_dir=tmp_path)
    assert result.returncode == 2, result.stderr
    errors = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1 and errors[0].startswith(message), result.stderr
    assert "Traceback" not in result.stderr
    assert not list(tmp_path.rglob("runs/*"))


@pytest.mark.parametrize("module", ["mnist_lab.scratch", "mnist_lab.scratch.toy"])
def test_scratch_help_never_imports_torch(tmp_path: Path, module: str) -> None:
    code = f"""
import sys, runpy
sys.argv = ["{module}", "--help"]
try:
    runpy.run_module("{module}", run_name="__main__")
except SystemExit:
    pass
print("HEAVY:", ",".join(m for m in ("torch", "lightning") if m in sys.modules) or "none")
"""
    result = run_cli("", log_dir=tmp_path, code=code)
    assert result.returncode == 0, result.stderr
    assert "HEAVY: none" in result.stdout and "seed" in result.stdout


@pytest.mark.slow
@pytest.mark.parametrize(
    ("model", "epochs", "minimum"), [("softmax_regression", 1, 0.9), ("two_layer", 2, 0.92)]
)
def test_real_mnist_short_run(
    tmp_path: Path, real_data_dir: Path, model: str, epochs: int, minimum: float
) -> None:
    from mnist_lab.scratch.__main__ import train_scratch

    overrides = [f"model={model}", f"max_epochs={epochs}", "progress=false"]
    metrics = train_scratch(scratch_config("scratch", overrides, tmp_path, real_data_dir))
    assert metrics["val/acc"] > minimum and metrics["test/acc"] > minimum
