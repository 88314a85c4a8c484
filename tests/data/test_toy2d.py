"""Toy 2-D problems (E22): the data, what linear and ReLU nets can fit, zero init, the figures."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from hydra import compose, initialize_config_dir
from omegaconf import OmegaConf

from mnist_lab.data.toy2d import GATE_OUTPUTS, Toy2DDataModule
from mnist_lab.evaluate import evaluate
from mnist_lab.nets.mlp import MLP
from mnist_lab.plots.images import decision_boundary_figure
from mnist_lab.report import write_report
from mnist_lab.runtime.rules import TOY_DATASETS, ConfigError, check_config
from mnist_lab.runtime.rundir import find_runs
from mnist_lab.train import train
from tests.helpers import CONF_DIR, compose_config
from tests.helpers.cli import run_cli

TOY_EXPERIMENTS = ["toy_and", "toy_init", "toy_or", "toy_playground", "toy_xor"]


def splits(**settings) -> dict[str, tuple[torch.Tensor, torch.Tensor]]:
    data = Toy2DDataModule(**settings)
    data.setup("fit")
    return data.splits


@pytest.mark.parametrize("name", TOY_DATASETS)
def test_every_problem_has_2d_points_two_balanced_classes_and_fixed_data(name: str) -> None:
    first = splits(name=name, n_samples=200, noise=0.1, data_seed=3)
    for points, labels in first.values():
        assert points.dtype == torch.float32 and points.shape == (len(labels), 2)
        assert labels.dtype == torch.int64 and set(labels.tolist()) == {0, 1}
        assert points.abs().max() < 2.5
    if name.startswith("gate_"):
        # and/or have one minority class out of four rows
        assert 0.2 <= first["train"][1].float().mean() <= 0.8
    else:
        assert (len(first["train"][1]), len(first["val"][1]), len(first["test"][1])) == (
            160,
            40,
            200,
        )
        assert abs(first["train"][1].float().mean() - 0.5) < 0.1
    again = splits(name=name, n_samples=200, noise=0.1, data_seed=3)
    other = splits(name=name, n_samples=200, noise=0.1, data_seed=4)
    for split in ("train", "val", "test"):
        assert torch.equal(first[split][0], again[split][0])
    # the gates' validation and test sets are their truth table, whatever the seed
    for split in ("train",) if name.startswith("gate_") else ("train", "val", "test"):
        assert not torch.equal(first[split][0], other[split][0])


def test_playground_test_points_are_not_training_points() -> None:
    data = splits(name="spiral", n_samples=300)
    train_points = {tuple(p) for p in data["train"][0].tolist()}
    assert not train_points & {tuple(p) for p in data["test"][0].tolist()}


@pytest.mark.parametrize(
    ("name", "truth"),
    [("gate_and", [0, 0, 0, 1]), ("gate_or", [0, 1, 1, 1]), ("gate_xor", [0, 1, 1, 0])],
)
def test_gates_validate_and_test_on_their_truth_table(name: str, truth: list[int]) -> None:
    data = splits(name=name, n_samples=12, noise=0.05, batch_size=4)
    rows = [[0.0, 0.0], [0.0, 1.0], [1.0, 0.0], [1.0, 1.0]]
    for split in ("val", "test"):
        points, labels = data[split]
        assert points.tolist() == rows and labels.tolist() == truth
    points, labels = data["train"]
    assert len(labels) == 12 and labels.tolist() == truth * 3
    # the jitter moves the training points but never across to another row's corner
    assert (points - torch.tensor(rows * 3)).abs().max() < 0.3


@pytest.mark.parametrize(("name", "test_split"), [("gate_and", "truth_table"), ("spiral", "test")])
def test_only_the_gates_call_their_test_rows_a_truth_table(name: str, test_split: str) -> None:
    assert Toy2DDataModule(name=name).spec.test_split == test_split


def fit(net: torch.nn.Module, points: torch.Tensor, labels: torch.Tensor, steps: int, lr: float):
    """Full-batch Adam on cross-entropy; returns the training accuracy."""
    optimizer = torch.optim.Adam(net.parameters(), lr=lr)
    for _ in range(steps):
        optimizer.zero_grad()
        F.cross_entropy(net(points), labels).backward()
        optimizer.step()
    return (net(points).argmax(1) == labels).float().mean().item()


XOR_POINTS = torch.tensor([[0.0, 0.0], [0.0, 1.0], [1.0, 0.0], [1.0, 1.0]])
XOR_LABELS = torch.from_numpy(GATE_OUTPUTS["gate_xor"])


def test_no_linear_boundary_gets_more_than_three_xor_rows_right() -> None:
    # Every line through the plane, sampled densely: none puts both diagonals on opposite sides.
    rng = np.random.default_rng(0)
    weights = rng.normal(size=(20_000, 2))
    biases = rng.uniform(-2, 2, size=20_000)
    sides = (XOR_POINTS.numpy() @ weights.T + biases) > 0  # [4 rows, lines]
    correct = (sides == XOR_LABELS.numpy()[:, None]).mean(0)
    # either side of a line may be called class 1
    assert np.maximum(correct, 1 - correct).max() == 0.75
    # and gradient descent on softmax regression finds no better, whatever the start
    for seed in range(3):
        torch.manual_seed(seed)
        linear = MLP(input_shape=(2,), num_classes=2, hidden_dims=[], init="default")
        assert fit(linear, XOR_POINTS, XOR_LABELS, steps=300, lr=0.1) <= 0.75


def test_two_hidden_relu_units_can_compute_xor() -> None:
    # CS155 set 4 §1E's construction: |x1 - x2| = relu(x1 - x2) + relu(x2 - x1).
    net = MLP(input_shape=(2,), num_classes=2, hidden_dims=[2])
    hidden, output = (m for m in net.modules() if isinstance(m, torch.nn.Linear))
    with torch.no_grad():
        hidden.weight.copy_(torch.tensor([[1.0, -1.0], [-1.0, 1.0]]))
        hidden.bias.zero_()
        output.weight.copy_(torch.tensor([[-1.0, -1.0], [1.0, 1.0]]))
        output.bias.copy_(torch.tensor([0.5, -0.5]))
    assert net(XOR_POINTS).argmax(1).tolist() == XOR_LABELS.tolist()


def test_training_finds_xor_with_eight_hidden_relu_units() -> None:
    # Narrower layers often lose units to ReLU's dead side and stall at 3 of 4 (see toy_xor).
    for seed in range(3):
        torch.manual_seed(seed)
        net = MLP(input_shape=(2,), num_classes=2, hidden_dims=[8], init="he")
        assert fit(net, XOR_POINTS, XOR_LABELS, steps=600, lr=0.03) == 1.0


@pytest.mark.parametrize("activation", ["sigmoid", "relu"])
def test_zero_init_keeps_every_hidden_unit_identical(activation: str) -> None:
    data = splits(name="circle", n_samples=200)
    points, labels = data["train"]
    net = MLP(
        input_shape=(2,), num_classes=2, hidden_dims=[4, 4], activation=activation, init="zeros"
    )
    optimizer = torch.optim.SGD(net.parameters(), lr=0.5, momentum=0.9)
    for _ in range(50):
        optimizer.zero_grad()
        F.cross_entropy(net(points), labels).backward()
        optimizer.step()
    first, second, output = (m for m in net.modules() if isinstance(m, torch.nn.Linear))
    if activation == "sigmoid":
        # The weights moved, but every unit of a layer moved alike: symmetry is never broken.
        assert first.weight.abs().min() > 0 and second.weight.abs().min() > 0
        for layer in (first, second):
            assert torch.allclose(layer.weight, layer.weight[:1].expand_as(layer.weight))
            assert torch.allclose(layer.bias, layer.bias[:1].expand_as(layer.bias))
        assert torch.allclose(output.weight, output.weight[:, :1].expand_as(output.weight))
    else:
        # relu(0) = 0 and its gradient at 0 is 0: nothing but the output bias can change.
        for layer in (first, second, output):
            assert not layer.weight.any()
        assert not first.bias.any() and not second.bias.any() and output.bias.any()


@pytest.mark.parametrize("experiment", TOY_EXPERIMENTS)
def test_toy_experiments_compose_on_toy_data_with_a_sweep(tmp_path: Path, experiment: str):
    cfg = compose_config("train", [f"experiment={experiment}"], tmp_path)
    check_config(cfg)
    assert cfg.data._target_ == "mnist_lab.data.toy2d.Toy2DDataModule"
    assert "decision_boundary" in cfg.callbacks
    with initialize_config_dir(str(CONF_DIR), version_base="1.3"):
        sweep = compose("train", [f"experiment={experiment}"], return_hydra_config=True)
    assert len(sweep.hydra.sweeper.params) >= 1


@pytest.mark.parametrize(
    ("override", "message"),
    [
        ("data.name=moons", "data.name='moons' is not accepted; expected one of xor, circle"),
        ("data.noise=-0.1", "data.noise=-0.1 is not accepted; expected a number >= 0"),
        (
            "data.n_samples=0",
            "data.n_samples=0 is not accepted; expected an integer from 1 to 1,000,000",
        ),
    ],
)
def test_bad_toy_settings_are_refused(tmp_path: Path, override: str, message: str) -> None:
    cfg = compose_config("train", ["data=toy2d", override], tmp_path)
    with pytest.raises(ConfigError) as caught:
        check_config(cfg)
    assert str(caught.value).startswith(message)


def test_xor_run_reaches_the_whole_truth_table_draws_its_boundary_and_evaluates(
    train_config, tmp_path
):
    cfg = train_config("experiment=toy_xor", "model.net.hidden_dims=[8]")
    metrics = train(cfg)
    run = tmp_path / "run"
    assert metrics["truth_table/acc"] == 1.0 and metrics["params"] == 2 * 8 + 8 + 8 * 2 + 2
    assert (run / "decision_boundary.png").stat().st_size > 10_000
    assert (run / "confusion_matrix.png").is_file()
    assert "[1, 8]" in (run / "model_summary.txt").read_text()  # 2-D input, 8 hidden units
    # evaluate rebuilds the generated data from the run's saved config (no data folder)
    (run / ".hydra").mkdir()
    OmegaConf.save(cfg, run / ".hydra" / "config.yaml")
    (tmp_path / "evaluation").mkdir()
    evaluated = evaluate(compose_config("evaluate", [f"ckpt_path={run}"], tmp_path / "evaluation"))
    assert evaluated["truth_table/acc"] == 1.0 and "test/acc" not in evaluated


def test_gate_runs_record_and_report_truth_table_accuracy_not_test_accuracy(
    train_config, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    sweep = tmp_path / "sweep"
    for seed in (1, 2):
        overrides = ["model.net.hidden_dims=[]", f"seed={seed}"]
        cfg = train_config(
            "experiment=toy_and", *overrides, "trainer.max_epochs=2", run=f"sweep/{seed}"
        )
        metrics = train(cfg)
        assert not [key for key in metrics if key.startswith("test/")]
        # tested on the rows it validated on: the best checkpoint scores its best validation
        assert metrics["truth_table/acc"] == metrics["val/acc_best"]
        (sweep / str(seed) / ".hydra").mkdir()
        (sweep / str(seed) / ".hydra" / "overrides.yaml").write_text(
            "".join(f"- {override}\n" for override in overrides)
        )
    printed = capsys.readouterr().out
    assert (
        printed.count("truth-table accuracy") == 2 and "on 4 gate_and truth-table rows" in printed
    )
    assert "test accuracy" not in printed
    summary = write_report(sweep, find_runs(sweep)).summary
    assert "truth-table acc" in summary.columns and "test acc" not in summary.columns
    report = (sweep / "report.md").read_text()
    assert "| runs | params | best val acc | truth-table acc | final train loss |" in report
    assert "test acc" not in report


def test_zero_init_sigmoid_run_stays_symmetric_in_its_checkpoint(train_config, tmp_path):
    train(
        train_config(
            "experiment=toy_init",
            "model.net.init=zeros",
            "model.net.activation=sigmoid",
            "trainer.max_epochs=2",
            "logger=none",
        )
    )
    state = torch.load(tmp_path / "run" / "checkpoints" / "last.ckpt", weights_only=False)
    first = state["state_dict"]["net.layers.1.weight"]
    assert first.abs().max() > 0 and torch.equal(first, first[:1].expand_as(first))


def test_bad_toy_problem_on_the_command_line_exits_2(tmp_path: Path) -> None:
    result = run_cli("mnist_lab.train", "data=toy2d", "data.name=moons", log_dir=tmp_path)
    assert result.returncode == 2
    assert result.stderr.strip().startswith("error: data.name='moons' is not accepted")


def test_report_puts_the_runs_boundaries_side_by_side(tmp_path: Path) -> None:
    grid_x, grid_y = np.meshgrid(np.linspace(-1, 1, 30), np.linspace(-1, 1, 30))
    points = np.array([[-0.5, -0.5], [0.5, 0.5]])
    for index, width in enumerate([1, 2]):
        run = tmp_path / str(index)
        (run / ".hydra").mkdir(parents=True)
        (run / ".hydra" / "overrides.yaml").write_text(f"- model.net.hidden_dims=[{width}]\n")
        p1 = 1 / (1 + np.exp(-width * (grid_x + grid_y)))
        fig = decision_boundary_figure(
            grid_x, grid_y, np.stack([1 - p1, p1], -1), points, np.array([0, 1]), ["a", "b"]
        )
        fig.savefig(run / "decision_boundary.png", dpi=50)
    paths = write_report(tmp_path, find_runs(tmp_path)).paths
    assert tmp_path / "decision_boundaries.png" in paths
    assert "decision_boundaries.png" in (tmp_path / "report.md").read_text()


def test_boundary_figure_marks_the_half_probability_line_only_where_it_is() -> None:
    grid_x, grid_y = np.meshgrid(np.linspace(-1, 1, 20), np.linspace(-1, 1, 20))
    points, labels = np.zeros((4, 2)), np.array([0, 1, 0, 1])
    for p1, lines in ((1 / (1 + np.exp(-5 * grid_x)), 1), (np.full_like(grid_x, 0.9), 0)):
        fig = decision_boundary_figure(
            grid_x, grid_y, np.stack([1 - p1, p1], -1), points, labels, ["no", "yes"]
        )
        (ax,) = fig.axes
        assert len(ax.collections) - 2 == lines  # two scatter sets, plus the contour if any
        assert [t.get_text() for t in ax.get_legend().get_texts()] == ["no (2)", "yes (2)"]
