"""Which figures a report draws from which runs (the drawing itself is in `mnist_lab.plots`).

Every run with a CSV log joins `learning_curves.png` (and `dead_units.png` when it logged dead
units); a GAN run adds its losses, mode-collapse measures and sample grids; toy 2-D runs that drew
a decision boundary each are set side by side; one setting swept gets `accuracy_vs_<key>.png`.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence

from matplotlib import image as plt_image
from matplotlib.figure import Figure

from mnist_lab.analysis.stats import Group, estimate, replicate_groups
from mnist_lab.analysis.tables import (
    describe,
    final_accuracies,
    legend_labels,
    short_names,
    swept_keys,
)
from mnist_lab.plots.curves import (
    LEARNING_CURVES,
    dead_units_figure,
    learning_curves_figure,
    metric_curves_figure,
    metric_vs_value_figure,
)
from mnist_lab.plots.images import image_sequence_figure
from mnist_lab.runtime.rundir import DECISION_BOUNDARY_FILE, Run, RunDir


def report_figures(
    runs: Sequence[Run], threshold: float | None = None, over: Sequence[str] = ()
) -> dict[str, Figure]:
    """File name -> figure, for every figure the runs have data for, in the report's order.

    Runs that are replicates (the same settings, other seeds or `over` values) are drawn as one
    line or point per group: the mean with its 95% interval.
    """
    keys = swept_keys(runs)
    labels = legend_labels(runs, keys)
    figures: dict[str, Figure] = {}
    replicates, groups = replicate_groups(runs, keys, over)
    curves = {label: run.curves for label, run in zip(labels, runs, strict=True) if run.curves}
    if groups:
        figures.update(group_figures(groups, replicates, threshold))
    elif has_learning_curves(runs):
        figures["learning_curves.png"] = learning_curves_figure(curves)
    if any(m.startswith("dead_units/") for run in runs for m in run.curves):
        figures["dead_units.png"] = dead_units_figure(curves)
    for run in runs:
        prefix = "" if len(runs) == 1 else f"{run.name}_"
        figures.update({prefix + name: fig for name, fig in gan_figures(run).items()})
    boundaries = boundaries_figure(runs, labels)
    if boundaries is not None:
        figures["decision_boundaries.png"] = boundaries
    if not groups and len(keys) == 1 and len({run.value(keys[0]) for run in runs}) > 1:
        file_name = re.sub(r"[^\w-]", "_", keys[0])  # dots and brackets make awkward names
        figures[f"accuracy_vs_{file_name}.png"] = accuracy_figure(runs, keys[0], threshold)
    return figures


def group_figures(
    groups: Sequence[Group], over: Sequence[str], threshold: float | None
) -> dict[str, Figure]:
    """Learning curves as the mean and interval of each group; accuracy against the one swept
    setting with error bars, when exactly one setting differs between the groups."""
    figures: dict[str, Figure] = {}
    names = short_names(list(groups[0].settings))
    labels = [
        f"{describe(g.runs[0], list(g.settings), names) or 'all runs'} (n={len(g.finished)})"
        for g in groups
    ]
    with_curves = [(label, g) for label, g in zip(labels, groups, strict=True) if g.finished]
    if has_learning_curves([run for g in groups for run in g.finished]):
        means, bands = {}, {}
        for label, group in with_curves:
            means[label], bands[label] = mean_curves(group)
        title = f"Learning curves: mean and 95% interval over {', '.join(over)}"
        figures["learning_curves.png"] = learning_curves_figure(means, title, bands)
    if len(groups[0].settings) == 1 and len(groups) > 1:
        key = next(iter(groups[0].settings))
        values = [g.settings[key] for g in groups]
        runs = [run for group in groups for run in group.runs]
        measures = {"best val acc": lambda r: r.best_val_acc, **final_accuracies(runs)}
        estimates = {name: [g.estimate(m) for g in groups] for name, m in measures.items()}
        file_name = re.sub(r"[^\w-]", "_", key)
        figures[f"accuracy_vs_{file_name}.png"] = metric_vs_value_figure(
            values,
            {name: [e.mean for e in column] for name, column in estimates.items()},
            xlabel=key,
            title=f"Accuracy vs {key}: mean and 95% interval over {', '.join(over)}",
            threshold=threshold,
            tick_labels=[
                f"{v}{_size(g.runs[0])}\n(n={len(g.finished)})"
                for v, g in zip(values, groups, strict=True)
            ],
            min_span=0.02,
            errors={name: [e.half_width for e in column] for name, column in estimates.items()},
        )
    return figures


def has_learning_curves(runs: Sequence[Run]) -> bool:
    """Whether any run logged a metric of the learning-curve panels (a GAN logs none: its
    losses have their own figure, and four empty panels are no figure)."""
    return any(
        any(math.isfinite(value) for value in run.curves.get(metric, []))
        for run in runs
        for metric, _, _ in LEARNING_CURVES
    )


def mean_curves(group: Group) -> tuple[dict[str, list[float]], dict[str, tuple[list, list]]]:
    """Per metric and epoch, the mean over the group's finished runs and its interval."""
    runs = [run for run in group.finished if run.curves]
    means: dict[str, list[float]] = {}
    bands: dict[str, tuple[list, list]] = {}
    for metric in dict.fromkeys(m for run in runs for m in run.curves):
        epochs = max(len(run.curves.get(metric, [])) for run in runs)
        columns = [
            estimate([run.curves[metric][e] for run in runs if e < len(run.curves.get(metric, []))])
            for e in range(epochs)
        ]
        means[metric] = [c.mean for c in columns]
        bands[metric] = ([c.low for c in columns], [c.high for c in columns])
    return means, bands


