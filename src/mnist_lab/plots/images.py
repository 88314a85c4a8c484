"""Figures of images and points: confusion matrix, sample grids, reconstructions, 2-D data,
a GAN's latent interpolations and a 2-D code plane decoded."""

from __future__ import annotations

import textwrap
from collections.abc import Mapping, Sequence

import matplotlib
import numpy as np
from matplotlib.figure import Figure


def confusion_matrix_figure(
    matrix: np.ndarray, class_names: Sequence[str], title: str = "Confusion matrix"
) -> Figure:
    """Counts per (true, predicted) class, with each cell's count and per-class recall."""
    matrix = np.asarray(matrix)
    n = len(class_names)
    # Room for the title and the colour bar's label even with two classes; tall enough for
    # the square matrix to fill that width.
    width = max(1.0 + 0.62 * n, 4.6)
    fig = Figure(figsize=(width, max(0.8 + 0.6 * n, 0.78 * width)), layout="constrained")
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
    facts = f"accuracy {accuracy:.4f}, {int(matrix.sum())} images"
    heading = f"{title} ({facts})"
    # Over the whole figure, not the matrix alone, so that it never runs into the colour bar;
    # on two lines where one would be wider than the figure (about 8 characters an inch).
    fig.suptitle(heading if len(heading) <= 8 * width else f"{title}\n{facts}")
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


