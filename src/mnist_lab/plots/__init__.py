"""Figures as functions: data in, matplotlib Figure out. Callers decide where to save them."""

from __future__ import annotations

import textwrap
from collections.abc import Mapping, Sequence

import matplotlib
import numpy as np
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator


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


def _series_colors(n: int) -> list:
    """Distinct colours for up to 10 series; beyond that a colormap, so none repeat."""
    if n <= 10:
        return [f"C{i}" for i in range(n)]
    cmap = matplotlib.colormaps["viridis"]
    return [cmap(i / (n - 1)) for i in range(n)]


def _plot_per_epoch(
    ax: Axes, curves_by_label: Mapping[str, Mapping[str, Sequence[float]]], metric: str
) -> None:
    """One line per label for `metric`; epoch 1 is the first entry, missing epochs are NaN."""
    colors = _series_colors(len(curves_by_label))
    # Markers make a one- or two-epoch run visible; on long runs they would only clutter.
    marker = (
        "o"
        if max((len(c.get(metric, [])) for c in curves_by_label.values()), default=0) <= 20
        else None
    )
    for color, (label, curves) in zip(colors, curves_by_label.items(), strict=True):
        values = np.asarray(curves.get(metric, []), dtype=float)
        epochs = np.arange(1, len(values) + 1)
        # Skipping NaN rather than plotting it keeps the line connected when validation
        # runs only every few epochs.
        shown = np.isfinite(values)
        if shown.any():
            ax.plot(epochs[shown], values[shown], color=color, marker=marker, ms=3, label=label)
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_xlabel("epoch")
    ax.grid(alpha=0.3)


def _spans(values: np.ndarray, ratio: float) -> bool:
    """True when the positive finite `values` range over more than `ratio` (max / min)."""
    values = values[np.isfinite(values)]
    return values.size > 1 and bool((values > 0).all()) and values.max() / values.min() > ratio


