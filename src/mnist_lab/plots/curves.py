"""Metric figures: learning curves, metrics against a swept value, per-epoch series."""

from __future__ import annotations

import textwrap
from collections.abc import Mapping, Sequence

import matplotlib
import numpy as np
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator


def _series_colors(n: int) -> list:
    """Distinct colours for up to 10 series; beyond that a colormap, so none repeat."""
    if n <= 10:
        return [f"C{i}" for i in range(n)]
    cmap = matplotlib.colormaps["viridis"]
    return [cmap(i / (n - 1)) for i in range(n)]


# label -> metric -> (low, high) per epoch: an interval drawn as a band around the label's line
Bands = Mapping[str, Mapping[str, tuple[Sequence[float], Sequence[float]]]]


def _plot_per_epoch(
    ax: Axes,
    curves_by_label: Mapping[str, Mapping[str, Sequence[float]]],
    metric: str,
    bands: Bands | None = None,
) -> None:
    """One line per label for `metric`; epoch 1 is the first entry, missing epochs are NaN.

    A label with a band for `metric` gets it shaded in its own colour.
    """
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
        band = (bands or {}).get(label, {}).get(metric)
        if band is not None:
            low, high = (np.asarray(edge, dtype=float) for edge in band)
            inside = np.isfinite(low) & np.isfinite(high)
            ax.fill_between(
                epochs[inside], low[inside], high[inside], color=color, alpha=0.2, linewidth=0
            )
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


# metric, panel title, quantity on the y axis
Panel = tuple[str, str, str]
LEARNING_CURVES: tuple[Panel, ...] = (
    ("train/loss_epoch", "training loss (mean over the epoch)", "loss"),
    ("val/loss", "validation loss (end of epoch)", "loss"),
    ("train/acc", "training accuracy", "accuracy"),
    ("val/acc", "validation accuracy", "accuracy"),
)