def boundaries_figure(runs: Sequence[Run], labels: Sequence[str]) -> Figure | None:
    """The boundaries the runs drew, side by side under their `labels`; None for fewer than 2."""
    boundaries = [
        (label, run.path / DECISION_BOUNDARY_FILE) for label, run in zip(labels, runs, strict=True)
    ]
    boundaries = [(label, path) for label, path in boundaries if path.is_file()]
    if len(boundaries) < 2:
        return None
    return image_sequence_figure(
        [plt_image.imread(path) for _, path in boundaries],
        [label for label, _ in boundaries],
        "Decision boundaries with the training points",
        columns=min(len(boundaries), 6),
    )


def accuracy_figure(runs: Sequence[Run], key: str, threshold: float | None) -> Figure:
    """Best val acc and final accuracy of the finished runs against their value of `key`."""
    values = [run.value(key) for run in runs]
    tick_labels = [
        value + _size(run) + ("" if run.status == "ok" else f"\n({run.status})")
        for value, run in zip(values, runs, strict=True)
    ]
    # A failed or unfinished run's numbers are not results: it keeps its place, without points.
    measures = {"best val acc": lambda r: r.best_val_acc, **final_accuracies(runs)}
    return metric_vs_value_figure(
        values,
        {
            name: [measure(r) if r.status == "ok" else math.nan for r in runs]
            for name, measure in measures.items()
        },
        xlabel=key,
        title=f"Accuracy vs {key}",
        threshold=threshold,
        tick_labels=tick_labels,
        min_span=0.02,
    )


def _size(run: Run) -> str:
    """A tick label's second line: widths or model names mean little alone, the parameter
    count says how big (empty when the run never wrote it)."""
    return f"\n{int(run.params):,} params" if not math.isnan(run.params) else ""


GAN_LOSSES = {"train/g_loss": "generator", "train/d_loss": "discriminator"}
MODE_COLLAPSE = {
    "samples/classes_present": "digit classes present (of 10)",
    "samples/class_entropy": "class entropy, bits (3.32 = all 10 equally often)",
}


def gan_figures(run: Run, most_grids: int = 10) -> dict[str, Figure]:
    """For a GAN run: G and D losses, mode-collapse measures, and sample grids over training."""
    figures: dict[str, Figure] = {}
    losses = {label: run.curves[key] for key, label in GAN_LOSSES.items() if key in run.curves}
    if losses:
        figures["gan_losses.png"] = metric_curves_figure(
            losses, "GAN losses (mean over each epoch)", ylabel="loss"
        )
    collapse = {label: run.curves[k] for k, label in MODE_COLLAPSE.items() if k in run.curves}
    if collapse:
        figures["mode_collapse.png"] = metric_curves_figure(
            collapse,
            "Mode-collapse check: generated digits as a classifier labels them",
            ylabel="classes / bits",
        )
    grids = list(RunDir(run.path).sample_grids().items())
    if grids:
        # Evenly spaced epochs, always the first and the last.
        picks = sorted(
            {
                round(i * (len(grids) - 1) / max(most_grids - 1, 1))
                for i in range(min(most_grids, len(grids)))
            }
        )
        chosen = [grids[i] for i in picks]
        figures["samples_over_training.png"] = image_sequence_figure(
            [plt_image.imread(path) for _, path in chosen],
            [f"epoch {epoch}" for epoch, _ in chosen],
            "Samples from the same latent vectors as training goes on",
        )
    return figures
