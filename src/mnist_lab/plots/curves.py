"""Metric figures: learning curves, metrics against a swept value, per-epoch series."""

from __future__ import annotations

import textwrap
from collections.abc import Mapping, Sequence

import matplotlib
import numpy as np
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.ticker import MaxNLocator


def _series_colors(n: int) -> list:
    """Distinct colours for up to 10 series; beyond that a colormap, so none repeat."""
    if n <= 10:
        return [f"C{i}" for i in range(n)]
    cmap = matplotlib.colormaps["viridis"]
    return [cmap(i / (n - 1)) for i in range(n)]


# label -> metric -> (low, high) per epoch: an interval drawn as a band around the label's line
Bands = Mapping[str, Mapping[str, tuple[Sequence[float], Sequence[float]]]]
# label -> metric -> the x of each value, where they are not the epochs 1, 2, ...
Positions = Mapping[str, Mapping[str, Sequence[float]]]

# line styles of the metrics that share a panel: the first solid, the second dashed
STYLES = ("-", "--", ":")
GREY = "0.65"


def _label_colors(labels: Sequence[str], highlight: Sequence[str] | None) -> dict[str, object]:
    """Label -> colour for the labels drawn in colour: all, or only those in `highlight`."""
    coloured = list(labels) if highlight is None else list(highlight)
    return dict(zip(coloured, _series_colors(len(coloured)), strict=True))


def _plot_per_epoch(
    ax: Axes,
    curves_by_label: Mapping[str, Mapping[str, Sequence[float]]],
    metrics: str | Sequence[str],
    bands: Bands | None = None,
    highlight: Sequence[str] | None = None,
    positions: Positions | None = None,
) -> None:
    """One line per label and metric; epoch 1 is the first entry, missing epochs are NaN.

    The metrics of one label share its colour, each in its own line style. A label with a band
    for a metric gets it shaded in its colour. With `highlight`, only those labels are in
    colour (in that order) and the others are thin grey lines behind them.
    """
    metrics = [metrics] if isinstance(metrics, str) else list(metrics)
    colors = _label_colors(curves_by_label, highlight)
    coloured = list(colors)
    longest = max((len(c.get(m, [])) for c in curves_by_label.values() for m in metrics), default=0)
    # Markers make a short run visible; on long runs they would only clutter.
    marker = "o" if longest <= 20 else None
    greys = [label for label in curves_by_label if label not in colors]
    for label in [*coloured, *greys]:
        curves = curves_by_label.get(label, {})
        color = colors.get(label, GREY)
        for style, metric in zip(STYLES, metrics, strict=False):
            values = np.asarray(curves.get(metric, []), dtype=float)
            given = (positions or {}).get(label, {}).get(metric)
            xs = np.arange(1, len(values) + 1) if given is None else np.asarray(given, float)
            # Skipping NaN rather than plotting it keeps the line connected when validation
            # runs only every few epochs.
            shown = np.isfinite(values)
            if label in colors:
                look = {"color": color, "marker": marker, "ms": 3, "zorder": 3}
            else:
                look = {"color": GREY, "lw": 0.8, "ms": 3, "zorder": 1}
            name = label if label in colors else f"other runs ({len(greys)}, grey)"
            if shown.sum() == 1:  # a lone value is a point, whatever the line count
                look["marker"] = look.get("marker") or "o"
            if shown.any():
                ax.plot(xs[shown], values[shown], ls=style, label=name, **look)
            band = (bands or {}).get(label, {}).get(metric)
            if band is not None and label in colors:
                # An interval of the mean over few seeds can pass what the metric can take
                # (accuracy 1.0 for all but one seed): shaded only within the possible range.
                low, high = (np.clip(np.asarray(e, dtype=float), *_possible(metric)) for e in band)
                inside = np.isfinite(low) & np.isfinite(high)
                ax.fill_between(
                    xs[inside], low[inside], high[inside], color=color, alpha=0.2, linewidth=0
                )
    if positions is None:
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.set_xlabel("epoch")
    ax.grid(alpha=0.3)


