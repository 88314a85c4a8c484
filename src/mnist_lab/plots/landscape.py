"""Loss-landscape figures: the loss over a plane of weight space, with training trajectories."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import matplotlib
import numpy as np
from matplotlib.figure import Figure


def _direction_label(index: int, explained: float) -> str:
    return f"PC{index + 1} ({explained:.1%} of the snapshots' variance)"


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
    explained: Sequence[float],
) -> Figure:
    """Loss contours over a plane (`losses[i, j]` at ys[i], xs[j]) with trajectories on top.

    `trajectories` maps a name to (coordinates [T, 2], losses [T]); only the coordinates are
    drawn here. Each starts at a circle and ends at a star.
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
        ax.plot(*coordinates.T, color=color, marker="o", ms=2.5, lw=1.2, label=name)
        ax.plot(*coordinates[0], "o", color=color, ms=8, mec="black")
        ax.plot(*coordinates[-1], "*", color=color, ms=14, mec="black")
    ax.set_xlabel(_direction_label(0, explained[0]))
    ax.set_ylabel(_direction_label(1, explained[1]))
    ax.set_title("loss contours; trajectory from circle (start) to star (end)", fontsize=10)
    ax.legend(loc="upper left", fontsize=8)
    return fig


def loss_surface_figure(
    xs: np.ndarray,
    ys: np.ndarray,
    losses: np.ndarray,
    trajectories: Mapping[str, tuple[np.ndarray, np.ndarray]],
    explained: Sequence[float],
) -> Figure:
    """The loss over a plane as a 3-D surface, trajectories drawn at their own loss.

    The surface's height is clipped a little above the highest trajectory point so that the
    region SGD went through keeps its detail when the grid's far corners are much higher.
    """
    fig = Figure(figsize=(8, 6.5), layout="constrained")
    ax = fig.add_subplot(projection="3d")
    # Depth sorting would hide the path under the translucent surface wherever they cross.
    ax.computed_zorder = False
    highest = max((float(np.max(loss)) for _, loss in trajectories.values()), default=0.0)
    ceiling = max(1.2 * highest, float(np.nanmin(losses)) * 1.5)
    clipped = np.minimum(losses, ceiling)
    grid_x, grid_y = np.meshgrid(xs, ys)
    ax.plot_surface(grid_x, grid_y, clipped, cmap="viridis", alpha=0.75, linewidth=0, zorder=1)
    colors = ["#ff2020", "#ff9000", "#0090ff", "#ff40ff"]
    for color, (name, (coordinates, loss)) in zip(colors, trajectories.items(), strict=False):
        ax.plot(*coordinates.T, loss, color=color, marker="o", ms=2.5, lw=1.2, label=name, zorder=3)
        ax.scatter(*coordinates[0], loss[0], color=color, s=50, edgecolor="black", zorder=4)
        ax.scatter(
            *coordinates[-1], loss[-1], color=color, s=120, marker="*", edgecolor="black", zorder=4
        )
    ax.set_xlabel(_direction_label(0, explained[0]), fontsize=8)
    ax.set_ylabel(_direction_label(1, explained[1]), fontsize=8)
    ax.set_zlabel("cross-entropy")
    ax.set_zlim(float(np.nanmin(clipped)), ceiling)
    ax.view_init(elev=40, azim=-60)  # high enough to see into valleys behind a ridge
    clipped_note = f"; surface clipped at {ceiling:.3g}" if (losses > ceiling).any() else ""
    ax.set_title(
        f"loss surface over the top-2 PCA directions{clipped_note}\n"
        "trajectory points at their own loss: off the plane they float above the surface",
        fontsize=9,
    )
    ax.legend(loc="upper left", fontsize=8)
    return fig
