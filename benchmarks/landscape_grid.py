"""Seconds for a loss-landscape grid: one point at a time vs vmapped batches of grid points.

    python benchmarks/landscape_grid.py [--experiment landscape_fashion] [--grid-size 25]
        [--subset-size 2500] [--batch-points 1,4,16,64,256] [--repeats 3]

The network is the experiment's (E15: Fashion-MNIST MLP 784-50-50-50-10), the images are
`--subset-size` real training images, and the plane is random: the cost of a grid does not
depend on where the plane lies. Compared on the same grid:

- loop: for each point, copy the vector into the network's parameters and run it.
- vmap B: `mnist_lab.analysis.loss_plane.losses_at`, B grid points per vmapped functional_call.
- plane B: `mnist_lab.analysis.loss_plane.grid_losses` (what the lab uses): the first layer's
  output on the plane computed 3 times in all (it is affine in its parameters), the rest
  vmapped, B points at a time.

Each figure is the median of `--repeats` whole grids; CPU seconds (all threads) beside wall.
"""

from __future__ import annotations

import argparse
import os
import statistics
import time
from pathlib import Path

# As mnist_lab itself does on import (see its __init__): set before torch starts its threads.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import numpy as np  # noqa: E402
import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402
from hydra import compose, initialize_config_dir  # noqa: E402
from hydra.utils import instantiate  # noqa: E402
from torch.nn.utils import vector_to_parameters  # noqa: E402

from mnist_lab.analysis.loss_plane import Plane, grid_losses, losses_at  # noqa: E402

CONF_DIR = Path(__file__).resolve().parents[1] / "conf"


@torch.no_grad()
def loop_grid(net, plane: Plane, xs, ys, images, labels) -> np.ndarray:
    losses = np.empty((len(ys), len(xs)))
    for i, y in enumerate(ys):
        for j, x in enumerate(xs):
            vector_to_parameters(plane.points(torch.tensor([[x, y]]).float())[0], net.parameters())
            losses[i, j] = F.cross_entropy(net(images), labels).item()
    return losses


def timed(function) -> tuple[float, float, np.ndarray]:
    wall, cpu = time.perf_counter(), time.process_time()
    result = function()
    return time.perf_counter() - wall, time.process_time() - cpu, result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--experiment", default="landscape_fashion")
    parser.add_argument("--grid-size", type=int, default=25)
    parser.add_argument("--subset-size", type=int, default=2500)
    parser.add_argument("--batch-points", default="1,4,16,64,256")
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()

    with initialize_config_dir(str(CONF_DIR), version_base="1.3"):
        cfg = compose("train", overrides=[f"experiment={args.experiment}"])
    torch.manual_seed(0)
    datamodule = instantiate(cfg.data)
    datamodule.setup("fit")
    images, labels = (t[: args.subset_size] for t in datamodule.splits["train"])
    net = instantiate(cfg.model.net, input_shape=[1, 28, 28], num_classes=10).eval()
    origin = torch.cat([p.detach().flatten() for p in net.parameters()])
    directions = torch.linalg.qr(torch.randn(len(origin), 2)).Q.T.contiguous()
    plane = Plane(origin, directions, (0.5, 0.5))
    xs = ys = np.linspace(-1, 1, args.grid_size)
    points = args.grid_size**2
    print(
        f"torch {torch.__version__}, {torch.get_num_threads()} threads; {args.grid_size}x"
        f"{args.grid_size} grid, {len(origin):,} parameters, {len(labels)} images"
    )

    cases = {"loop": lambda: loop_grid(net, plane, xs, ys, images, labels)}
    grid = torch.from_numpy(np.stack(np.meshgrid(xs, ys), -1).reshape(-1, 2)).float()
    sizes = [int(b) for b in args.batch_points.split(",")]
    for size in sizes:
        cases[f"vmap {size}"] = lambda size=size: (
            losses_at(net, plane.points(grid), images, labels, size).reshape(len(ys), -1).numpy()
        )
    for size in sizes:
        cases[f"plane {size}"] = lambda size=size: grid_losses(
            net, plane, xs, ys, images, labels, size
        )
    reference = None
    print(f"{'case':>10}{'wall s':>10}{'CPU s':>10}{'ms/point':>10}{'max diff':>10}")
    for name, run in cases.items():
        results = [timed(run) for _ in range(args.repeats)]
        wall = statistics.median(r[0] for r in results)
        cpu = statistics.median(r[1] for r in results)
        losses = results[-1][2]
        reference = losses if reference is None else reference
        difference = float(np.abs(losses - reference).max())
        print(f"{name:>10}{wall:10.2f}{cpu:10.2f}{1000 * wall / points:10.2f}{difference:10.1e}")


if __name__ == "__main__":
    main()
