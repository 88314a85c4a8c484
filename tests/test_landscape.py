"""Loss landscape (E15, E31): the trajectory callback, the plane's math, the grid and the CLI:
the PCA plane, filter-normalised random directions and the line between two runs."""

from __future__ import annotations

import copy
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from omegaconf import OmegaConf
from torch import nn
from torch.nn.utils import parameters_to_vector, vector_to_parameters

from mnist_lab.analysis import loss_plane
from mnist_lab.analysis.loss_plane import (
    Plane,
    default_batch_points,
    first_affine_layer,
    fit_plane,
    grid_losses,
    losses_at,
)
from mnist_lab.landscape import data_subsets, main
from mnist_lab.models.classifier import Classifier
from mnist_lab.nets.cnn import CNN
from mnist_lab.nets.mlp import MLP
from mnist_lab.runtime.rules import ConfigError, check_config
from mnist_lab.train import train
from tests.helpers import compose_config
from tests.helpers.cli import run_cli

TINY_RUN = ["callbacks=trajectory", "trainer.max_epochs=2", "data.batch_size=32"]


@pytest.fixture(scope="module")
def tiny_runs(tmp_path_factory: pytest.TempPathFactory, tiny_data_dir: Path) -> list[Path]:
    """Two short runs of the same MLP with the trajectory recorded (seeds 1 and 2)."""
    root = tmp_path_factory.mktemp("landscape_runs")
    runs = []
    for seed in (1, 2):
        overrides = [*TINY_RUN, "model.net.hidden_dims=[16]", f"seed={seed}", "logger=none"]
        cfg = compose_config("train", overrides, root / f"seed{seed}", tiny_data_dir)
        train(cfg)
        # The CLI rebuilds from the saved config, as Hydra would have written it.
        (root / f"seed{seed}" / ".hydra").mkdir()
        OmegaConf.save(cfg, root / f"seed{seed}" / ".hydra" / "config.yaml")
        runs.append(root / f"seed{seed}")
    return runs


@pytest.fixture(scope="module")
def tiny_batch_norm_run(tmp_path_factory: pytest.TempPathFactory, tiny_data_dir: Path) -> Path:
    """A one-epoch run of another network: 8 hidden units with BatchNorm."""
    run = tmp_path_factory.mktemp("landscape_batch_norm") / "run"
    overrides = ["trainer.max_epochs=1", "model.net.hidden_dims=[8]", "model.net.batch_norm=true"]
    cfg = compose_config("train", [*overrides, "seed=3", "logger=none"], run, tiny_data_dir)
    train(cfg)
    (run / ".hydra").mkdir()
    OmegaConf.save(cfg, run / ".hydra" / "config.yaml")
    return run


@pytest.fixture
def evaluations(monkeypatch) -> list[int]:
    """How many points each call of the one plane evaluation got (it is counted, not replaced)."""
    calls, evaluate = [], loss_plane.plane_metrics

    def counted(net, plane, coordinates, *args, **kwargs):
        calls.append(len(coordinates))
        return evaluate(net, plane, coordinates, *args, **kwargs)

    monkeypatch.setattr(loss_plane, "plane_metrics", counted)
    return calls


def own_loss(run: Path, images: torch.Tensor, labels: torch.Tensor) -> float:
    """The cross-entropy of a run's last checkpoint, loaded as evaluate loads it."""
    model = Classifier.load_from_checkpoint(run / "checkpoints" / "last.ckpt", map_location="cpu")
    with torch.no_grad():
        return F.cross_entropy(model.net.eval()(images), labels).item()


def test_trajectory_holds_the_initial_evenly_spaced_and_final_weights(train_config, tmp_path):
    # monitor=null: the checkpoint is the last epoch's, not the best validation epoch's.
    train(train_config(*TINY_RUN, "logger=none", "monitor=null"))
    trajectory = torch.load(tmp_path / "run" / "trajectory.pt")
    # 540 training images in batches of 32: 17 steps per epoch, 4 snapshots in each.
    assert trajectory["steps"].tolist() == [0, 5, 9, 13, 17, 22, 26, 30, 34]
    assert trajectory["epochs"][0] == 0 and trajectory["epochs"][-1] == 2.0
    params = trajectory["params"]
    assert params.shape == (9, 178_110) and params.dtype == torch.float32
    assert not torch.equal(params[0], params[1])  # a snapshot is a copy, not a live view
    last = torch.load(tmp_path / "run" / "checkpoints" / "last.ckpt", weights_only=False)
    final = torch.cat([last["state_dict"][f"net.{name}"].flatten() for name in trajectory["names"]])
    assert torch.equal(params[-1], final)


