"""The loss over a plane or a line in parameter space (E15, E31): the directions (PCA of a
trajectory, filter-normalised random directions, the line between two runs) and one batched
evaluation of the loss and accuracy at points on them."""

from __future__ import annotations

import copy
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn
from torch.func import functional_call

AFFINE_LAYERS = (nn.Linear, nn.Conv2d)
# Floats one batched activation may hold: 8 MB. Past that, batching more grid points only
# adds memory traffic (measured: a CNN is fastest one point at a time, the E15 MLP at 16).
ACTIVATION_BUDGET = 2**21


@dataclass
class Plane:
    """origin + sum_k coordinates[k] * directions[k]: a plane (2 directions) or a line (1).

    PCA's directions are orthonormal; random and interpolation directions are not.
    """

    origin: torch.Tensor  # [P]
    directions: torch.Tensor  # [K, P]
    # fraction of the trajectories' variance along each direction (PCA only)
    explained: tuple[float, ...] = ()

    def project(self, vectors: torch.Tensor) -> np.ndarray:
        """Coordinates [T, K] of parameter vectors [T, P] (orthonormal directions only)."""
        return ((vectors - self.origin) @ self.directions.T).numpy()

    def points(self, coordinates: torch.Tensor) -> torch.Tensor:
        """Parameter vectors [G, P] at coordinates [G, K]."""
        return self.origin + coordinates @ self.directions


def fit_plane(trajectories: Sequence[torch.Tensor]) -> Plane:
    """The top-2 PCA directions of all snapshots together, through the runs' mean final weights.

    With one run the origin is its final weights. Signs are chosen so that the first run
    starts at coordinates <= 0: training moves towards +x and +y.
    """
    from sklearn.decomposition import PCA

    stacked = torch.cat(list(trajectories)).double().numpy()
    pca = PCA(n_components=2, svd_solver="full").fit(stacked)
    directions = torch.from_numpy(pca.components_).float()
    origin = torch.stack([t[-1] for t in trajectories]).mean(0)
    start = (trajectories[0][0] - origin) @ directions.T
    directions *= torch.where(start > 0, -1.0, 1.0)[:, None]
    first, second = (float(r) for r in pca.explained_variance_ratio_)
    return Plane(origin, directions, (first, second))


def filter_normalised_direction(net: nn.Module, generator: torch.Generator) -> torch.Tensor:
    """A Gaussian random direction [P] scaled filter by filter to the net's weights (Li et al.).

    A filter is a slice along a weight's first dimension: a Linear layer's row (one output
    unit's weights), a Conv2d layer's output channel. Each gets the norm of the same filter of
    the weights, so the direction moves every unit by as much as its own scale, whatever the
    layer (ReLU nets are unchanged by rescaling a unit's weights, so raw directions mean little).
    One-dimensional parameters (biases, BatchNorm's scale and shift) stay at zero, as in the paper.
    """
    parts = []
    for weight in net.parameters():
        weight = weight.detach()
        if weight.dim() <= 1:
            parts.append(torch.zeros(weight.numel()))
            continue
        direction = torch.randn(weight.shape, generator=generator)
        filters, weight_filters = direction.flatten(1), weight.flatten(1)
        scale = weight_filters.norm(dim=1) / (filters.norm(dim=1) + 1e-10)
        parts.append((filters * scale[:, None]).flatten())
    return torch.cat(parts)


def random_plane(net: nn.Module, dimensions: int, seed: int) -> Plane:
    """`dimensions` (1 or 2) filter-normalised random directions through the net's weights."""
    from torch.nn.utils import parameters_to_vector

    generator = torch.Generator().manual_seed(seed)
    directions = [filter_normalised_direction(net, generator) for _ in range(dimensions)]
    return Plane(parameters_to_vector(net.parameters()).detach(), torch.stack(directions))


def _vector_metrics(net: nn.Module, images: torch.Tensor, labels: torch.Tensor, extra: str = ""):
    """metrics(vector[, coordinates]): (cross-entropy, accuracy) with `vector` as the net's
    parameters.

    Parameters named `extra` are left out of the vector; the coordinates become that buffer.
    """
    named = [(n, p) for n, p in net.named_parameters()]
    names, shapes = [n for n, _ in named], [p.shape for _, p in named]
    sizes = [p.numel() for _, p in named]
    buffers = {n: b for n, b in net.named_buffers() if n != extra}

    def metrics(
        vector: torch.Tensor, coordinates: torch.Tensor | None = None
    ) -> tuple[torch.Tensor, torch.Tensor]:
        params = {n: v.view(s) for n, v, s in zip(names, vector.split(sizes), shapes, strict=True)}
        if coordinates is not None:
            params[extra] = coordinates
        logits = functional_call(net, (params, buffers), (images,))
        accuracy = (logits.argmax(1) == labels).float().mean()
        return F.cross_entropy(logits, labels), accuracy

    return metrics


@torch.no_grad()
def losses_at(
    net: nn.Module,
    vectors: torch.Tensor,
    images: torch.Tensor,
    labels: torch.Tensor,
    batch_points: int = 16,
) -> torch.Tensor:
    """Mean cross-entropy of `net` (eval mode) with each row of `vectors` [G, P] as parameters.

    `batch_points` vectors go through the network together (vmap over functional_call);
    buffers (BatchNorm statistics) are the net's own.
    """
    batched = torch.vmap(_vector_metrics(net.eval(), images, labels))
    return torch.cat([batched(chunk)[0] for chunk in vectors.split(batch_points)])