def _add_legend(fig: Figure, title: str) -> None:
    """One legend for all panels, sized to fit; a lone run's label goes in the title instead.

    Short labels sit in columns below the panels; long ones are wrapped and stacked on the
    right. The figure grows so that the panels keep their size.
    """
    handles, names = [], []
    for ax in fig.axes:
        for handle, name in zip(*ax.get_legend_handles_labels(), strict=True):
            if name not in names:
                handles.append(handle)
                names.append(name)
    if len(names) <= 1:
        heading = ": ".join(text for text in (title, *names) if text)
        fig.suptitle("\n".join(textwrap.wrap(heading, 100)))
        return
    if title:
        fig.suptitle(title)
    wrapped = [textwrap.fill(name, 45) for name in names]
    widest = max(len(line) for name in wrapped for line in name.splitlines())
    lines = sum(name.count("\n") + 1 for name in wrapped)
    width, height = fig.get_size_inches()
    line_height = 0.2  # inches per legend line at the default font size
    if widest <= 30:
        columns = max(1, min(len(names), 100 // (widest + 8)))
        rows = -(-len(names) // columns) * max(name.count("\n") + 1 for name in wrapped)
        fig.set_size_inches(width, height + line_height * rows + 0.2)
        fig.legend(handles, wrapped, loc="outside lower center", ncols=columns)
    else:
        fig.set_size_inches(width + 0.08 * widest + 0.6, max(height, line_height * lines + 1))
        fig.legend(handles, wrapped, loc="outside right upper")


def learning_curves_figure(
    curves_by_label: Mapping[str, Mapping[str, Sequence[float]]], title: str = "Learning curves"
) -> Figure:
    """Train and validation loss and accuracy per epoch (2x2 panels), one line per run.

    `curves_by_label` maps a run's legend label to its per-epoch metrics as logged by Lightning
    (`train/loss_epoch`, `val/loss`, `train/acc`, `val/acc`); entry 0 is epoch 1.
    """
    fig = Figure(figsize=(11, 8), layout="constrained")
    axes = fig.subplots(2, 2)
    panels = [
        ("train/loss_epoch", "training loss (mean over the epoch)", "loss"),
        ("val/loss", "validation loss (end of epoch)", "loss"),
        ("train/acc", "training accuracy", "accuracy"),
        ("val/acc", "validation accuracy", "accuracy"),
    ]
    for ax, (metric, panel_title, quantity) in zip(axes.flat, panels, strict=True):
        _plot_per_epoch(ax, curves_by_label, metric)
        ax.set_title(panel_title)
        ax.set_ylabel(quantity)
        logged = np.concatenate(
            [np.asarray(c.get(metric, []), dtype=float) for c in curves_by_label.values()] or [[]]
        )
        if not np.isfinite(logged).any():
            ax.text(
                0.5,
                0.5,
                f"{metric} not logged",
                ha="center",
                va="center",
                transform=ax.transAxes,
                color="gray",
            )
        # Loss falls by orders of magnitude; on a linear axis the later epochs (and every
        # run but a diverging one) would be a flat line at the bottom.
        elif quantity == "loss" and _spans(logged, 10):
            ax.set_yscale("log")
            ax.set_ylabel("loss (log scale)")
    _add_legend(fig, title)
    return fig


def _as_numbers(values: Sequence[str]) -> np.ndarray | None:
    """The values as floats when every one of them is a number, else None."""
    try:
        return np.array([float(value) for value in values])
    except ValueError:
        return None


def metric_vs_value_figure(
    values: Sequence[str],
    series: Mapping[str, Sequence[float]],
    xlabel: str,
    ylabel: str = "accuracy",
    title: str = "",
    threshold: float | None = None,
    tick_labels: Sequence[str] | None = None,
    min_span: float = 0.0,
) -> Figure:
    """Final metrics against the swept value, one marker line per entry of `series`.

    Numeric `values` go on a numeric axis (log scale when they span more than two decades);
    anything else becomes categories in the given order, labelled by `tick_labels` if given.
    NaN (a failed run) leaves a gap. The y axis covers at least `min_span`; a `threshold` far
    outside the values is only named in the legend.
    """
    fig = Figure(figsize=(7.5, 5), layout="constrained")
    ax = fig.add_subplot()
    numbers = _as_numbers(values)
    if numbers is not None:
        x = numbers
        order = np.argsort(x, kind="stable")
        if _spans(x, 100):
            ax.set_xscale("log")
            xlabel = f"{xlabel} (log scale)"
        if len(set(x)) <= 10:
            # Ticks at the swept values, written as given ("1e-3"), not as matplotlib would.
            ticks: dict[float, str] = {}
            for xi, value in zip(x[order], np.asarray(values)[order], strict=True):
                ticks.setdefault(float(xi), str(value))
            ax.set_xticks(list(ticks), list(ticks.values()))
            ax.minorticks_off()
    else:
        x = np.arange(len(values), dtype=float)
        order = np.arange(len(values))
        labels = list(tick_labels) if tick_labels is not None else list(values)
        ax.set_xticks(x, labels, rotation=30 if len(values) > 4 else 0)
        ax.set_xlim(-0.5, len(values) - 0.5)
    markers = "osD^v"
    ys = np.array([np.asarray(y, dtype=float)[order] for y in series.values()]).reshape(
        len(series), len(values)
    )
    xs = x[order]
    for i, name in enumerate(series):
        shown = np.isfinite(ys[i])
        ax.plot(xs[shown], ys[i][shown], marker=markers[i % len(markers)], label=name)
        if len(values) <= 10:
            # The exact numbers matter when two runs differ in the third decimal; the highest
            # value at an x is labelled above its marker, the others below, so none overlap.
            for j in np.flatnonzero(shown):
                above = ys[i, j] >= np.nanmax(ys[:, j])
                ax.annotate(
                    f"{ys[i, j]:.4f}",
                    (xs[j], ys[i, j]),
                    textcoords="offset points",
                    xytext=(0, 7 if above else -13),
                    ha="center",
                    fontsize=8,
                    color=f"C{i}",
                )
    ax.margins(y=0.15)
    low, high = ax.get_ylim()
    if high - low < min_span:
        # Differences of a few test images should not look like a cliff.
        middle = (low + high) / 2
        ax.set_ylim(middle - min_span / 2, middle + min_span / 2)
    if threshold is not None:
        low, high = ax.get_ylim()
        label = f"threshold {threshold:g}"
        ax.axhline(threshold, color="gray", linestyle="--", linewidth=1)
        # A far-away threshold would squash the differences between runs into one line.
        if not low - (high - low) <= threshold <= high + (high - low):
            ax.set_ylim(low, high)
            label += " (off the axis: " + ("above" if threshold > high else "below") + ")"
        ax.plot([], [], color="gray", linestyle="--", linewidth=1, label=label)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.grid(alpha=0.3)
    ax.legend()
    if title:
        ax.set_title(title)
    return fig


def dead_units_figure(
    curves_by_label: Mapping[str, Mapping[str, Sequence[float]]],
    title: str = "Dead ReLU units (zero for every image of a fixed probe batch)",
) -> Figure:
    """Every logged `dead_units/...` curve per epoch, one panel per metric, one line per run."""
    metrics = sorted(
        {m for curves in curves_by_label.values() for m in curves if m.startswith("dead_units/")},
        key=lambda m: (m != "dead_units/fraction", m),
    )
    columns = min(len(metrics), 3) or 1
    rows = -(-len(metrics) // columns) or 1
    fig = Figure(figsize=(4.2 * columns + 0.5, 3.4 * rows + 0.8), layout="constrained")
    axes = fig.subplots(rows, columns, squeeze=False, sharey=True)
    for ax in axes.flat[len(metrics) :]:
        ax.set_visible(False)
    for ax, metric in zip(axes.flat, metrics, strict=False):
        _plot_per_epoch(ax, curves_by_label, metric)
        name = metric.removeprefix("dead_units/")
        ax.set_title("all ReLU layers" if name == "fraction" else name.replace("_", " layer "))
        logged = np.concatenate(
            [np.asarray(c.get(metric, []), dtype=float) for c in curves_by_label.values()]
        )
        # Fractions share one fixed 0..1 axis so panels and runs compare at a glance.
        if np.nanmax(logged, initial=0) <= 1:
            ax.set_ylim(-0.02, 1.02)
    for ax in axes[:, 0]:
        ax.set_ylabel("fraction of units dead")
    _add_legend(fig, title)
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


def metric_curves_figure(
    curves: Mapping[str, Sequence[float]], title: str, ylabel: str = "loss"
) -> Figure:
    """Several per-epoch series of one run on one axis (e.g. generator and discriminator loss)."""
    fig = Figure(figsize=(7, 4.5), layout="constrained")
    ax = fig.add_subplot()
    for name, values in curves.items():
        epochs = np.arange(1, len(values) + 1)
        ax.plot(epochs, values, marker="o", markersize=3, label=name)
    ax.set_xlabel("epoch")
    ax.set_ylabel(ylabel)
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.grid(alpha=0.3)
    ax.legend()
    ax.set_title(title)
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


def loss_curves_by_panel_figure(
    curves: Mapping[str, Mapping[str, Mapping[str, Sequence[float]]]],
    baselines: Mapping[str, float],
    title: str,
) -> Figure:
    """One panel per task, one colour per model, train solid and test dashed, log-scale loss.

    `curves[task][model][split]` holds one value per epoch; `baselines[task]`, drawn grey, is
    the loss of always predicting the mean (the targets' variance).
    """
    fig = Figure(figsize=(4.2 * len(curves), 4.2), layout="constrained")
    axes = fig.subplots(1, len(curves), squeeze=False)[0]
    for ax, (task, by_model) in zip(axes, curves.items(), strict=True):
        colors = _series_colors(len(by_model))
        for color, (model, by_split) in zip(colors, by_model.items(), strict=True):
            for split, values in by_split.items():
                epochs = np.arange(1, len(values) + 1)
                style = "-" if split == "train" else "--"
                ax.plot(epochs, values, style, color=color, label=f"{model} {split}")
        if task in baselines:
            ax.axhline(baselines[task], color="gray", lw=1, ls=":", label="predict the mean")
        ax.set_yscale("log")
        ax.set_title(task)
        ax.set_xlabel("epoch")
        ax.grid(alpha=0.3)
    axes[0].set_ylabel("squared error (log scale)")
    _add_legend(fig, title)
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