def test_snapshots_per_epoch_must_be_positive(tmp_path: Path) -> None:
    overrides = ["callbacks=trajectory", "callbacks.trajectory.snapshots_per_epoch=0"]
    with pytest.raises(ConfigError, match=r"snapshots_per_epoch=0 is not accepted; expected an"):
        check_config(compose_config("train", overrides, tmp_path))


def test_pca_finds_the_directions_a_synthetic_trajectory_moves_along() -> None:
    generator = torch.Generator().manual_seed(0)
    size, steps = 200, 30
    u, v = torch.linalg.qr(torch.randn(size, 2, generator=generator)).Q.T
    along_u = torch.linspace(-6.0, 0.0, steps)  # a long straight descent...
    bend = torch.sin(torch.linspace(0.0, 3.0, steps))  # ...with a smaller sideways bend,
    bend, centred = bend - bend.mean(), along_u - along_u.mean()
    along_v = bend - (bend @ centred) / (centred @ centred) * centred  # uncorrelated with it
    origin = torch.randn(size, generator=generator)
    noise = 1e-4 * torch.randn(steps, size, generator=generator)
    trajectory = origin + along_u[:, None] * u + along_v[:, None] * v + noise

    plane = fit_plane([trajectory])
    assert abs(float(plane.directions[0] @ u)) > 0.9999
    assert abs(float(plane.directions[1] @ v)) > 0.9999
    assert torch.allclose(plane.directions @ plane.directions.T, torch.eye(2), atol=1e-5)
    assert torch.equal(plane.origin, trajectory[-1])
    # Relative to the final weights, and signed so the path starts at negative coordinates.
    expected = torch.stack([along_u - along_u[-1], along_v - along_v[-1]], 1)
    expected *= torch.where(expected[0] > 0, -1.0, 1.0)
    assert plane.project(trajectory)[0].max() <= 0
    np.testing.assert_allclose(plane.project(trajectory), expected, atol=1e-3)
    variances = np.array([along_u.var().item(), along_v.var().item()])
    np.testing.assert_allclose(plane.explained, variances / variances.sum(), atol=1e-4)


def naive_grid(net: nn.Module, plane: Plane, xs, ys, images, labels) -> np.ndarray:
    """The reference: one grid point at a time, copied into a plain network."""
    net = copy.deepcopy(net).eval()
    losses = np.empty((len(ys), len(xs)))
    with torch.no_grad():
        for i, y in enumerate(ys):
            for j, x in enumerate(xs):
                vector = plane.origin + x * plane.directions[0] + y * plane.directions[1]
                vector_to_parameters(vector, net.parameters())
                losses[i, j] = F.cross_entropy(net(images), labels).item()
    return losses


def random_plane(net: nn.Module, scale: float = 1.0) -> Plane:
    origin = parameters_to_vector(net.parameters()).detach()
    generator = torch.Generator().manual_seed(1)
    directions = torch.linalg.qr(torch.randn(len(origin), 2, generator=generator)).Q.T
    return Plane(origin, scale * directions.contiguous(), (0.7, 0.2))


NETS = {
    # first layer Linear (after Flatten): the plane shortcut, with BatchNorm statistics
    "mlp": lambda: MLP(input_shape=[1, 8, 8], hidden_dims=[12, 6], batch_norm=True),
    # first layer Conv2d: the plane shortcut
    "cnn": lambda: CNN(input_shape=[1, 8, 8], channels=[3], hidden_dims=[8], init="he"),
    # parameters before any affine layer: every layer vmapped
    "norm_first": lambda: nn.Sequential(nn.Flatten(), nn.LayerNorm(64), nn.Linear(64, 10)),
}
FIRST_LAYER = {"mlp": "layers.1", "cnn": "features.0", "norm_first": None}