def image_grid(images: np.ndarray, columns: int, gap: int = 2) -> np.ndarray:
    """Images [n, h, w] (or [n, 1, h, w]) tiled into one [H, W] array, `gap` pixels apart."""
    images = np.asarray(images)
    if images.ndim == 4:
        images = images[:, 0]
    n, height, width = images.shape
    rows = -(-n // columns)
    grid = np.ones(
        (rows * (height + gap) - gap, columns * (width + gap) - gap), dtype=images.dtype
    ) * images.max(initial=1)
    for index, image in enumerate(images):
        row, column = divmod(index, columns)
        top, left = row * (height + gap), column * (width + gap)
        grid[top : top + height, left : left + width] = image
    return grid


def reconstruction_figure(
    originals: np.ndarray,
    reconstructions: np.ndarray,
    original_captions: Sequence[str],
    reconstruction_captions: Sequence[str],
    title: str = "Autoencoder reconstructions",
) -> Figure:
    """Each original image (top row) above its reconstruction (bottom row), in [0, 1]."""
    n = len(originals)
    fig = Figure(figsize=(2.4 * n + 0.4, 5.4), layout="constrained")
    axes = fig.subplots(2, n, squeeze=False)
    for column in range(n):
        rows = (
            (originals, "original", original_captions),
            (reconstructions, "reconstruction", reconstruction_captions),
        )
        for row, (images, kind, captions) in enumerate(rows):
            ax = axes[row, column]
            ax.imshow(np.asarray(images[column]).squeeze(), cmap="gray", vmin=0, vmax=1)
            ax.set_title(f"{kind}\n{captions[column]}", fontsize=10)
            ax.set_xticks([])
            ax.set_yticks([])
    fig.suptitle(title)
    return fig


def embedding_comparison_figure(
    embeddings: Mapping[str, np.ndarray],
    labels: np.ndarray,
    class_names: Sequence[str],
    scores: Mapping[str, float],
    score_name: str = "kNN accuracy",
) -> Figure:
    """One scatter panel per 2-D embedding of the same points, coloured by label, scored."""
    fig = Figure(figsize=(6.2 * len(embeddings) + 1.6, 6.4), layout="constrained")
    axes = fig.subplots(1, len(embeddings), squeeze=False)[0]
    colors = matplotlib.colormaps["tab10"]
    for ax, (name, points) in zip(axes, embeddings.items(), strict=True):
        points = np.asarray(points)
        for label, class_name in enumerate(class_names):
            chosen = labels == label
            ax.scatter(
                points[chosen, 0],
                points[chosen, 1],
                s=3,
                alpha=0.6,
                color=colors(label % 10),
                label=class_name,
                rasterized=True,
            )
        ax.set_title(f"{name}\n{score_name} {scores[name]:.3f}")
        ax.set_xlabel("dimension 1")
        ax.set_ylabel("dimension 2")
    handles, names = axes[0].get_legend_handles_labels()
    fig.legend(handles, names, loc="outside right center", markerscale=5, title="label")
    fig.suptitle(f"2-D embeddings of {len(labels)} test images")
    return fig


def image_sequence_figure(
    images: Sequence[np.ndarray], labels: Sequence[str], title: str, columns: int = 5
) -> Figure:
    """Several images (e.g. a GAN's sample grids over training) tiled in order, each labelled."""
    rows = -(-len(images) // columns)
    fig = Figure(figsize=(3.0 * columns, 3.2 * rows), layout="constrained")
    axes = fig.subplots(rows, columns, squeeze=False)
    for ax in axes.flat:
        ax.axis("off")
    for ax, image, label in zip(axes.flat, images, labels, strict=False):
        ax.imshow(image, cmap="gray")
        ax.set_title(label)
    fig.suptitle(title)
    return fig


def decision_boundary_figure(
    grid_x: np.ndarray,
    grid_y: np.ndarray,
    probabilities: np.ndarray,
    points: np.ndarray,
    labels: np.ndarray,
    class_names: Sequence[str],
    title: str = "",
) -> Figure:
    """A 2-D classifier's regions with the data points, in the style of TensorFlow Playground.

    `probabilities` [h, w, classes] are the model's outputs at the grid (`grid_x`, `grid_y`,
    each [h, w]); a cell takes its predicted class's colour, paler where the model is less sure.
    """
    probabilities = np.asarray(probabilities, dtype=float)
    n_classes = probabilities.shape[-1]
    colors = np.array([matplotlib.colors.to_rgb(f"C{i % 10}") for i in range(n_classes)])
    predicted = probabilities.argmax(-1)
    # 0 where the model is at chance, 1 where it is certain
    certainty = (probabilities.max(-1) - 1 / n_classes) / (1 - 1 / n_classes)
    shade = 0.15 + 0.55 * certainty[..., None]
    image = 1 - shade * (1 - colors[predicted])
    fig = Figure(figsize=(5.6, 5.2), layout="constrained")
    ax = fig.add_subplot()
    extent = (grid_x.min(), grid_x.max(), grid_y.min(), grid_y.max())
    ax.imshow(image, origin="lower", extent=extent, aspect="auto", interpolation="bilinear")
    # Two classes: the smooth p = 0.5 line; more: the edges between predicted regions.
    field, levels = (
        (probabilities[..., 1], [0.5])
        if n_classes == 2
        else (predicted, np.arange(1, n_classes) - 0.5)
    )
    if field.min() < levels[-1] and field.max() > levels[0]:
        ax.contour(grid_x, grid_y, field, levels=levels, colors="k", linewidths=1.2)
    points, labels = np.asarray(points), np.asarray(labels)
    few = len(np.unique(points, axis=0)) <= 50  # the gates: four corners, drawn large
    for label, name in enumerate(class_names):
        chosen = labels == label
        ax.scatter(
            points[chosen, 0],
            points[chosen, 1],
            s=160 if few else 14,
            color=colors[label],
            edgecolors="white" if few else "none",
            linewidths=1.5,
            label=f"{name} ({int(chosen.sum())})",
        )
    ax.set_xlim(extent[:2])
    ax.set_ylim(extent[2:])
    ax.set_xlabel("x1")
    ax.set_ylabel("x2")
    ax.legend(loc="upper right", fontsize=8, framealpha=0.8)
    if title:
        ax.set_title("\n".join(textwrap.wrap(title, 60)))
    return fig


def interpolation_figure(images: np.ndarray, title: str) -> Figure:
    """Rows of generated images [rows, steps, (1,) h, w] in [0, 1], each row the straight line
    between two latent codes, their own images at the two ends."""
    images = np.asarray(images)
    rows, steps = images.shape[:2]
    height, width = images.shape[-2:]
    fig = Figure(figsize=(0.85 * steps + 0.6, 0.85 * rows + 0.9), layout="constrained")
    ax = fig.add_subplot()
    ax.imshow(image_grid(images.reshape(rows * steps, height, width), steps), cmap="gray")
    centres = (np.arange(steps) * (width + 2) + width / 2).tolist()  # image_grid's 2-pixel gap
    ax.set_xticks(centres, [f"{t:.2f}" for t in np.linspace(0, 1, steps)], fontsize=8)
    ax.set_yticks([])
    ax.set_xlabel("t: the code (1 - t) z1 + t z2")
    for spine in ax.spines.values():
        spine.set_visible(False)
    ax.set_title(title)
    return fig


def code_manifold_figure(
    images: np.ndarray, xs: Sequence[float], ys: Sequence[float], title: str
) -> Figure:
    """A decoder's images of a grid of 2-D codes [len(ys), len(xs), (1,) h, w] (row i decodes
    code (xs[j], ys[i])), tiled edge to edge on axes in code units, high y on top."""
    images = np.asarray(images)
    rows, columns = images.shape[:2]
    height, width = images.shape[-2:]
    tiles = images[::-1].reshape(rows * columns, height, width)  # the highest y drawn on top
    step_x = (xs[-1] - xs[0]) / max(columns - 1, 1)
    step_y = (ys[-1] - ys[0]) / max(rows - 1, 1)
    extent = (
        xs[0] - step_x / 2,
        xs[-1] + step_x / 2,
        ys[0] - step_y / 2,
        ys[-1] + step_y / 2,
    )
    fig = Figure(figsize=(7.5, 7.8), layout="constrained")
    ax = fig.add_subplot()
    ax.imshow(
        image_grid(tiles, columns, gap=0),
        cmap="gray",
        vmin=0,
        vmax=1,
        extent=extent,
        aspect="auto",
    )
    ax.set_xlabel("code dimension 1")
    ax.set_ylabel("code dimension 2")
    ax.set_title(title)
    return fig


def side_by_side_figure(
    images: Sequence[np.ndarray], captions: Sequence[str], title: str
) -> Figure:
    """Rendered figures (e.g. two GANs' last sample grids) in one row, large enough to compare
    stroke by stroke, each under its wrapped caption."""
    fig = Figure(figsize=(5.5 * len(images), 6.6), layout="constrained")
    axes = fig.subplots(1, len(images), squeeze=False)[0]
    for ax, image, caption in zip(axes, images, captions, strict=True):
        ax.imshow(image)
        ax.set_axis_off()
        ax.set_title("\n".join(textwrap.wrap(caption, 48)), fontsize=11)
    fig.suptitle(title)
    return fig