def learning_curves_figure(
    curves_by_label: Mapping[str, Mapping[str, Sequence[float]]],
    title: str = "Learning curves",
    bands: Bands | None = None,
    panels: Sequence[Panel] = LEARNING_CURVES,
) -> Figure:
    """Train and validation loss and accuracy per epoch (2x2 panels), one line per run.

    `curves_by_label` maps a run's legend label to its per-epoch metrics as logged by Lightning
    (`train/loss_epoch`, `val/loss`, `train/acc`, `val/acc`); entry 0 is epoch 1. For a group
    of seeds the line is the mean and `bands` its interval. Other `panels` (up to 3 in a row,
    else 2 per row) draw other metrics.
    """
    columns = len(panels) if len(panels) <= 3 else 2
    rows = -(-len(panels) // columns)
    fig = Figure(figsize=(5.5 * columns, 4 * rows), layout="constrained")
    axes = fig.subplots(rows, columns, squeeze=False)
    for ax, (metric, panel_title, quantity) in zip(axes.flat, panels, strict=False):
        _plot_per_epoch(ax, curves_by_label, metric, bands)
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


def _swept_axis(
    ax: Axes, values: Sequence[str], xlabel: str, tick_labels: Sequence[str] | None
) -> tuple[np.ndarray, np.ndarray, str]:
    """Sets up the x axis for the swept `values`; returns their x, sorting order and axis label.

    Numeric values go on a numeric axis (log scale when they span more than two decades);
    anything else becomes categories in the given order, labelled by `tick_labels` if given.
    """
    numbers = _as_numbers(values)
    if numbers is None:
        x = np.arange(len(values), dtype=float)
        labels = list(tick_labels) if tick_labels is not None else list(values)
        # Many categories with multi-line labels overprint at 30 degrees: upright labels, and a
        # figure wide enough to give each its column.
        rotation = 0 if len(values) <= 4 else 30 if len(values) <= 8 else 90
        ax.set_xticks(x, labels, rotation=rotation, ha="right" if rotation == 30 else "center")
        width, height = ax.figure.get_size_inches()
        ax.figure.set_size_inches(max(width, 0.7 * len(values)), height)
        ax.set_xlim(-0.5, len(values) - 0.5)
        return x, np.arange(len(values)), xlabel
    order = np.argsort(numbers, kind="stable")
    if _spans(numbers, 100):
        ax.set_xscale("log")
        xlabel = f"{xlabel} (log scale)"
    if len(set(numbers)) <= 10:
        # Ticks at the swept values, written as given ("1e-3"), not as matplotlib would.
        ticks: dict[float, str] = {}
        for xi, value in zip(numbers[order], np.asarray(values)[order], strict=True):
            ticks.setdefault(float(xi), str(value))
        ax.set_xticks(list(ticks), list(ticks.values()))
        ax.minorticks_off()
    return numbers, order, xlabel


def _threshold_line(ax: Axes, threshold: float) -> None:
    """A dashed line at `threshold`, named in the legend, as is one left off the y axis."""
    low, high = ax.get_ylim()
    label = f"threshold {threshold:g}"
    ax.axhline(threshold, color="gray", linestyle="--", linewidth=1)
    # A far-away threshold would squash the differences between runs into one line.
    if not low - (high - low) <= threshold <= high + (high - low):
        ax.set_ylim(low, high)
        label += " (off the axis: " + ("above" if threshold > high else "below") + ")"
    ax.plot([], [], color="gray", linestyle="--", linewidth=1, label=label)


def _plot_series(
    ax: Axes,
    xs: np.ndarray,
    ys: np.ndarray,
    names: Sequence[str],
    bars: Mapping[str, np.ndarray],
    annotate: bool,
) -> None:
    """One marker line per row of `ys` (NaN: a gap), with error bars where `bars` has them."""
    markers = "osD^v"
    for i, name in enumerate(names):
        shown = np.isfinite(ys[i])
        marker = markers[i % len(markers)]
        if name in bars:
            ax.errorbar(
                xs[shown],
                ys[i][shown],
                yerr=bars[name][shown],
                marker=marker,
                capsize=4,
                label=name,
            )
        else:
            ax.plot(xs[shown], ys[i][shown], marker=marker, label=name)
        if not annotate:
            continue
        # The exact numbers matter when two runs differ in the third decimal; the highest value
        # at an x (the first of equal ones) is labelled above its marker, the others below, so
        # none overlap. With error bars the label goes beside the marker, where no bar covers
        # it, raised or lowered the same way.
        for j in np.flatnonzero(shown):
            above = i == int(np.nanargmax(ys[:, j]))
            offset = (6, 5 if above else -9) if name in bars else (0, 7 if above else -13)
            ax.annotate(
                f"{ys[i, j]:.4f}",
                (xs[j], ys[i, j]),
                textcoords="offset points",
                xytext=offset,
                ha="left" if name in bars else "center",
                va="center" if name in bars else "baseline",
                fontsize=8,
                color=f"C{i}",
            )


def metric_vs_value_figure(
    values: Sequence[str],
    series: Mapping[str, Sequence[float]],
    xlabel: str,
    ylabel: str = "accuracy",
    title: str = "",
    threshold: float | None = None,
    tick_labels: Sequence[str] | None = None,
    min_span: float = 0.0,
    errors: Mapping[str, Sequence[float]] | None = None,
) -> Figure:
    """Final metrics against the swept value, one marker line per entry of `series`.

    A series with `errors` (half-widths of an interval; NaN for none) gets error bars.

    Numeric `values` go on a numeric axis (log scale when they span more than two decades);
    anything else becomes categories in the given order, labelled by `tick_labels` if given.
    NaN (a failed run) leaves a gap. The y axis covers at least `min_span`; a `threshold` far
    outside the values is only named in the legend.
    """
    fig = Figure(figsize=(7.5, 5), layout="constrained")
    ax = fig.add_subplot()
    x, order, xlabel = _swept_axis(ax, values, xlabel, tick_labels)
    ys = np.array([np.asarray(y, dtype=float)[order] for y in series.values()]).reshape(
        len(series), len(values)
    )
    bars = {
        name: np.nan_to_num(np.asarray(half_widths, dtype=float)[order])
        for name, half_widths in (errors or {}).items()
    }
    _plot_series(ax, x[order], ys, list(series), bars, annotate=len(values) <= 10)
    ax.margins(y=0.15)
    low, high = ax.get_ylim()
    if high - low < min_span:
        # Differences of a few test images should not look like a cliff.
        middle = (low + high) / 2
        ax.set_ylim(middle - min_span / 2, middle + min_span / 2)
    if threshold is not None:
        _threshold_line(ax, threshold)
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