@pytest.mark.parametrize("kind", sorted(NETS))
def test_batched_grid_equals_a_point_by_point_loop(kind: str) -> None:
    torch.manual_seed(0)
    net = NETS[kind]()
    if kind == "mlp":  # BatchNorm statistics other than the initial ones must be used
        net.train()(torch.randn(32, 1, 8, 8) * 3 + 1)
    images, labels = torch.randn(50, 1, 8, 8), torch.randint(0, 10, (50,))
    found = first_affine_layer(net.eval(), images)
    assert (found[0] if found else None) == FIRST_LAYER[kind]
    plane = random_plane(net)
    xs, ys = np.linspace(-2, 2, 5), np.linspace(-1, 1, 3)
    expected = naive_grid(net, plane, xs, ys, images, labels)
    batched = grid_losses(net, plane, xs, ys, images, labels, batch_points=4)  # 15 = 4+4+4+3
    assert batched.shape == (3, 5)
    np.testing.assert_allclose(batched, expected, rtol=1e-5, atol=1e-6)
    assert batched.std() > 0.01  # the plane really changes the loss


def test_points_per_pass_shrink_as_activations_grow() -> None:
    mlp = MLP(hidden_dims=[50, 50, 50])  # 2500 x 50 floats per point after the first layer
    assert default_batch_points(mlp, torch.zeros(2500, 1, 28, 28)) == 16
    assert default_batch_points(mlp, torch.zeros(10, 1, 28, 28)) == 64  # capped
    cnn = CNN(channels=[32, 64])  # 100 x 32 x 28 x 28 floats after the first convolution
    assert default_batch_points(cnn, torch.zeros(100, 1, 28, 28)) == 1


def test_grid_loss_at_the_origin_is_the_loss_of_the_final_weights() -> None:
    torch.manual_seed(0)
    net = MLP(input_shape=[1, 8, 8], hidden_dims=[16])
    images, labels = torch.randn(40, 1, 8, 8), torch.randint(0, 10, (40,))
    plane = random_plane(net)
    losses = grid_losses(
        net, plane, np.array([-1.0, 0.0, 1.0]), np.array([-1.0, 0.0, 1.0]), images, labels
    )
    with torch.no_grad():
        final = F.cross_entropy(net(images), labels).item()
    assert losses[1, 1] == pytest.approx(final, rel=1e-6)
    assert losses.min() < losses[1, 1] < losses.max()
    snapshots = plane.points(torch.tensor([[0.0, 0.0], [1.0, -1.0]]))
    on_path = losses_at(net, snapshots, images, labels).numpy()
    np.testing.assert_allclose(on_path, [final, losses[0, 2]], rtol=1e-5)


def test_cli_draws_the_surface_and_contour_of_a_run(
    tiny_runs: list[Path], capsys, monkeypatch, tiny_data_dir: Path, evaluations: list[int]
) -> None:
    monkeypatch.setenv("MNIST_LAB_DATA_DIR", str(tiny_data_dir))
    run = tiny_runs[0]
    assert main([str(run), "--grid-size=5", "--subset-size=100"]) == 0
    assert evaluations == [25]  # the grid, through the one plane evaluation
    out = capsys.readouterr().out
    assert "5x5 grid on 100 images" in out and f"wrote {run / 'landscape_contour.png'}" in out
    threads = torch.get_num_threads()
    assert f"s CPU, {threads} thread{'s' if threads > 1 else ''}, " in out
    for name in ("landscape_surface.png", "landscape_contour.png"):
        assert (run / name).stat().st_size > 20_000
    saved = np.load(run / "landscape.npz")
    assert saved["losses"].shape == (5, 5) and np.isfinite(saved["losses"]).all()
    coordinates, path_losses = saved["coordinates_0"], saved["trajectory_losses_0"]
    assert coordinates.shape == (9, 2) and np.allclose(coordinates[-1], 0, atol=1e-5)
    assert path_losses[-1] < path_losses[0]  # training lowered the loss
    assert saved["xs"].min() < coordinates[:, 0].min() and saved["xs"].max() > 0


def test_two_runs_share_one_plane(
    tiny_runs: list[Path], tmp_path: Path, capsys, monkeypatch, tiny_data_dir: Path
) -> None:
    monkeypatch.setenv("MNIST_LAB_DATA_DIR", str(tiny_data_dir))
    first, second = tiny_runs
    arguments = [str(first), "--compare", str(second), "--grid-size=4", "--span=3"]
    assert main([*arguments, "--subset-size=50", f"--output-dir={tmp_path}"]) == 0
    out = capsys.readouterr().out
    assert "PCA of 18 snapshots" in out
    assert "run seed1 (seed 1, Adam)" in out and "run seed2 (seed 2, Adam)" in out
    saved = np.load(tmp_path / "landscape.npz")
    np.testing.assert_allclose(saved["xs"], [-3, -1, 1, 3])
    # The origin is halfway between the two final weights.
    np.testing.assert_allclose(saved["coordinates_0"][-1], -saved["coordinates_1"][-1], atol=1e-4)
    assert (tmp_path / "landscape_surface.png").is_file()