def _possible(metric: str) -> tuple[float, float]:
    """The values `metric` can take: accuracies lie in [0, 1], losses and the rest above 0."""
    return (0.0, 1.0) if metric.rsplit("/", 1)[-1].startswith("acc") else (0.0, np.inf)


def _spans(values: np.ndarray, ratio: float) -> bool:
    """True when the positive finite `values` range over more than `ratio` (max / min)."""
    values = values[np.isfinite(values)]
    return values.size > 1 and bool((values > 0).all()) and values.max() / values.min() > ratio


def _add_legend(fig: Figure, title: str) -> None:
    """One legend for all panels, sized to fit; a lone run's label goes in the title instead.

    The labels, long ones wrapped, sit below the panels in as many columns as fit: the figure
    keeps its width (a page's) and grows in height, so that the panels keep their size.
    """
    handles, names = [], []
    for ax in fig.axes:
        for handle, name in zip(*ax.get_legend_handles_labels(), strict=True):
            if name not in names:
                handles.append(handle)
                names.append(name)
    width, height = fig.get_size_inches()
    # characters per inch of a title, and of a legend line (with its handle) at the default size
    title_chars, legend_chars = 9, 9
    if len(names) <= 1:
        heading = ": ".join(text for text in (title, *names) if text)
        fig.suptitle("\n".join(textwrap.wrap(heading, int(title_chars * width))))
        return
    if title:
        fig.suptitle("\n".join(textwrap.wrap(title, int(title_chars * width))))
    wrapped = [textwrap.fill(name, 45) for name in names]
    widest = max(len(line) for name in wrapped for line in name.splitlines())
    columns = max(1, min(len(names), int(legend_chars * width) // (widest + 8)))
    # rows of the tallest entry each, so that the figure grows enough
    lines = -(-len(names) // columns) * max(name.count("\n") + 1 for name in wrapped)
    line_height = 0.2  # inches per legend line at the default font size
    fig.set_size_inches(width, height + line_height * lines + 0.2)
    fig.legend(handles, wrapped, loc="outside lower center", ncols=columns)


# the metrics drawn in the panel (a single one, or several of one quantity sharing its axis),
# the panel's title, the y axis's label
Panel = tuple[str | tuple[str, ...], str, str]
# what a panel's line-style legend calls each metric
METRIC_NAMES = {
    "train/loss_epoch": "training (mean over the epoch)",
    "val/loss": "validation (end of epoch)",
    "train/acc": "training",
    "val/acc": "validation",
    "train/loss": "training (logged steps)",
}


def learning_curve_panels(loss: str = "loss") -> tuple[Panel, ...]:
    """Loss, then accuracy: training and validation of a run on one axis, where the gap between
    them shows overfitting (CS156 bonus §3). `loss` names the y axis (with its unit)."""
    return (
        (("train/loss_epoch", "val/loss"), "Loss: training and validation", loss),
        (("train/acc", "val/acc"), "Accuracy: training and validation", "accuracy (fraction)"),
    )


LEARNING_CURVES = learning_curve_panels()


def panel_metrics(panel: Panel) -> tuple[str, ...]:
    """The metrics a panel draws."""
    return (panel[0],) if isinstance(panel[0], str) else panel[0]


def learning_curves_figure(
    curves_by_label: Mapping[str, Mapping[str, Sequence[float]]],
    title: str = "Learning curves",
    bands: Bands | None = None,
    panels: Sequence[Panel] = LEARNING_CURVES,
    highlight: Sequence[str] | None = None,
    stopped: Mapping[str, int] | None = None,
    positions: Positions | None = None,
    xlabel: str = "epoch",
) -> Figure:
    """Learning curves, one colour per run; only the `panels` some run logged are drawn.

    `curves_by_label` maps a run's legend label to its per-epoch metrics as logged by Lightning
    (`train/loss_epoch`, `val/loss`, `train/acc`, `val/acc`); entry 0 is epoch 1, or the x in
    `positions` (e.g. steps, then `xlabel` names them). Metrics sharing a panel share its axis
    and the run's colour, in line styles the panel's legend names. For a group of seeds the
    line is the mean and `bands` its interval. With `highlight` only those labels are in
    colour, the others grey. A label in `stopped` (e.g. a diverged run) gets a cross at the
    epoch it stopped in, at the top of a loss panel and the foot of the others.
    """
    logged = {}
    for panel in panels:
        values = [
            np.asarray(c.get(metric, []), dtype=float)
            for c in curves_by_label.values()
            for metric in panel_metrics(panel)
        ]
        values = np.concatenate(values or [[]])
        if np.isfinite(values).any():
            logged[panel] = values[np.isfinite(values)]
    shown = [panel for panel in panels if panel in logged] or list(panels[:1])
    columns = len(shown) if len(shown) <= 3 else 2
    rows = -(-len(shown) // columns)
    # a lone panel as wide as the other one-axis figures, so its title and legend fit
    fig = Figure(figsize=(max(5.5 * columns, 7.5), 4 * rows), layout="constrained")
    axes = fig.subplots(rows, columns, squeeze=False)
    for ax in axes.flat[len(shown) :]:
        ax.set_visible(False)
    for ax, panel in zip(axes.flat, shown, strict=False):
        _, panel_title, quantity = panel
        metrics = panel_metrics(panel)
        _plot_per_epoch(ax, curves_by_label, metrics, bands, highlight, positions)
        ax.set_title(panel_title)
        ax.set_xlabel(xlabel)
        ax.set_ylabel(quantity)
        # Loss falls by orders of magnitude; on a linear axis the later epochs (and every
        # run but a diverging one) would be a flat line at the bottom.
        if "loss" in quantity and panel in logged and _spans(logged[panel], 10):
            ax.set_yscale("log")
            ax.set_ylabel(f"{quantity} (log scale)")
        drawn = [m for m in metrics if any(m in c for c in curves_by_label.values())]
        if len(drawn) > 1:
            ax.legend(
                handles=[
                    Line2D([], [], color="black", ls=style, label=METRIC_NAMES.get(m, m))
                    for style, m in zip(STYLES, drawn, strict=False)
                ],
                fontsize=8,
            )
        _mark_stopped(ax, stopped or {}, _label_colors(list(curves_by_label), highlight), quantity)
    _add_legend(fig, title)
    return fig


def _mark_stopped(ax: Axes, stopped: Mapping[str, int], colors: Mapping, quantity: str) -> None:
    """A cross per stopped label at the epoch it stopped in, on the panel's edge: its numbers
    there were no numbers (NaN), so the cross is named in the legend instead."""
    for label, epoch in stopped.items():
        ax.plot(
            [epoch],
            [1.0 if "loss" in quantity else 0.0],
            "X",
            ms=10,
            color=colors.get(label, "black"),
            mec="black",
            transform=ax.get_xaxis_transform(),
            clip_on=False,
            zorder=4,
            label=label,
        )


def _as_numbers(values: Sequence[str]) -> np.ndarray | None:
    """The values as floats when every one of them is a number, else None."""
    try:
        return np.array([float(value) for value in values])
    except ValueError:
        return None


def _readable(value: str, log: bool) -> str:
    """A swept number as a tick says it: `1e-5` on a log axis (not `1e-05` or `0.00001`)."""
    number = float(value)
    if log and 0 < abs(number) < 0.1:
        mantissa, exponent = f"{number:.3e}".split("e")
        return f"{mantissa.rstrip('0').rstrip('.')}e{int(exponent)}"
    return f"{number:g}"


def _swept_axis(
    ax: Axes, values: Sequence[str], xlabel: str, tick_labels: Sequence[str] | None
) -> tuple[np.ndarray, np.ndarray, str]:
    """Sets up the x axis for the swept `values`; returns their x, sorting order and axis label.

    Numeric values go on a numeric axis: a log scale when the positive ones span more than two
    decades, with a zero one step left of the smallest, behind a break in the axis. Values
    too crowded there for their ticks to be read, and anything not numeric, become categories
    (numbers in their order). Ticks are labelled by `tick_labels` if given (their first line
    the value, which a number's tick writes the way `_readable` does).
    """
    numbers = _as_numbers(values)
    labels = list(tick_labels) if tick_labels is not None else list(values)
    order = np.arange(len(values)) if numbers is None else np.argsort(numbers, kind="stable")
    log = False
    if numbers is not None:
        x = numbers.copy()
        positive = np.unique(numbers[numbers > 0])
        log = bool((numbers >= 0).all()) and _spans(positive, 100)
        # The typical ratio between neighbouring values, so that zero sits one "step" left.
        step = (positive[-1] / positive[0]) ** (1 / max(len(positive) - 1, 1)) if log else 1.0
        if log:
            x[numbers == 0] = positive[0] / step
        on_axis = np.unique(np.log10(x) if log else x)
        gaps = np.diff(on_axis)
        crowded = gaps.size > 1 and gaps.min() < 0.04 * (on_axis[-1] - on_axis[0])
    if numbers is None or crowded:
        x = np.empty(len(values))
        x[order] = np.arange(len(values))
        texts = [_tick_text(values[i], labels[i], log=False) for i in range(len(values))]
        # Many categories with multi-line labels overprint at 30 degrees: upright labels, and a
        # figure wide enough to give each its column.
        rotation = 0 if len(values) <= 4 else 30 if len(values) <= 8 else 90
        ax.set_xticks(
            x[order],
            [texts[i] for i in order],
            rotation=rotation,
            ha="right" if rotation == 30 else "center",
        )
        width, height = ax.figure.get_size_inches()
        ax.figure.set_size_inches(max(width, 0.7 * len(values)), height)
        ax.set_xlim(-0.5, len(values) - 0.5)
        return x, order, xlabel if numbers is None else f"{xlabel} (in order, not to scale)"
    if log:
        ax.set_xscale("log")
        xlabel = f"{xlabel} (log scale)"
        if (numbers == 0).any():
            _axis_break(ax, positive[0] / np.sqrt(step))
    if len(set(numbers)) <= 10:
        # Ticks at the swept values, written readably, not as matplotlib would.
        ticks: dict[float, str] = {}
        for i in order:
            ticks.setdefault(float(x[i]), _tick_text(values[i], labels[i], log))
        ax.set_xticks(list(ticks), list(ticks.values()))
        ax.minorticks_off()
    # Every value in view, also one without points (a failed setting).
    if log:
        ax.set_xlim(x.min() / 10**0.2, x.max() * 10**0.2)
    elif x.max() > x.min():
        ax.set_xlim(x.min() - 0.05 * (x.max() - x.min()), x.max() + 0.05 * (x.max() - x.min()))
    return x, order, xlabel


def _tick_text(value: str, label: str, log: bool) -> str:
    """The tick `label` of a swept `value`, its first line (the value) written readably."""
    first, _, rest = label.partition("\n")
    if first == value and _as_numbers([value]) is not None:
        first = _readable(value, log)
    return first + (f"\n{rest}" if rest else "")


def _axis_break(ax: Axes, at: float) -> None:
    """Two slashes across the x axis at `at`: the scale is not continuous there (zero on a log
    axis)."""
    for offset in (0.94, 1.06):
        ax.plot(
            [at * offset],
            [0],
            marker=[(-0.5, -1), (0.5, 1)],
            ms=10,
            color="black",
            lw=1,
            transform=ax.get_xaxis_transform(),
            clip_on=False,
            zorder=5,
        )


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
                # readable where a line or an error bar passes behind it
                bbox={"boxstyle": "square,pad=0.05", "fc": "white", "ec": "none", "alpha": 0.75},
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
    _separate_labels(fig, ax)
    return fig


def _separate_labels(fig: Figure, ax: Axes, most_moves: int = 30) -> None:
    """Moves the value labels apart until no two overlap: each away from its marker (up when
    it sits above it, down when below), past the labels placed before it.

    Measured on the rendered text, so it holds for any spacing of the values (a log axis
    brings neighbours close) and any font.
    """
    labels = [text for text in ax.texts if hasattr(text, "xyann")]
    if len(labels) < 2:
        return
    fig.draw_without_rendering()  # the layout the saved figure will have
    points_per_pixel = 72 / fig.dpi
    placed: list = []
    for label in labels:
        up = label.xyann[1] >= 0
        for _ in range(most_moves):
            box = label.get_window_extent()
            hits = [other for other in placed if box.overlaps(other)]
            if not hits:
                break
            if up:
                shift = max(other.y1 for other in hits) - box.y0 + 1
            else:
                shift = min(other.y0 for other in hits) - box.y1 - 1
            dx, dy = label.xyann
            label.xyann = (dx, dy + shift * points_per_pixel)
        placed.append(label.get_window_extent())


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
    curves: Mapping[str, Sequence[float]],
    title: str,
    ylabel: str = "loss",
    xlabel: str = "epoch",
    count_from_end: bool = False,
) -> Figure:
    """Several series on one axis (e.g. generator and discriminator loss per epoch), counted
    from 1, or with `count_from_end` from -n to -1 (the last)."""
    fig = Figure(figsize=(7, 4.5), layout="constrained")
    ax = fig.add_subplot()
    for name, values in curves.items():
        xs = np.arange(1, len(values) + 1) - (len(values) + 1 if count_from_end else 0)
        ax.plot(xs, values, marker="o", markersize=3, label=name)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.grid(alpha=0.3)
    _add_legend(fig, title)
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


def class_counts_figure(counts: Sequence[int], judge_test_acc: float, title: str) -> Figure:
    """Generated samples per class as a classifier (the judge) labels them, with the even
    share a generator without mode collapse would come near, and the judge's own test
    accuracy beside them: a histogram is only as good as the classifier that made it."""
    fig = Figure(figsize=(7.5, 4.5), layout="constrained")
    ax = fig.add_subplot()
    total = sum(counts)
    classes = np.arange(len(counts))
    ax.bar(classes, counts, color="C0")
    ax.axhline(total / len(counts), color="gray", ls="--", lw=1, label="every class equally often")
    ax.set_xticks(classes)
    ax.set_xlabel("class the judge gives the generated image")
    ax.set_ylabel(f"generated images (of {total:,})")
    ax.grid(alpha=0.3, axis="y")
    ax.legend(loc="upper right")
    ax.text(
        0.01,
        0.98,
        f"judge's accuracy on the real test images: {judge_test_acc:.4f}",
        transform=ax.transAxes,
        ha="left",
        va="top",
        fontsize=9,
        bbox={"facecolor": "white", "edgecolor": "0.8"},
    )
    ax.set_ylim(0, 1.3 * max(max(counts), 1))  # room above the bars for the two notes
    ax.set_title("\n".join(textwrap.wrap(title, 75)))
    return fig


def feature_distance_figure(
    series: Sequence[tuple[str, Sequence[float], Sequence[float]]],
    floor: float,
    title: str,
) -> Figure:
    """Feature distance against training time, one line per run (label, seconds, distances;
    runs of one label share a colour), with the distance of real images as the floor."""
    fig = Figure(figsize=(7.5, 4.8), layout="constrained")
    ax = fig.add_subplot()
    labels = list(dict.fromkeys(label for label, _, _ in series))
    colors = dict(zip(labels, _series_colors(len(labels)), strict=True))
    for index, (label, seconds, distances) in enumerate(series):
        first = index == next(i for i, (name, _, _) in enumerate(series) if name == label)
        ax.plot(
            seconds,
            distances,
            marker="o",
            markersize=4,
            color=colors[label],
            label=label if first else None,  # one legend entry per label, not per seed
        )
    if np.isfinite(floor):
        ax.axhline(floor, color="gray", ls="--", lw=1, label=f"real training images ({floor:.2f})")
    ax.set_yscale("log")  # early epochs are orders of magnitude above the last ones
    ax.set_xlim(left=0)
    ax.set_xlabel("training time (s, each point the end of an epoch)")
    ax.set_ylabel("Fréchet distance in the judge's features (log scale)")
    ax.grid(alpha=0.3, which="both")
    _add_legend(fig, title)
    return fig
