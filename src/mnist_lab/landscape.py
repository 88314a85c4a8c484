"""Loss landscape (E15, E31): `python -m mnist_lab.landscape <run dir> [options]`.

Three views of the unregularised cross-entropy around a classifier run's weights, each saved
with its numbers (`.npz`) into the run dir:

- the PCA plane (default; CS541 HW3 P3): reads the parameter snapshots a run recorded
  (`trajectory.pt`, written by `callbacks=trajectory`), finds the plane the trajectory moved in
  most, and draws the loss over it with the trajectory (`landscape_surface.png`,
  `landscape_contour.png`); `--compare <run dir>` puts a second run on the same plane;
- `--directions random`: filter-normalised Gaussian directions through the final weights (Li et
  al. 2018), a curve with `--dimensions 1` (`random_line.png`), else a surface and contours
  (`random_surface.png`, `random_contour.png`);
- `--interpolate <run dir>`: the straight line from this run's final weights (alpha 0) to
  another run's (alpha 1), loss and accuracy on training and test images (`interpolation.png`).

torch, Lightning and scikit-learn are imported only once the arguments are checked, so
`--help` and argument errors answer at once.
"""

from __future__ import annotations

import argparse
import math
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
from omegaconf import DictConfig, OmegaConf

from mnist_lab import LabError
from mnist_lab.runtime.cli import (
    ArgumentParser,
    int_at_least,
    positive_float,
    print_error,
    run_command,
)
from mnist_lab.runtime.rundir import LAST_CHECKPOINT, TRAJECTORY_FILE, RunDir, default_data_dir

if TYPE_CHECKING:
    import torch
    from matplotlib.figure import Figure
    from torch import nn

    from mnist_lab.analysis.loss_plane import Plane

CLASSIFIER = "mnist_lab.models.classifier.Classifier"
# Beyond the trajectories' extent, on each side, as a fraction of that extent.
MARGIN = 0.25
# --span's defaults: random directions from -1 to 1 as Li et al. draw them (a filter-normalised
# direction is as long as the weights, so 1 doubles or cancels every filter); the line between
# two runs half its length beyond each run.
RANDOM_SPAN = 1.0
INTERPOLATION_SPAN = 0.5


def grid_axis(coordinates: np.ndarray, size: int, span: float | None) -> np.ndarray:
    """`size` evenly spaced values: [-span, span], or the coordinates' range plus a margin."""
    if span is not None:
        return np.linspace(-span, span, size)
    low, high = min(coordinates.min(), 0.0), max(coordinates.max(), 0.0)
    margin = MARGIN * max(high - low, 1e-6)
    return np.linspace(low - margin, high + margin, size)


def load_trajectory(run_dir: Path) -> dict[str, Any]:
    """A run's `trajectory.pt`; LabError when it is missing or too short for a plane."""
    import torch

    path = run_dir / TRAJECTORY_FILE
    if not path.is_file():
        raise LabError(
            f"{run_dir} has no {TRAJECTORY_FILE}; train with the trajectory recorded: "
            f"python -m mnist_lab.train callbacks=trajectory (or experiment=landscape_fashion); "
            f"--directions random and --interpolate need only its {LAST_CHECKPOINT}"
        )
    trajectory = torch.load(path, map_location="cpu")
    if len(trajectory["params"]) < 3:
        raise LabError(
            f"{path} holds {len(trajectory['params'])} snapshots; a plane needs at least 3 "
            f"(train longer or raise callbacks.trajectory.snapshots_per_epoch)"
        )
    return trajectory


def build_net(run_cfg: DictConfig, trajectory: dict[str, Any]) -> nn.Module:
    """The run's network with its final recorded parameters and buffers."""
    from hydra.utils import instantiate
    from torch.nn.utils import vector_to_parameters

    net = instantiate(run_cfg.model.net, input_shape=[1, 28, 28], num_classes=10)
    names = [name for name, _ in net.named_parameters()]
    if names != trajectory["names"]:
        raise LabError(
            "the run's config builds a network whose parameters differ from those recorded in "
            f"{TRAJECTORY_FILE}; was the config edited after training?"
        )
    vector_to_parameters(trajectory["params"][-1].clone(), net.parameters())
    net.load_state_dict(trajectory["buffers"], strict=False)
    return net.eval()