def test_random_directions_draw_a_surface_around_the_final_weights(
    tiny_runs: list[Path], tmp_path: Path, capsys, monkeypatch, tiny_data_dir, evaluations
) -> None:
    monkeypatch.setenv("MNIST_LAB_DATA_DIR", str(tiny_data_dir))
    run = tiny_runs[0]
    arguments = [str(run), "--directions=random", "--grid-size=5", "--subset-size=100"]
    assert main([*arguments, f"--output-dir={tmp_path}"]) == 0
    assert evaluations[0] == 25
    out = capsys.readouterr().out
    assert "2 filter-normalised random directions (seed 0)" in out and "from -1 to 1" in out
    assert "5x5 points on 100 training images" in out
    for name in ("random_surface.png", "random_contour.png"):
        assert (tmp_path / name).stat().st_size > 20_000
    saved = np.load(tmp_path / "random_plane.npz")
    np.testing.assert_allclose(saved["xs"], [-1, -0.5, 0, 0.5, 1])
    losses, accuracies = saved["losses"], saved["accuracies"]
    assert losses.shape == accuracies.shape == (5, 5)
    images, labels = data_subsets(
        OmegaConf.load(run / ".hydra/config.yaml"), tiny_data_dir, 100, 0
    )["train"]
    assert losses[2, 2] == pytest.approx(own_loss(run, images, labels), rel=1e-5)
    assert f"loss {losses[2, 2]:.4f} (accuracy {accuracies[2, 2]:.4f}) at the final weights" in out
    # A whole filter's length away in every layer, the loss is higher at every corner.
    assert min(losses[0, 0], losses[0, -1], losses[-1, 0], losses[-1, -1]) > losses[2, 2]


def test_one_random_direction_is_a_seeded_curve(
    tiny_runs: list[Path], tmp_path: Path, capsys, monkeypatch, tiny_data_dir, evaluations
) -> None:
    monkeypatch.setenv("MNIST_LAB_DATA_DIR", str(tiny_data_dir))
    curves = {}
    for name, seed in (("first", 0), ("again", 0), ("other", 1)):
        arguments = [str(tiny_runs[0]), "--directions=random", "--dimensions=1", "--span=0.5"]
        extra = [f"--direction-seed={seed}", "--grid-size=5", "--subset-size=100"]
        assert main([*arguments, *extra, f"--output-dir={tmp_path / name}"]) == 0
        assert (tmp_path / name / "random_line.png").stat().st_size > 20_000
        curves[name] = np.load(tmp_path / name / "random_line.npz")["losses"]
    assert evaluations == [5, 1] * 3  # the line, then the final weights alone
    np.testing.assert_allclose(curves["first"], curves["again"])
    assert not np.allclose(curves["first"], curves["other"])
    assert curves["first"][2] == pytest.approx(curves["other"][2])  # both pass the weights
    assert "1 filter-normalised random direction (seed 1)" in capsys.readouterr().out


