"""Loss-landscape figures: the loss over a plane of weight space, with training trajectories,
and the loss and accuracy along a line (a random direction, the line between two runs)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from itertools import cycle

import matplotlib
import numpy as np
from matplotlib.figure import Figure


def pca_axis_labels(explained: Sequence[float]) -> list[str]:
    """Axis names of a PCA plane: each direction with its share of the snapshots' variance."""
    return [
        f"PC{i + 1} ({share:.1%} of the snapshots' variance)" for i, share in enumerate(explained)
    ]


def random_axis_labels(seed: int, count: int = 2) -> list[str]:
    """Axis names of filter-normalised random directions drawn with `seed`."""
    return [f"random direction {i + 1} (filter-normalised, seed {seed})" for i in range(count)]


def _draw_path(ax, coordinates: np.ndarray, color: str, name: str, heights=None) -> None:
    """A trajectory from a circle (start) to a star (end); one point is only a star."""
    lifted = () if heights is None else (heights,)
    if len(coordinates) > 1:
        ax.plot(*coordinates.T, *lifted, color=color, marker="o", ms=2.5, lw=1.2, label=name)
        start = () if heights is None else (heights[0],)
        ax.plot(*coordinates[0], *start, "o", color=color, ms=8, mec="black")
        name = None
    end = () if heights is None else (heights[-1],)
    ax.plot(*coordinates[-1], *end, "*", color=color, ms=14, mec="black", label=name, ls="none")


def _loss_levels(losses: np.ndarray, count: int = 20) -> np.ndarray:
    """Contour levels spaced evenly in log(loss): fine near the minimum, coarse up the walls."""
    low, high = float(np.nanmin(losses)), float(np.nanmax(losses))
    low = max(low, 1e-6)
    return np.geomspace(low, max(high, low * 1.001), count)


def loss_contour_figure(
    xs: np.ndarray,
    ys: np.ndarray,
    losses: np.ndarray,
    trajectories: Mapping[str, tuple[np.ndarray, np.ndarray]],
    axis_labels: Sequence[str],
) -> Figure:
    """Loss contours over a plane (`losses[i, j]` at ys[i], xs[j]) with trajectories on top.

    `trajectories` maps a name to (coordinates [T, 2], losses [T]); only the coordinates are
    drawn here. Each starts at a circle and ends at a star (a single point: the star).
    """
    fig = Figure(figsize=(7.5, 6.2), layout="constrained")
    ax = fig.add_subplot()
    levels = _loss_levels(losses)
    filled = ax.contourf(
        xs, ys, losses, levels=levels, cmap="viridis", norm=matplotlib.colors.LogNorm()
    )
    ax.contour(xs, ys, losses, levels=levels[::2], colors="white", linewidths=0.5, alpha=0.6)
    fig.colorbar(filled, ax=ax, label="cross-entropy (log scale)", format="%.3g")
    colors = ["#ff4040", "#ffb000", "#40c0ff", "#ff80ff"]
    for color, (name, (coordinates, _)) in zip(colors, trajectories.items(), strict=False):
        _draw_path(ax, coordinates, color, name)
    ax.set_xlabel(axis_labels[0])
    ax.set_ylabel(axis_labels[1])
    paths = any(len(coordinates) > 1 for coordinates, _ in trajectories.values())
    ax.set_title(
        "loss contours" + ("; trajectory from circle (start) to star (end)" if paths else ""),
        fontsize=10,
    )
    ax.legend(loc="upper left", fontsize=8)
    return fig


def loss_surface_figure(
    xs: np.ndarray,
    ys: np.ndarray,
    losses: np.ndarray,
    trajectories: Mapping[str, tuple[np.ndarray, np.ndarray]],
    axis_labels: Sequence[str],
    directions: str = "the top-2 PCA directions",
    ceiling: float | None = None,
) -> Figure:
    """The loss over a plane as a 3-D surface, trajectories drawn at their own loss.

    The surface's height is clipped at `ceiling`; by default a little above the highest
    trajectory point, so that the region SGD went through keeps its detail when the grid's far
    corners are much higher.
    """
    fig = Figure(figsize=(8, 6.5), layout="constrained")
    ax = fig.add_subplot(projection="3d")
    # Depth sorting would hide the path under the translucent surface wherever they cross.
    ax.computed_zorder = False
    if ceiling is None:
        highest = max((float(np.max(loss)) for _, loss in trajectories.values()), default=0.0)
        ceiling = max(1.2 * highest, float(np.nanmin(losses)) * 1.5)
    clipped = np.minimum(losses, ceiling)
    grid_x, grid_y = np.meshgrid(xs, ys)
    ax.plot_surface(grid_x, grid_y, clipped, cmap="viridis", alpha=0.75, linewidth=0, zorder=1)
    colors = ["#ff2020", "#ff9000", "#0090ff", "#ff40ff"]
    for color, (name, (coordinates, loss)) in zip(colors, trajectories.items(), strict=False):
        _draw_path(ax, coordinates, color, name, heights=loss)
    ax.set_xlabel(axis_labels[0], fontsize=8)
    ax.set_ylabel(axis_labels[1], fontsize=8)
    ax.set_zlabel("cross-entropy")
    ax.set_zlim(float(np.nanmin(clipped)), ceiling)
    ax.view_init(elev=40, azim=-60)  # high enough to see into valleys behind a ridge
    clipped_note = f"; surface clipped at {ceiling:.3g}" if (losses > ceiling).any() else ""
    paths = any(len(coordinates) > 1 for coordinates, _ in trajectories.values())
    note = "\ntrajectory points at their own loss: off the plane they float above the surface"
    ax.set_title(f"loss surface over {directions}{clipped_note}{note if paths else ''}", fontsize=9)
    ax.legend(loc="upper left", fontsize=8)
    return fig


def loss_line_figure(
    alphas: np.ndarray,
    curves: Mapping[str, tuple[np.ndarray, np.ndarray]],
    axis_label: str,
    marks: Mapping[str, float] | None = None,
) -> Figure:
    """Loss (left) and accuracy (right) along a line of weight space.

    `curves` maps a name (the images measured on) to (losses, accuracies), one per alpha;
    `marks` names points of the line (the runs at alpha 0 and 1), drawn as grey vertical lines.
    """
    fig = Figure(figsize=(10, 4), layout="constrained")
    loss_ax, acc_ax = fig.subplots(1, 2)
    for name, (losses, accuracies) in curves.items():
        (line,) = loss_ax.plot(alphas, losses, marker="o", ms=3, label=name)
        acc_ax.plot(alphas, accuracies, marker="o", ms=3, color=line.get_color(), label=name)
    for ax, what in ((loss_ax, "cross-entropy"), (acc_ax, "accuracy")):
        for style, (name, alpha) in zip(cycle((":", "-.")), (marks or {}).items()):
            ax.axvline(alpha, color="grey", ls=style, lw=1, label=name if ax is loss_ax else None)
        ax.set_xlabel(axis_label)
        ax.set_ylabel(what)
        ax.grid(alpha=0.3)
    loss_ax.axhline(np.log(10), color="black", lw=0.8, ls="--", label="chance (ln 10)")
    acc_ax.set_ylim(0, 1)
    loss_ax.legend(fontsize=7)
    return fig
