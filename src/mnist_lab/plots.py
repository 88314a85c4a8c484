"""Figures as functions: data in, matplotlib Figure out. Callers decide where to save them."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from matplotlib.figure import Figure


def confusion_matrix_figure(
    matrix: np.ndarray, class_names: Sequence[str], title: str = "Confusion matrix"
) -> Figure:
    """Counts per (true, predicted) class, with each cell's count and per-class recall."""
    matrix = np.asarray(matrix)
    n = len(class_names)
    fig = Figure(figsize=(1.0 + 0.62 * n, 0.8 + 0.6 * n), layout="constrained")
    ax = fig.add_subplot()
    row_totals = matrix.sum(axis=1, keepdims=True).clip(min=1)
    image = ax.imshow(matrix / row_totals, cmap="Blues", vmin=0, vmax=1)
    fig.colorbar(image, ax=ax, label="fraction of the true class", shrink=0.8)
    for (i, j), count in np.ndenumerate(matrix):
        if count:
            dark = matrix[i, j] / row_totals[i, 0] > 0.5
            ax.text(
                j,
                i,
                str(count),
                ha="center",
                va="center",
                fontsize=7,
                color="white" if dark else "black",
            )
    ax.set_xticks(range(n), class_names, rotation=45, ha="right")
    ax.set_yticks(range(n), class_names)
    ax.set_xlabel("predicted class")
    ax.set_ylabel("true class")
    accuracy = np.trace(matrix) / max(matrix.sum(), 1)
    ax.set_title(f"{title} (accuracy {accuracy:.4f}, {int(matrix.sum())} images)")
    return fig


def sample_grid_figure(
    images: np.ndarray,
    labels: np.ndarray,
    class_names: Sequence[str],
    per_class: int = 10,
    seed: int = 0,
    title: str = "",
) -> Figure:
    """One row per class with `per_class` randomly chosen examples of it (uint8 images)."""
    rng = np.random.default_rng(seed)
    n_classes = len(class_names)
    fig = Figure(figsize=(0.9 * per_class + 1.6, 0.9 * n_classes + 0.6), layout="constrained")
    axes = fig.subplots(n_classes, per_class, squeeze=False)
    for label, row in enumerate(axes):
        members = np.flatnonzero(labels == label)
        chosen = rng.choice(members, size=min(per_class, len(members)), replace=False)
        for column, ax in enumerate(row):
            ax.set_xticks([])
            ax.set_yticks([])
            for spine in ax.spines.values():
                spine.set_visible(False)
            if column < len(chosen):
                ax.imshow(images[chosen[column]], cmap="gray_r", vmin=0, vmax=255)
        row[0].set_ylabel(f"{label}: {class_names[label]}", rotation=0, ha="right", va="center")
    if title:
        fig.suptitle(title)
    return fig