def test_the_line_between_two_runs_starts_and_ends_at_their_own_losses(
    tiny_runs: list[Path], tmp_path: Path, capsys, monkeypatch, tiny_data_dir, evaluations
) -> None:
    monkeypatch.setenv("MNIST_LAB_DATA_DIR", str(tiny_data_dir))
    first, second = tiny_runs
    arguments = [str(first), "--interpolate", str(second), "--grid-size=3", "--subset-size=100"]
    assert main([*arguments, f"--output-dir={tmp_path}"]) == 0
    saved = np.load(tmp_path / "interpolation.npz")
    # -0.5, 0.5, 1.5 asked for; the two runs themselves are always on the line
    np.testing.assert_allclose(saved["alphas"], [-0.5, 0, 0.5, 1, 1.5])
    assert evaluations == [5, 5]  # training images, then test images
    config = OmegaConf.load(first / ".hydra/config.yaml")
    subsets = data_subsets(config, tiny_data_dir, 100, 0, ("train", "test"))
    for split, (images, labels) in subsets.items():
        losses = saved[f"{split}_losses"]
        assert losses[1] == pytest.approx(own_loss(first, images, labels), rel=1e-5)
        assert losses[3] == pytest.approx(own_loss(second, images, labels), rel=1e-5)
        assert losses[2] != pytest.approx(losses[1], rel=1e-3)  # halfway is somewhere else
    out = capsys.readouterr().out
    assert "line from run seed1 (seed 1) at alpha 0 to run seed2 (seed 2) at alpha 1" in out
    train_losses = saved["train_losses"]
    assert (
        f"100 training images: loss {train_losses[1]:.4f} / {train_losses[2]:.4f} / "
        f"{train_losses[3]:.4f}" in out
    )
    assert "100 test images: loss" in out
    assert (tmp_path / "interpolation.png").stat().st_size > 20_000


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        (["{empty}"], "error: {empty} has no .hydra/config.yaml; landscape needs a run dir"),
        (["/no/such/run"], "error: /no/such/run does not exist; give a run dir"),
        (["{other}"], "error: {other} has no trajectory.pt; train with the trajectory recorded"),
        (["{run}", "--grid-size=1"], "error: argument --grid-size: '1' is not accepted; expected"),
        (["{run}", "--subset-size=0"], "error: argument --subset-size: '0' is not accepted"),
        (
            ["{sweep}"],
            "error: {sweep} has no .hydra/config.yaml; landscape needs a run dir made by "
            "mnist_lab.train (a sweep dir: give one of its runs",
        ),
        (["{run}", "--span=-2"], "error: argument --span: '-2' is not accepted; expected a number"),
        (
            ["{run}", "--subset-size=100000"],
            "error: --subset-size 100000 is larger than the run's training split (540 images)",
        ),
        (["{run}", "--compare", "{other}"], "error: {other} has no trajectory.pt"),
        (["{gan}"], "error: {gan} trained mnist_lab.models.gan.GAN; the landscape is the cross"),
        (["{short}"], "error: {short}/trajectory.pt holds 2 snapshots; a plane needs at least 3"),
        (
            ["{run}", "--compare", "{alien}"],
            "error: {alien} trained a different network from {run}; --compare needs two runs",
        ),
        (
            ["{run}", "--interpolate", "{batch_norm}"],
            "error: {batch_norm} trained a different network from {run} (6 parameter tensors, "
            "6,386 parameters against 4 parameter tensors, 12,730 parameters); --interpolate "
            "needs two runs of the same network",
        ),
        (
            ["{batch_norm}", "--interpolate", "{batch_norm}"],
            "error: {batch_norm}'s network has BatchNorm, whose running statistics the line",
        ),
        (
            ["{run}", "--interpolate", "{fashion}"],
            "error: {fashion} trained on fashion_mnist, {run} on mnist; --interpolate needs two "
            "runs on the same dataset",
        ),
        (["{run}", "--interpolate", "{gan}"], "error: {gan} trained mnist_lab.models.gan.GAN"),
        (["{other}", "--directions=random"], "error: {other} has no checkpoints/last.ckpt"),
        (
            ["{run}", "--directions=sideways"],
            "error: argument --directions: invalid choice: 'sideways' (choose from",
        ),
        (
            ["{run}", "--directions=random", "--dimensions=3"],
            "error: argument --dimensions: invalid choice: 3 (choose from",
        ),
        (["{run}", "--dimensions=1"], "error: --dimensions 1 counts random directions; add"),
        (
            ["{run}", "--interpolate", "{run}", "--compare", "{run}"],
            "error: --interpolate draws the line between two runs; leave out --compare",
        ),
        (
            ["{run}", "--compare", "{run}", "--directions=random"],
            "error: --compare draws two trajectories on their PCA plane",
        ),
    ],
)
def test_bad_input_is_one_line_and_exit_2(
    tiny_runs: list[Path],
    tiny_batch_norm_run: Path,
    tmp_path: Path,
    capsys,
    monkeypatch,
    tiny_data_dir,
    arguments,
    message,
) -> None:
    monkeypatch.setenv("MNIST_LAB_DATA_DIR", str(tiny_data_dir))
    other = tmp_path / "other"  # a run dir without a trajectory
    (other / ".hydra").mkdir(parents=True)
    classifier = "mnist_lab.models.classifier.Classifier"
    (other / ".hydra" / "config.yaml").write_text(f"seed: 1\nmodel:\n  _target_: {classifier}\n")
    gan = tmp_path / "gan"
    (gan / ".hydra").mkdir(parents=True)
    (gan / ".hydra" / "config.yaml").write_text("model:\n  _target_: mnist_lab.models.gan.GAN\n")
    (tmp_path / "empty").mkdir()
    places = {"run": tiny_runs[0], "other": other, "empty": tmp_path / "empty", "gan": gan}
    places["batch_norm"] = tiny_batch_norm_run
    places["fashion"] = fashion = tmp_path / "fashion"  # the same run, on the other dataset
    (fashion / ".hydra").mkdir(parents=True)
    config = OmegaConf.load(tiny_runs[0] / ".hydra/config.yaml")
    config.data.name = "fashion_mnist"
    OmegaConf.save(config, fashion / ".hydra" / "config.yaml")
    places["sweep"] = tiny_runs[0].parent  # holds both runs
    for name, snapshots in (("short", 2), ("alien", 3)):  # too short; another network's
        places[name] = fake = tmp_path / name
        (fake / ".hydra").mkdir(parents=True)
        (fake / ".hydra" / "config.yaml").write_text(
            (tiny_runs[0] / ".hydra/config.yaml").read_text()
        )
        torch.save({"params": torch.zeros(snapshots, 3), "names": ["w"]}, fake / "trajectory.pt")
    filled = [argument.format(**places) for argument in arguments]
    try:
        status = main([*filled, f"--output-dir={tmp_path / 'figures'}"])
    except SystemExit as exit_:  # argparse's own refusals
        status = exit_.code
    errors = capsys.readouterr().err.strip().splitlines()
    assert status == 2
    assert len(errors) == 1 and errors[0].startswith(message.format(**places)), errors
    assert not (tmp_path / "figures").exists()