def final_net(run_dir: Path, run_cfg: DictConfig) -> nn.Module:
    """The run's network with the weights of its last epoch (`checkpoints/last.ckpt`)."""
    import torch
    from hydra.utils import instantiate

    path = RunDir(run_dir).last_checkpoint
    if not path.is_file():
        raise LabError(f"{run_dir} has no {LAST_CHECKPOINT}; give a finished classifier run")
    net = instantiate(run_cfg.model.net, input_shape=[1, 28, 28], num_classes=10)
    state = torch.load(path, map_location="cpu", weights_only=False)["state_dict"]
    weights = {key.removeprefix("net."): value for key, value in state.items()}
    try:
        net.load_state_dict({key: weights[key] for key in net.state_dict() if key in weights})
    except RuntimeError:
        raise LabError(
            f"{path} does not hold the network {run_dir}'s config builds; was the config "
            f"edited after training?"
        ) from None
    return net.eval()


SPLIT_NAMES = {"train": "training", "test": "test"}


def data_subsets(
    run_cfg: DictConfig, data_dir: str, size: int, seed: int, splits: Sequence[str] = ("train",)
) -> dict[str, tuple[torch.Tensor, torch.Tensor]]:
    """`size` random images of each of the run's `splits`, prepared as in training."""
    import torch
    from hydra.utils import instantiate

    data_cfg = run_cfg.data.copy()
    data_cfg.data_dir = data_dir
    data_cfg.seed = run_cfg.get("seed", 0)  # the saved `${seed}` resolves without the run
    datamodule = instantiate(data_cfg)
    datamodule.prepare_data()
    datamodule.setup("fit")
    subsets = {}
    for split in splits:
        images, labels = datamodule.splits[split]
        if size > len(labels):
            raise LabError(
                f"--subset-size {size} is larger than the run's {SPLIT_NAMES[split]} split "
                f"({len(labels)} images); use at most {len(labels)}"
            )
        generator = torch.Generator().manual_seed(seed)
        chosen = torch.randperm(len(labels), generator=generator)[:size]
        subsets[split] = images[chosen], labels[chosen]
    return subsets


def classifier_configs(run_dirs: Sequence[Path]) -> list[DictConfig]:
    """The saved configs of the runs named on the command line, each a classifier run's."""
    configs = [RunDir(run_dir).saved_config("landscape") for run_dir in run_dirs]
    for run_dir, cfg in zip(run_dirs, configs, strict=True):
        target = OmegaConf.select(cfg, "model._target_", default=None)
        if target != CLASSIFIER:
            raise LabError(
                f"{run_dir} trained {target}; the landscape is the cross-entropy of a "
                f"classifier run (a model on conf/recipe/classifier.yaml: mlp, cnn, lenet, ...)"
            )
    return configs


def check_same_dataset(
    run_dirs: Sequence[Path], configs: Sequence[DictConfig], option: str
) -> None:
    """LabError unless every run trained on the first run's dataset."""
    for run_dir, cfg in zip(run_dirs[1:], configs[1:], strict=True):
        if cfg.data.name != configs[0].data.name:
            raise LabError(
                f"{run_dir} trained on {cfg.data.name}, {run_dirs[0]} on "
                f"{configs[0].data.name}; {option} needs two runs on the same dataset"
            )


def load_runs(args: argparse.Namespace) -> tuple[list[Path], list[DictConfig], list[dict]]:
    """The run dirs named on the command line, their configs and trajectories, checked."""
    run_dirs = [args.run_dir] + ([args.compare] if args.compare else [])
    configs = classifier_configs(run_dirs)
    trajectories = [load_trajectory(run_dir) for run_dir in run_dirs]
    if args.compare and trajectories[1]["names"] != trajectories[0]["names"]:
        raise LabError(
            f"{args.compare} trained a different network from {args.run_dir}; --compare "
            f"needs two runs of the same network"
        )
    check_same_dataset(run_dirs, configs, "--compare")
    return run_dirs, configs, trajectories


def network_shape(net: nn.Module) -> list[tuple[str, tuple[int, ...]]]:
    """Each parameter's name and shape: two networks with the same list can be interpolated."""
    return [(name, tuple(p.shape)) for name, p in net.named_parameters()]


def describe_network(net: nn.Module) -> str:
    """How many parameter tensors and parameters a network has, for an error naming two."""
    shapes = [shape for _, shape in network_shape(net)]
    return f"{len(shapes)} parameter tensors, {sum(math.prod(s) for s in shapes):,} parameters"


