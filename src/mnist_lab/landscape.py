"""Loss landscape (E15): `python -m mnist_lab.landscape <run dir> [--compare <run dir>]`.

Reads the parameter snapshots a run recorded (`trajectory.pt`, written by the
`callbacks=trajectory` option), finds the plane the trajectory moved in most (PCA), evaluates
the unregularised training cross-entropy on a grid over that plane, and saves
`landscape_surface.png` (3-D surface with the trajectory), `landscape_contour.png` and the
numbers as `landscape.npz` into the run dir.

torch, Lightning and scikit-learn are imported only once the arguments are checked, so
`--help` and argument errors answer at once.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Sequence
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
from mnist_lab.runtime.rundir import TRAJECTORY_FILE, RunDir, default_data_dir

if TYPE_CHECKING:
    import torch
    from torch import nn

    from mnist_lab.analysis.loss_plane import Plane

CLASSIFIER = "mnist_lab.models.classifier.Classifier"
# Beyond the trajectories' extent, on each side, as a fraction of that extent.
MARGIN = 0.25


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
            f"python -m mnist_lab.train callbacks=trajectory (or experiment=landscape_fashion)"
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


def training_subset(
    run_cfg: DictConfig, data_dir: str, size: int, seed: int
) -> tuple[torch.Tensor, torch.Tensor]:
    """`size` random images of the run's training split, prepared as in training."""
    import torch
    from hydra.utils import instantiate

    data_cfg = run_cfg.data.copy()
    data_cfg.data_dir = data_dir
    data_cfg.seed = run_cfg.get("seed", 0)  # the saved `${seed}` resolves without the run
    datamodule = instantiate(data_cfg)
    datamodule.prepare_data()
    datamodule.setup("fit")
    images, labels = datamodule.splits["train"]
    if size > len(labels):
        raise LabError(
            f"--subset-size {size} is larger than the run's training split ({len(labels)} "
            f"images); use at most {len(labels)}"
        )
    chosen = torch.randperm(len(labels), generator=torch.Generator().manual_seed(seed))[:size]
    return images[chosen], labels[chosen]


def load_runs(args: argparse.Namespace) -> tuple[list[Path], list[DictConfig], list[dict]]:
    """The run dirs named on the command line, their configs and trajectories, checked."""
    run_dirs = [args.run_dir] + ([args.compare] if args.compare else [])
    configs = [RunDir(run_dir).saved_config("landscape") for run_dir in run_dirs]
    for run_dir, cfg in zip(run_dirs, configs, strict=True):
        target = OmegaConf.select(cfg, "model._target_", default=None)
        if target != CLASSIFIER:
            raise LabError(
                f"{run_dir} trained {target}; the landscape is the cross-entropy of a "
                f"classifier run (a model on conf/recipe/classifier.yaml: mlp, cnn, lenet, ...)"
            )
    trajectories = [load_trajectory(run_dir) for run_dir in run_dirs]
    if args.compare and trajectories[1]["names"] != trajectories[0]["names"]:
        raise LabError(
            f"{args.compare} trained a different network from {args.run_dir}; --compare "
            f"needs two runs of the same network"
        )
    if args.compare and configs[1].data.name != configs[0].data.name:
        raise LabError(
            f"{args.compare} trained on {configs[1].data.name}, {args.run_dir} on "
            f"{configs[0].data.name}; --compare needs two runs on the same dataset"
        )
    return run_dirs, configs, trajectories


def save_landscape(
    output_dir: Path,
    title: str,
    plane: Plane,
    xs: np.ndarray,
    ys: np.ndarray,
    losses: np.ndarray,
    drawn: dict[str, tuple[np.ndarray, np.ndarray]],
) -> list[Path]:
    """Write the surface and contour figures and `landscape.npz`; returns their paths."""
    from mnist_lab.plots.landscape import loss_contour_figure, loss_surface_figure

    output_dir.mkdir(parents=True, exist_ok=True)
    written = []
    for filename, figure in (
        ("landscape_surface.png", loss_surface_figure(xs, ys, losses, drawn, plane.explained)),
        ("landscape_contour.png", loss_contour_figure(xs, ys, losses, drawn, plane.explained)),
    ):
        figure.suptitle(title)
        figure.savefig(output_dir / filename, dpi=90)
        written.append(output_dir / filename)
    traces = list(drawn.values())
    np.savez(
        output_dir / "landscape.npz",
        xs=xs,
        ys=ys,
        losses=losses,
        explained=np.array(plane.explained),
        **{f"coordinates_{i}": coords for i, (coords, _) in enumerate(traces)},
        **{f"trajectory_losses_{i}": loss for i, (_, loss) in enumerate(traces)},
    )
    return [*written, output_dir / "landscape.npz"]


# As the optimizers' own papers and torch write them
OPTIMIZER_NAMES = {"sgd": "SGD", "adam": "Adam", "adamw": "AdamW", "rmsprop": "RMSprop"}


def optimizer_name(config: DictConfig) -> str:
    """The run's optimizer as people write it (`Adam`), for the trajectory's legend."""
    name = str(OmegaConf.select(config, "model.optimizer.name", default="") or "")
    return OPTIMIZER_NAMES.get(name, name or "optimizer")


def landscape(args: argparse.Namespace) -> list[Path]:
    """Compute and draw the landscape the parsed command line asks for; returns the files."""
    import torch

    from mnist_lab.analysis.loss_plane import (
        default_batch_points,
        fit_plane,
        grid_losses,
        losses_at,
    )

    run_dirs, configs, trajectories = load_runs(args)
    if args.threads:
        torch.set_num_threads(args.threads)
    net = build_net(configs[0], trajectories[0])
    data_dir = args.data_dir or default_data_dir()
    images, labels = training_subset(configs[0], data_dir, args.subset_size, args.seed)

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
        f"{torch.get_num_threads()} threads, {batch_points} points per pass); "
        f"loss {losses.min():.4f} to {losses.max():.4f}"
    )
    return written


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    """The command line; bad values exit with one `error:` line and status 2."""
    parser = ArgumentParser(
        prog="python -m mnist_lab.landscape",
        description="Loss surface over the top-2 PCA directions of a run's recorded parameter "
        "trajectory, with the trajectory drawn on it (train with callbacks=trajectory).",
    )
    parser.add_argument("run_dir", type=Path, help="a run dir holding trajectory.pt")
    parser.add_argument(
        "--compare",
        type=Path,
        metavar="RUN_DIR",
        help="a second run of the same network to draw on the same plane (PCA of both "
        "trajectories together, centred between the two final weights)",
    )
    parser.add_argument(
        "--grid-size", type=int_at_least(2), default=25, help="points per axis (default 25)"
    )
    parser.add_argument(
        "--span",
        type=positive_float,
        help="grid from -SPAN to +SPAN along both directions (parameter-space distance); "
        "default: the trajectories' extent plus 25%% on each side",
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
    return parser.parse_args(argv)


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