@torch.no_grad()
def default_batch_points(net: nn.Module, images: torch.Tensor, most: int = 64) -> int:
    """Grid points per vmapped pass that keep every activation under ACTIVATION_BUDGET floats.

    Only activations from the first layer with parameters on count: those before it do not
    depend on the parameters and are computed once for all points.
    """
    largest, reached = 1, False

    def measure(module: nn.Module, args: tuple, output: object) -> None:
        nonlocal largest, reached
        reached = reached or next(module.parameters(), None) is not None
        if reached and isinstance(output, torch.Tensor):
            largest = max(largest, output.numel())

    leaves = [m for m in net.modules() if not list(m.children())]
    hooks = [module.register_forward_hook(measure) for module in leaves]
    try:
        net.eval()(images)
    finally:
        for hook in hooks:
            hook.remove()
    return max(1, min(most, ACTIVATION_BUDGET // largest))


class PlaneInput(nn.Module):
    """Stands in for a network's first layer while the parameters stay on one plane (or line).

    That layer is affine in its parameters and sees the same images at every point, so its
    output at plane coordinates (x, y) is outputs[0] + x * outputs[1] + y * outputs[2]: three
    evaluations (two on a line) replace one per point. In an MLP that layer holds most of the
    work.
    """

    def __init__(self, outputs: torch.Tensor) -> None:
        super().__init__()
        self.register_buffer("outputs", outputs)
        self.register_buffer("coordinates", torch.zeros(len(outputs) - 1, dtype=outputs.dtype))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.outputs[0] + torch.tensordot(self.coordinates, self.outputs[1:], dims=1)


def first_affine_layer(net: nn.Module, images: torch.Tensor) -> tuple[str, torch.Tensor] | None:
    """(name, its input) of the layer that first touches parameters, if it is Linear or Conv2d.

    Found by running the net once: only parameter-free modules (Flatten, ...) may come before
    it, so its input is the same for every parameter vector. None when there is no such layer.
    """
    calls: list[tuple[str, nn.Module, torch.Tensor]] = []
    leaves = [(n, m) for n, m in net.named_modules() if not list(m.children())]
    hooks = [
        module.register_forward_pre_hook(
            lambda module, args, name=name: calls.append((name, module, args[0]))
        )
        for name, module in leaves
    ]
    try:
        net(images)
    finally:
        for hook in hooks:
            hook.remove()
    for name, module, inputs in calls:
        if next(module.parameters(), None) is not None:
            return (name, inputs) if isinstance(module, AFFINE_LAYERS) else None
    return None


@torch.no_grad()
def plane_metrics(
    net: nn.Module,
    plane: Plane,
    coordinates: np.ndarray,
    images: torch.Tensor,
    labels: torch.Tensor,
    batch_points: int = 16,
) -> tuple[np.ndarray, np.ndarray]:
    """(cross-entropy [G], accuracy [G]) at points [G, K] of a plane or line: the one evaluation
    behind the PCA plane, the random directions and the interpolation between two runs.

    When the net begins with a Linear or Conv2d layer, that layer's output on the plane is
    computed K + 1 times in all (see PlaneInput), and the rest of the net runs vmapped,
    `batch_points` points at a time.
    """
    net.eval()
    points = torch.from_numpy(
        np.asarray(coordinates, dtype=np.float32).reshape(len(coordinates), -1)
    )
    first = first_affine_layer(net, images)
    if first is None:
        batched = torch.vmap(_vector_metrics(net, images, labels))
        chunks = [batched(plane.points(chunk)) for chunk in points.split(batch_points)]
    else:
        name, inputs = first
        layer = net.get_submodule(name)
        # Where the first layer's parameters sit in the flat vector (named_parameters order).
        in_layer = torch.cat(
            [
                torch.full((p.numel(),), n.startswith(name + "."), dtype=torch.bool)
                for n, p in net.named_parameters()
            ]
        )
        layer_names = [n for n, _ in layer.named_parameters()]
        layer_sizes = [p.numel() for _, p in layer.named_parameters()]
        layer_shapes = [p.shape for _, p in layer.named_parameters()]

        def layer_output(vector: torch.Tensor) -> torch.Tensor:
            parts = vector[in_layer].split(layer_sizes)
            params = {
                n: v.view(s) for n, v, s in zip(layer_names, parts, layer_shapes, strict=True)
            }
            return functional_call(layer, params, (inputs,))

        outputs = torch.stack([layer_output(v) for v in (plane.origin, *plane.directions)])
        reduced = copy.deepcopy(net)
        reduced.set_submodule(name, PlaneInput(outputs))
        batched = torch.vmap(_vector_metrics(reduced, images, labels, extra=f"{name}.coordinates"))
        rest_origin, rest_directions = plane.origin[~in_layer], plane.directions[:, ~in_layer]
        chunks = [
            batched(rest_origin + chunk @ rest_directions, chunk)
            for chunk in points.split(batch_points)
        ]
    losses, accuracies = (torch.cat(values).numpy() for values in zip(*chunks, strict=True))
    return losses, accuracies


def grid_losses(
    net: nn.Module,
    plane: Plane,
    xs: np.ndarray,
    ys: np.ndarray,
    images: torch.Tensor,
    labels: torch.Tensor,
    batch_points: int = 16,
) -> np.ndarray:
    """Loss at every grid point of a plane: [len(ys), len(xs)], row i is y = ys[i]."""
    grid_x, grid_y = np.meshgrid(xs, ys)
    coordinates = np.stack([grid_x.ravel(), grid_y.ravel()], 1)
    losses, _ = plane_metrics(net, plane, coordinates, images, labels, batch_points)
    return losses.reshape(grid_x.shape)