def save_figures(output_dir: Path, title: str, figures: dict[str, Figure]) -> list[Path]:
    """Save each figure as `output_dir/<name>` under `title`; returns the paths."""
    output_dir.mkdir(parents=True, exist_ok=True)
    for filename, figure in figures.items():
        figure.suptitle(title)
        figure.savefig(output_dir / filename, dpi=90)
    return [output_dir / filename for filename in figures]


def save_numbers(output_dir: Path, filename: str, **arrays: Any) -> Path:
    """The numbers behind a figure as `output_dir/<filename>` (NumPy's .npz)."""
    np.savez(output_dir / filename, **arrays)
    return output_dir / filename


def save_landscape(
    output_dir: Path,
    title: str,
    plane: Plane,
    xs: np.ndarray,
    ys: np.ndarray,
    losses: np.ndarray,
    drawn: dict[str, tuple[np.ndarray, np.ndarray]],
) -> list[Path]:
    """Write the PCA plane's surface and contour figures and `landscape.npz`; returns paths."""
    from mnist_lab.plots.landscape import (
        loss_contour_figure,
        loss_surface_figure,
        pca_axis_labels,
    )

    labels = pca_axis_labels(plane.explained)
    written = save_figures(
        output_dir,
        title,
        {
            "landscape_surface.png": loss_surface_figure(xs, ys, losses, drawn, labels),
            "landscape_contour.png": loss_contour_figure(xs, ys, losses, drawn, labels),
        },
    )
    traces = list(drawn.values())
    numbers = save_numbers(
        output_dir,
        "landscape.npz",
        xs=xs,
        ys=ys,
        losses=losses,
        explained=np.array(plane.explained),
        **{f"coordinates_{i}": coords for i, (coords, _) in enumerate(traces)},
        **{f"trajectory_losses_{i}": loss for i, (_, loss) in enumerate(traces)},
    )
    return [*written, numbers]


# As the optimizers' own papers and torch write them
OPTIMIZER_NAMES = {"sgd": "SGD", "adam": "Adam", "adamw": "AdamW", "rmsprop": "RMSprop"}


def optimizer_name(config: DictConfig) -> str:
    """The run's optimizer as people write it (`Adam`), for the trajectory's legend."""
    name = str(OmegaConf.select(config, "model.optimizer.name", default="") or "")
    return OPTIMIZER_NAMES.get(name, name or "optimizer")


def landscape(args: argparse.Namespace) -> list[Path]:
    """Compute and draw the landscape the parsed command line asks for; returns the files."""
    import torch

    if args.threads:
        torch.set_num_threads(args.threads)
    if args.interpolate:
        return interpolation(args)
    if args.directions == "random":
        return random_directions(args)
    return pca_plane(args)


def timed(function: Callable[[], Any]) -> tuple[Any, str]:
    """`function()` and how long it took, as `1.23 s (1.20 s CPU)`."""
    started, cpu_started = time.perf_counter(), time.process_time()
    result = function()
    seconds, cpu_seconds = time.perf_counter() - started, time.process_time() - cpu_started
    return result, f"{seconds:.2f} s ({cpu_seconds:.2f} s CPU)"