def test_help_never_imports_torch(tmp_path: Path) -> None:
    code = (
        "import sys\nfrom mnist_lab.landscape import main\n"
        "try:\n    main(['--help'])\nexcept SystemExit:\n    pass\n"
        "heavy = sorted(m for m in ('torch', 'lightning', 'sklearn') if m in sys.modules)\n"
        "print('HEAVY:', ','.join(heavy) or 'none')\n"
    )
    result = run_cli("", log_dir=tmp_path, code=code)
    assert result.returncode == 0, result.stderr
    assert "HEAVY: none" in result.stdout and "--subset-size" in result.stdout


@pytest.mark.slow
def test_real_fashion_mnist_landscape(tmp_path: Path, real_data_dir: Path, capsys) -> None:
    overrides = ["experiment=landscape_fashion", "trainer.max_epochs=1", "logger=none"]
    cfg = compose_config("train", overrides, tmp_path / "run", real_data_dir)
    assert train(cfg)["test/acc"] > 0.8
    (tmp_path / "run" / ".hydra").mkdir()
    OmegaConf.save(cfg, tmp_path / "run" / ".hydra" / "config.yaml")
    arguments = [str(tmp_path / "run"), "--grid-size=9", f"--data-dir={real_data_dir}"]
    assert main(arguments) == 0
    assert "9x9 grid on 2500 images" in capsys.readouterr().out
    saved = np.load(tmp_path / "run" / "landscape.npz")
    centre, path_losses = saved["losses"], saved["trajectory_losses_0"]
    assert path_losses[0] > 1.0 > 0.6 > path_losses[-1]  # from chance level to trained
    # The final weights sit in the valley of the plane's grid, near its lowest point.
    assert path_losses[-1] < np.median(centre)
    # Random directions start from the checkpoint's weights: the trajectory's last snapshot.
    assert main([*arguments, "--directions=random", f"--output-dir={tmp_path}"]) == 0
    random_losses = np.load(tmp_path / "random_plane.npz")["losses"]
    assert random_losses[4, 4] == pytest.approx(path_losses[-1], rel=1e-5)
    assert random_losses.max() > 2 * random_losses[4, 4]


def test_the_trajectory_is_named_for_the_run_s_optimizer() -> None:
    """An Adam run's path is no SGD trajectory (every optimizer the rules accept has a name)."""
    from omegaconf import OmegaConf

    from mnist_lab.landscape import OPTIMIZER_NAMES, optimizer_name
    from mnist_lab.runtime.rules import OPTIMIZERS

    assert set(OPTIMIZER_NAMES) == set(OPTIMIZERS)
    adam = OmegaConf.create({"model": {"optimizer": {"name": "adam"}}})
    assert optimizer_name(adam) == "Adam"
    assert optimizer_name(OmegaConf.create({"model": {}})) == "optimizer"