def random_directions(args: argparse.Namespace) -> list[Path]:
    """Li et al.'s view: the loss along 1 or 2 filter-normalised random directions."""

    from mnist_lab.analysis.loss_plane import default_batch_points, plane_metrics, random_plane
    from mnist_lab.plots.landscape import (
        loss_contour_figure,
        loss_line_figure,
        loss_surface_figure,
        random_axis_labels,
    )

    (config,) = classifier_configs([args.run_dir])
    net = final_net(args.run_dir, config)
    data_dir = args.data_dir or default_data_dir()
    images, labels = data_subsets(config, data_dir, args.subset_size, args.seed)["train"]
    batch_points = args.batch_points or default_batch_points(net, images)
    plane = random_plane(net, args.dimensions, args.direction_seed)
    span = RANDOM_SPAN if args.span is None else args.span
    axis = np.linspace(-span, span, args.grid_size)
    if args.dimensions == 1:
        coordinates = axis[:, None]
    else:
        grid_x, grid_y = np.meshgrid(axis, axis)
        coordinates = np.stack([grid_x.ravel(), grid_y.ravel()], 1)
    (losses, accuracies), took = timed(
        lambda: plane_metrics(net, plane, coordinates, images, labels, batch_points)
    )
    (own_loss,), (own_accuracy,) = plane_metrics(
        net, plane, np.zeros((1, args.dimensions)), images, labels
    )
    axis_labels = random_axis_labels(args.direction_seed, args.dimensions)
    title = f"{config.data.name}: training cross-entropy on {len(labels)} images"
    output_dir = args.output_dir or args.run_dir
    if args.dimensions == 1:
        title = f"{config.data.name}: {len(labels)} training images along a random direction"
        curves = {f"{len(labels)} training images": (losses, accuracies)}
        figure = loss_line_figure(axis, curves, axis_labels[0], {"final weights": 0.0})
        written = save_figures(output_dir, title, {"random_line.png": figure})
        numbers = dict(alphas=axis, losses=losses, accuracies=accuracies)
        written.append(save_numbers(output_dir, "random_line.npz", **numbers))
    else:
        grid = losses.reshape(len(axis), len(axis))
        drawn = {"final weights": (np.zeros((1, 2)), np.array([own_loss]))}
        figures = {
            "random_surface.png": loss_surface_figure(
                axis,
                axis,
                grid,
                drawn,
                axis_labels,
                "two filter-normalised random directions",
                ceiling=float(np.quantile(grid, 0.9)),
            ),
            "random_contour.png": loss_contour_figure(axis, axis, grid, drawn, axis_labels),
        }
        written = save_figures(output_dir, title, figures)
        numbers = dict(xs=axis, ys=axis, losses=grid, accuracies=accuracies.reshape(grid.shape))
        written.append(save_numbers(output_dir, "random_plane.npz", **numbers))

    shape = "x".join([str(len(axis))] * args.dimensions)
    directions = "direction" if args.dimensions == 1 else "directions"
    print(
        f"{args.dimensions} filter-normalised random {directions} (seed {args.direction_seed}) "
        f"through the final weights ({sum(p.numel() for p in net.parameters()):,} parameters; "
        f"biases and BatchNorm parameters held fixed), from -{span:g} to {span:g}"
    )
    print(
        f"{shape} points on {len(labels)} training images: {took}, "
        f"{_threads()}, {batch_points} points per pass; loss "
        f"{own_loss:.4f} (accuracy {own_accuracy:.4f}) at the final weights, "
        f"{losses.min():.4f} to {losses.max():.4f} over the "
        + ("line" if args.dimensions == 1 else "plane")
    )
    return written


def interpolation(args: argparse.Namespace) -> list[Path]:
    """The loss and accuracy along the straight line between two runs' final weights."""
    from torch.nn.modules.batchnorm import _BatchNorm
    from torch.nn.utils import parameters_to_vector

    from mnist_lab.analysis.loss_plane import Plane, default_batch_points, plane_metrics
    from mnist_lab.plots.landscape import loss_line_figure

    run_dirs = [args.run_dir, args.interpolate]
    configs = classifier_configs(run_dirs)
    check_same_dataset(run_dirs, configs, "--interpolate")
    nets = [final_net(run_dir, cfg) for run_dir, cfg in zip(run_dirs, configs, strict=True)]
    if network_shape(nets[1]) != network_shape(nets[0]):
        raise LabError(
            f"{args.interpolate} trained a different network from {args.run_dir} "
            f"({describe_network(nets[1])} against {describe_network(nets[0])}); "
            f"--interpolate needs two runs of the same network"
        )
    if any(isinstance(module, _BatchNorm) for module in nets[0].modules()):
        # Between two runs the running statistics would have to be re-estimated at every point.
        raise LabError(
            f"{args.run_dir}'s network has BatchNorm, whose running statistics the line "
            f"between two runs does not define; --interpolate takes networks without BatchNorm"
        )
    start, end = (parameters_to_vector(net.parameters()).detach() for net in nets)
    line = Plane(start, (end - start)[None])
    span = INTERPOLATION_SPAN if args.span is None else args.span
    ends = [0.0, 0.5, 1.0]  # the two runs and halfway: always measured exactly
    # Rounded so that a grid point a rounding error from an end is that end, not its neighbour.
    alphas = np.union1d(np.linspace(-span, 1 + span, args.grid_size).round(12), ends)
    data_dir = args.data_dir or default_data_dir()
    subsets = data_subsets(configs[0], data_dir, args.subset_size, args.seed, ("train", "test"))
    batch_points = args.batch_points or default_batch_points(nets[0], subsets["train"][0])
    curves, took = {}, []
    for split, (images, labels) in subsets.items():
        metrics, seconds = timed(
            lambda images=images, labels=labels: plane_metrics(
                nets[0], line, alphas[:, None], images, labels, batch_points
            )
        )
        curves[f"{len(labels)} {SPLIT_NAMES[split]} images"] = metrics
        took.append(seconds)

    names = [f"run {d.name} (seed {c.seed})" for d, c in zip(run_dirs, configs, strict=True)]
    marks = {f"alpha 0: {names[0]}": 0.0, f"alpha 1: {names[1]}": 1.0}
    axis_label = "alpha: weights (1 - alpha) * first run + alpha * second run"
    figure = loss_line_figure(alphas, curves, axis_label, marks)
    title = f"{configs[0].data.name}: the line between two runs' final weights"
    output_dir = args.output_dir or args.run_dir
    written = save_figures(output_dir, title, {"interpolation.png": figure})
    (train_loss, train_acc), (test_loss, test_acc) = curves.values()
    numbers = dict(
        alphas=alphas,
        train_losses=train_loss,
        train_accuracies=train_acc,
        test_losses=test_loss,
        test_accuracies=test_acc,
    )
    written.append(save_numbers(output_dir, "interpolation.npz", **numbers))

    print(
        f"line from {names[0]} at alpha 0 to {names[1]} at alpha 1, "
        f"{float((end - start).norm()):.2f} apart; {len(alphas)} points from -{span:g} to "
        f"{1 + span:g} in {' and '.join(took)}"
    )
    at = [int(np.flatnonzero(alphas == alpha)[0]) for alpha in ends]
    for name, (losses, accuracies) in curves.items():
        print(
            f"{name}: loss {losses[at[0]]:.4f} / {losses[at[1]]:.4f} / {losses[at[2]]:.4f}, "
            f"accuracy {accuracies[at[0]]:.4f} / {accuracies[at[1]]:.4f} / "
            f"{accuracies[at[2]]:.4f} at alpha 0 / 0.5 / 1"
        )
    return written


def pca_plane(args: argparse.Namespace) -> list[Path]:
    """CS541 HW3 P3's view: the loss over the PCA plane of recorded trajectories."""

    from mnist_lab.analysis.loss_plane import (
        default_batch_points,
        fit_plane,
        grid_losses,
        losses_at,
    )

    run_dirs, configs, trajectories = load_runs(args)
    net = build_net(configs[0], trajectories[0])
    data_dir = args.data_dir or default_data_dir()
    images, labels = data_subsets(configs[0], data_dir, args.subset_size, args.seed)["train"]

    batch_points = args.batch_points or default_batch_points(net, images)
    paths = [t["params"] for t in trajectories]
    plane = fit_plane(paths)
    coordinates = [plane.project(path) for path in paths]
    every = np.concatenate(coordinates)
    xs = grid_axis(every[:, 0], args.grid_size, args.span)
    ys = grid_axis(every[:, 1], args.grid_size, args.span)
    started, cpu_started = time.perf_counter(), time.process_time()
    losses = grid_losses(net, plane, xs, ys, images, labels, batch_points)
    seconds, cpu_seconds = time.perf_counter() - started, time.process_time() - cpu_started
    path_losses = [losses_at(net, path, images, labels, batch_points).numpy() for path in paths]

    names = [f"{optimizer_name(configs[0])} trajectory"]
    if args.compare:
        names = [
            f"run {d.name} (seed {c.seed}, {optimizer_name(c)})"
            for d, c in zip(run_dirs, configs, strict=True)
        ]
    drawn = dict(zip(names, zip(coordinates, path_losses, strict=True), strict=True))
    title = f"{configs[0].data.name}: training cross-entropy on {len(labels)} images"
    written = save_landscape(args.output_dir or args.run_dir, title, plane, xs, ys, losses, drawn)

    print(
        f"plane: PCA of {sum(len(p) for p in paths)} snapshots of {paths[0].shape[1]:,} "
        f"parameters; explained variance {plane.explained[0]:.1%} and {plane.explained[1]:.1%}"
    )
    for name, path_loss in zip(names, path_losses, strict=True):
        print(f"{name}: loss {path_loss[0]:.4f} at the start, {path_loss[-1]:.4f} at the end")
    print(
        f"{len(ys)}x{len(xs)} grid on {len(labels)} images: {seconds:.2f} s "
        f"({1000 * seconds / len(xs) / len(ys):.1f} ms per point, {cpu_seconds:.2f} s CPU, "
        f"{_threads()}, {batch_points} points per pass); "
        f"loss {losses.min():.4f} to {losses.max():.4f}"
    )
    return written


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    """The command line; bad values exit with one `error:` line and status 2."""
    parser = ArgumentParser(
        prog="python -m mnist_lab.landscape",
        description="The training cross-entropy around a classifier run's weights: over the "
        "top-2 PCA directions of its recorded parameter trajectory, with the trajectory drawn on "
        "it (default; train with callbacks=trajectory), along filter-normalised random "
        "directions (--directions random), or on the line to another run (--interpolate).",
    )
    parser.add_argument(
        "run_dir", type=Path, help="a classifier run dir (trajectory.pt for the PCA plane)"
    )
    parser.add_argument(
        "--compare",
        type=Path,
        metavar="RUN_DIR",
        help="a second run of the same network to draw on the same PCA plane (PCA of both "
        "trajectories together, centred between the two final weights)",
    )
    parser.add_argument(
        "--directions",
        choices=("pca", "random"),
        default="pca",
        help="pca: the trajectory's top-2 principal directions (default); random: Gaussian "
        "directions through the final weights, each filter (a Linear row, a Conv2d output "
        "channel) scaled to the norm of the weights' filter, biases and BatchNorm held fixed "
        "(Li et al. 2018)",
    )
    parser.add_argument(
        "--dimensions",
        type=int,
        choices=(1, 2),
        default=2,
        help="with --directions random: 1 draws the loss along one direction (a curve), 2 "
        "over two (surface and contours; default)",
    )
    parser.add_argument(
        "--direction-seed",
        type=int,
        default=0,
        help="draws the random directions (default 0)",
    )
    parser.add_argument(
        "--interpolate",
        type=Path,
        metavar="RUN_DIR",
        help="a second run of the same network (another seed, say): loss and accuracy on "
        "--subset-size training and test images along the line from this run's final weights "
        "(alpha 0) to that run's (alpha 1)",
    )
    parser.add_argument(
        "--grid-size",
        type=int_at_least(2),
        default=25,
        help="points per axis, or along the line (default 25)",
    )
    parser.add_argument(
        "--span",
        type=positive_float,
        help="PCA: grid from -SPAN to +SPAN along both directions (parameter-space "
        "distance; default: the trajectories' extent plus 25%% on each side); random: "
        f"-SPAN to +SPAN times each direction (default {RANDOM_SPAN:g}); --interpolate: alpha "
        f"from -SPAN to 1 + SPAN (default {INTERPOLATION_SPAN:g})",
    )
    parser.add_argument(
        "--subset-size",
        type=int_at_least(1),
        default=2500,
        help="random training images the loss is measured on (default 2500)",
    )
    parser.add_argument(
        "--batch-points",
        type=int_at_least(1),
        help="grid points evaluated together in one vmapped pass (default: as many as keep "
        "each activation under 8 MB, at most 64: 16 for the E15 MLP, 1 for a CNN)",
    )
    parser.add_argument("--seed", type=int, default=0, help="picks the subset (default 0)")
    parser.add_argument(
        "--data-dir", help="where the data is now (default: $MNIST_LAB_DATA_DIR, else data)"
    )
    parser.add_argument(
        "--output-dir", type=Path, help="where the figures go (default: the run dir)"
    )
    parser.add_argument("--threads", type=int_at_least(1), help="torch threads (default: all)")
    args = parser.parse_args(argv)
    if args.interpolate and (args.compare or args.directions != "pca"):
        parser.error(
            "--interpolate draws the line between two runs; leave out --compare and --directions"
        )
    if args.compare and args.directions != "pca":
        parser.error(
            "--compare draws two trajectories on their PCA plane; it takes "
            "--directions pca, not random"
        )
    if args.dimensions != 2 and args.directions != "random":
        parser.error(
            f"--dimensions {args.dimensions} counts random directions; add "
            "--directions random (the PCA plane and --interpolate have their own)"
        )
    return args


def _threads() -> str:
    """torch's thread count in words: `1 thread`, `2 threads`."""
    import torch

    count = torch.get_num_threads()
    return f"{count} thread" + ("" if count == 1 else "s")


def main(argv: Sequence[str] | None = None) -> int:
    """Command line entry point; returns the exit status (2 for bad input)."""
    args = parse_args(argv)
    try:
        written = landscape(args)
    except LabError as error:
        return print_error(error)
    for path in written:
        print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(run_command(main))
