"""Which figures a report draws from which runs (the drawing itself is in `mnist_lab.plots`).

Every run with a CSV log joins `learning_curves.png` (per step when the runs trained one epoch;
`dead_units.png` when they logged dead units; `last_batch_losses.png` when they saved the last
mini-batches' losses); a GAN run adds its losses, mode-collapse measures and sample grids; toy
2-D runs that drew a decision boundary each are set side by side; one setting swept gets
`accuracy_vs_<key>.png`.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
from matplotlib import image as plt_image
from matplotlib.figure import Figure
from omegaconf import OmegaConf

from mnist_lab.analysis.stats import Group, estimate, replicate_groups
from mnist_lab.analysis.tables import (
    MAX_LABEL,
    describe,
    final_accuracies,
    legend_labels,
    short_names,
    short_value,
    swept_keys,
)
from mnist_lab.plots.curves import (
    class_counts_figure,
    dead_units_figure,
    feature_distance_figure,
    learning_curve_panels,
    learning_curves_figure,
    metric_curves_figure,
    metric_vs_value_figure,
    panel_metrics,
)
from mnist_lab.plots.images import image_sequence_figure, side_by_side_figure
from mnist_lab.runtime.rundir import DECISION_BOUNDARY_FILE, Run, RunDir, is_bookkeeping

# More lines than this, differing in more than one setting (a search), cannot be told apart:
# the best few by validation are drawn in colour. One setting swept keeps every value in colour
# (its order is the point), as distinct colours up to 10.
MOST_COLOURED = 6
HIGHLIGHTED = 5
# y-axis label of the learning curves' loss, by the recipe's class (`model._target_`)
LOSS_NAMES = {
    "Classifier": "cross-entropy loss (nats)",
    "Autoencoder": "reconstruction MSE (per pixel)",
}


def report_figures(
    runs: Sequence[Run], threshold: float | None = None, over: Sequence[str] = ()
) -> dict[str, Figure]:
    """File name -> figure, for every figure the runs have data for, in the report's order.

    Runs that are replicates (the same settings, other seeds or `over` values) are drawn as one
    line or point per group: the mean with its 95% interval.
    """
    keys = swept_keys(runs)
    # a search's few highlighted lines can carry the whole setting: the others have no label
    search = len(keys) > 1 and len(runs) > MOST_COLOURED
    labels = legend_labels(runs, keys, None if search else MAX_LABEL)
    figures: dict[str, Figure] = {}
    replicates, groups = replicate_groups(runs, keys, over)
    if groups:
        figures.update(group_figures(groups, replicates, threshold))
    else:
        lines = [run_line(label, run) for label, run in zip(labels, runs, strict=True)]
        figure = learning_curves(lines, "Learning curves", loss_name(runs), search)
        if figure is not None:
            figures["learning_curves.png"] = figure
    curves = {label: run.curves for label, run in zip(labels, runs, strict=True) if run.curves}
    if any(m.startswith("dead_units/") for run in runs for m in run.curves):
        figures["dead_units.png"] = dead_units_figure(curves)
    last_batches = last_batches_figure(runs, labels, search)
    if last_batches is not None:
        figures["last_batch_losses.png"] = last_batches
    for run in runs:
        prefix = "" if len(runs) == 1 else f"{run.name}_"
        figures.update({prefix + name: fig for name, fig in gan_figures(run).items()})
    figures.update(gan_comparison_figures(runs, labels))
    boundaries = boundaries_figure(runs, labels)
    if boundaries is not None:
        figures["decision_boundaries.png"] = boundaries
    # GANs have no accuracy: a sweep of them (E30) gets no empty accuracy figure
    accuracies = [run.best_val_acc for run in runs] + [
        measure(run) for measure in final_accuracies(runs).values() for run in runs
    ]
    measured = any(math.isfinite(value) for value in accuracies)
    swept = len(keys) == 1 and len({run.value(keys[0]) for run in runs}) > 1
    if not groups and swept and measured:
        file_name = re.sub(r"[^\w-]", "_", keys[0])  # dots and brackets make awkward names
        figures[f"accuracy_vs_{file_name}.png"] = accuracy_figure(runs, keys[0], threshold)
    return figures


@dataclass
class Line:
    """One legend entry of the learning curves: a run, or the mean of a group of seeds."""

    label: str
    curves: dict[str, list[float]]  # per epoch, as `Run.curves`
    score: float  # the validation metric the runs are ranked by, higher is better; NaN: none
    bands: dict[str, tuple[list, list]] = field(default_factory=dict)
    steps: dict[str, tuple[list[int], list[float]]] = field(default_factory=dict)
    stopped: int | None = None  # the epoch a failed run stopped in


def run_line(label: str, run: Run) -> Line:
    """A run's line; a failed one is named by how and in which epoch it stopped."""
    stopped = None
    if run.status == "failed":
        stopped = stopped_epoch(run)
        when = "before training" if started_nothing(run) else f"in epoch {stopped}"
        label = f"{label.removesuffix(' (failed)')} ({stop_text(run)} {when})"
    return Line(label, run.curves, validation_score(run), steps=_run_steps(run), stopped=stopped)


def stopped_epoch(run: Run) -> int:
    """The epoch (from 1) a run stopped in: the one after the last it logged."""
    return 1 + max((len(values) for values in run.curves.values()), default=0)


def started_nothing(run: Run) -> bool:
    """Whether a failed run stopped before its first step (an unusable device, say): it logged
    nothing and did not diverge."""
    return stop_text(run) == "failed" and not run.curves and not RunDir(run.path).step_curves()


def stop_text(run: Run) -> str:
    """`diverged` when the run stopped on a non-finite loss or weights, else `failed`."""
    return "diverged" if re.search(r"\b(nan|inf|non-finite)\b", run.reason, re.I) else "failed"


def validation_score(run: Run) -> float:
    """The run's best value of the metric its recipe monitors on validation (`monitor`, e.g.
    val/acc or val/loss), signed so that higher is better; NaN when it logged none. Never a
    test number: this ranks runs for the figures."""
    monitor, mode = _monitor(run)
    values = [v for v in run.curves.get(monitor, []) if math.isfinite(v)]
    if not values:
        return math.nan
    return max(values) if mode == "max" else -min(values)


def _monitor(run: Run) -> tuple[str, str]:
    """(metric, max or min) the run's recipe monitors; val/acc, max when it does not say."""
    monitor = OmegaConf.select(run.config, "monitor", default=None) or "val/acc"
    mode = OmegaConf.select(run.config, "monitor_mode", default=None) or "max"
    return str(monitor), str(mode)


def loss_name(runs: Sequence[Run]) -> str:
    """The loss axis's label for the runs' recipe (`LOSS_NAMES`), `loss` for a mix or none."""
    recipes = {
        str(OmegaConf.select(run.config, "model._target_", default="")).rsplit(".", 1)[-1]
        for run in runs
    }
    return LOSS_NAMES.get(recipes.pop(), "loss") if len(recipes) == 1 else "loss"


def _run_steps(run: Run) -> dict[str, tuple[list[int], list[float]]]:
    """A short run's per-step training loss; none for runs of more than one epoch (read
    only when drawn)."""
    if max((len(values) for values in run.curves.values()), default=0) > 1:
        return {}
    return {k: v for k, v in RunDir(run.path).step_curves().items() if k == "train/loss"}


def learning_curves(
    lines: Sequence[Line], title: str, loss: str, search: bool = False
) -> Figure | None:
    """The learning curves of `lines`, or None when they logged nothing to draw.

    Runs of one epoch get their training loss per logged step (and the validation loss at the
    end of the epoch) instead: one point per epoch is no curve. For a `search` of many lines:
    the best `HIGHLIGHTED` by validation in colour, the others grey.
    """
    panels = learning_curve_panels(loss)
    drawn = [line for line in lines if line.curves or line.stopped is not None]
    logged = [
        line
        for line in drawn
        if any(
            math.isfinite(value)
            for panel in panels
            for metric in panel_metrics(panel)
            for value in line.curves.get(metric, [])
        )
    ]
    if not logged:
        return None
    highlight = None
    ranked = [line for line in logged if math.isfinite(line.score)]
    if search and ranked:
        best = sorted(ranked, key=lambda line: _descending(line.score))[:HIGHLIGHTED]
        highlight = [line.label for line in best]
        title = f"{title}: the {len(best)} best of {len(drawn)} by validation in colour"
    stopped = {line.label: line.stopped for line in drawn if line.stopped is not None}
    if max(len(values) for line in logged for values in line.curves.values()) > 1:
        return learning_curves_figure(
            {line.label: line.curves for line in drawn},
            title,
            {line.label: line.bands for line in drawn},
            panels,
            highlight,
            stopped,
        )
    with_steps = [line for line in logged if "train/loss" in line.steps]
    if not with_steps:
        return None
    curves, positions = {}, {}
    for line in with_steps:
        steps, values = line.steps["train/loss"]
        curves[line.label] = {"train/loss": values, "val/loss": line.curves.get("val/loss", [])}
        # the validation loss of the one epoch, at its end
        positions[line.label] = {"train/loss": steps, "val/loss": [steps[-1]]}
    step_panels = ((("train/loss", "val/loss"), "Loss during the one epoch", loss),)
    return learning_curves_figure(
        curves,
        f"{title}, per logged step of the one epoch",
        panels=step_panels,
        highlight=highlight,
        positions=positions,
        xlabel="training step (mini-batches seen)",
    )


def group_figures(
    groups: Sequence[Group], over: Sequence[str], threshold: float | None
) -> dict[str, Figure]:
    """Learning curves as the mean and interval of each group; accuracy against the one swept
    setting with error bars, when exactly one setting differs between the groups."""
    figures: dict[str, Figure] = {}
    names = short_names(list(groups[0].settings))
    labels = [f"{group_name(g, names)} (n={len(g.finished)})" for g in groups]
    lines = [group_line(label, group) for label, group in zip(labels, groups, strict=True)]
    title = f"Learning curves: mean and 95% interval over {', '.join(over)}"
    runs = [run for group in groups for run in group.runs]
    drawn = [line for line in lines if line is not None]
    search = len(groups[0].settings) > 1 and len(drawn) > MOST_COLOURED
    curves = learning_curves(drawn, title, loss_name(runs), search)
    if curves is not None:
        figures["learning_curves.png"] = curves
    if len(groups[0].settings) == 1 and len(groups) > 1:
        key = next(iter(groups[0].settings))
        values = [g.settings[key] for g in groups]
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
                f"{v}{_size(g.runs[0], runs)}\n({_members(g)})"
                for v, g in zip(values, groups, strict=True)
            ],
            min_span=0.02,
            errors={name: [e.half_width for e in column] for name, column in estimates.items()},
        )
    return figures


def group_name(group: Group, names: dict[str, str]) -> str:
    """The group's swept settings; for the one group of a run repeated over seeds, the
    overrides it was run with (bookkeeping and seed aside)."""
    described = describe(group.runs[0], list(group.settings), names)
    if described:
        return described
    run = group.runs[0]
    given = [key for key in run.overrides if key != "seed" and not is_bookkeeping(key)]
    return ", ".join(f"{key}={short_value(run.overrides[key])}" for key in given) or "all runs"


def group_line(label: str, group: Group) -> Line | None:
    """The group's mean line with its interval; a group none of whose runs finished is marked
    where its runs stopped; None for a group with neither."""
    if group.finished:
        runs = [run for run in group.finished if run.curves]
        means, bands = mean_curves(group)
        score = estimate([validation_score(run) for run in group.finished]).mean
        return Line(label, means, score, bands, mean_steps(runs))
    failed = [run for run in group.runs if run.status == "failed"]
    if not failed:
        return None
    epochs = sorted({stopped_epoch(run) for run in failed})
    when = f"in epoch {epochs[0]}" if len(epochs) == 1 else f"in epochs {epochs[0]}-{epochs[-1]}"
    if all(started_nothing(run) for run in failed):
        when = "before training"
    how = " or ".join(sorted({stop_text(run) for run in failed}))
    runs = f"{len(failed)} of {len(group.runs)} runs"
    label = f"{label.rsplit(' (n=', 1)[0]} ({runs} {how} {when})"
    return Line(label, {}, math.nan, stopped=epochs[0])


def mean_steps(runs: Sequence[Run]) -> dict[str, tuple[list[int], list[float]]]:
    """Per logged step, the mean training loss of the short runs that logged it."""
    per_run = [_run_steps(run).get("train/loss") for run in runs]
    per_run = [pairs for pairs in per_run if pairs]
    if not per_run:
        return {}
    steps = sorted({step for run_steps, _ in per_run for step in run_steps})
    lookup = [dict(zip(*pairs, strict=True)) for pairs in per_run]
    means = [estimate([v[step] for v in lookup if step in v]).mean for step in steps]
    return {"train/loss": (steps, means)}


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


def last_batches_figure(
    runs: Sequence[Run], labels: Sequence[str], search: bool = False
) -> Figure | None:
    """The training loss of the last mini-batches of each run that saved them (CS541 HW3
    Problem 2.3), against their place before the end; None when no run did. Of a `search`,
    only the best `HIGHLIGHTED` runs by validation."""
    saved = [
        (label, run, RunDir(run.path).last_batch_losses())
        for label, run in zip(labels, runs, strict=True)
    ]
    saved = [(label, run, losses) for label, run, losses in saved if losses]
    if not saved:
        return None
    count = max(len(losses) for _, _, losses in saved)
    title = f"Training loss of the last {count} mini-batches"
    if search and len(saved) > HIGHLIGHTED:
        title += f": the {HIGHLIGHTED} best of {len(saved)} runs by validation"
        saved = sorted(saved, key=lambda item: _descending(validation_score(item[1])))
        saved = saved[:HIGHLIGHTED]
    return metric_curves_figure(
        {f"{label} (mean {sum(v) / len(v):.4f})": v for label, _, v in saved},
        title,
        ylabel=loss_name(runs),
        xlabel="mini-batches before the end of training (-1: the last)",
        count_from_end=True,
    )


def _descending(score: float) -> float:
    """Sort key: highest score first, NaN last."""
    return -score if math.isfinite(score) else math.inf


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
        value + _size(run, runs) + ("" if run.status == "ok" else f"\n({run.status})")
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


def _size(run: Run, runs: Sequence[Run]) -> str:
    """A tick label's second line: widths or model names mean little alone, the parameter
    count says how big (empty when the run never wrote it, or when all `runs` have the same
    count: then it tells the ticks nothing, and crowds them)."""
    counts = {r.params for r in runs if not math.isnan(r.params)}
    return f"\n{int(run.params):,} params" if len(counts) > 1 and run.params in counts else ""


def _members(group: Group) -> str:
    """`n=3`, or for a setting none of whose runs finished, how they ended."""
    if group.finished:
        return f"n={len(group.finished)}"
    failed = [run for run in group.runs if run.status == "failed"]
    if not failed:
        return f"none of {len(group.runs)} finished"
    how = " or ".join(sorted({stop_text(run) for run in failed}))
    return f"{len(failed)} of {len(group.runs)} {how}"


GAN_LOSSES = {"train/g_loss": "generator", "train/d_loss": "discriminator"}
MODE_COLLAPSE = {
    "samples/classes_present": "digit classes present (of 10)",
    "samples/class_entropy": "class entropy, bits (3.32 = all 10 equally often)",
}


def gan_figures(run: Run, most_grids: int = 10) -> dict[str, Figure]:
    """For a GAN run: G and D losses, mode-collapse measures (per epoch, and the final class
    histogram), and sample grids over training."""
    figures: dict[str, Figure] = {}
    losses = {label: run.curves[key] for key, label in GAN_LOSSES.items() if key in run.curves}
    if losses:
        figures["gan_losses.png"] = metric_curves_figure(
            losses, "GAN losses (mean over each epoch)", ylabel="binary cross-entropy (nats)"
        )
    collapse = {label: run.curves[k] for k, label in MODE_COLLAPSE.items() if k in run.curves}
    if collapse:
        figures["mode_collapse.png"] = metric_curves_figure(
            collapse,
            "Mode-collapse check: generated digits as a classifier labels them",
            ylabel="classes / bits",
        )
    judged = RunDir(run.path).judged_samples()
    if judged is not None:
        counts = judged.counts
        present = sum(count >= 0.01 * sum(counts) for count in counts)  # as `class_histogram`
        distance = (
            ""
            if math.isnan(judged.feature_distance)
            else f"; feature distance {judged.feature_distance:.2f} "
            f"(real training images: {judged.feature_distance_floor:.2f})"
        )
        figures["judged_classes.png"] = class_counts_figure(
            counts,
            judged.judge_test_acc,
            f"Final samples by class as the judge labels them: {present} of {len(counts)} "
            f"classes present (1% or more each){distance}",
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


def gan_comparison_figures(runs: Sequence[Run], labels: Sequence[str]) -> dict[str, Figure]:
    """For two GAN runs or more (E30's dense GAN and DCGAN at equal time): the feature distance
    against training time, and each run's last sample grid side by side."""
    judged = [
        (label, run)
        for label, run in zip(labels, runs, strict=True)
        if run.curves.get("samples/feature_distance")
    ]
    if len(judged) < 2:
        return {}
    series = [
        (
            label,
            np.cumsum(run.curves["time/epoch_s"]).tolist(),
            run.curves["samples/feature_distance"],
        )
        for label, run in judged
        if len(run.curves.get("time/epoch_s", [])) == len(run.curves["samples/feature_distance"])
    ]
    finals = [RunDir(run.path).judged_samples() for _, run in judged]
    known = [final for final in finals if final is not None]
    floor = known[0].feature_distance_floor if known else math.nan
    accuracy = f"; judge test acc {known[0].judge_test_acc:.4f}" if known else ""
    figures = {
        "feature_distance.png": feature_distance_figure(
            series,
            floor,
            f"Generated vs test images: Fréchet distance in the judge's features after each "
            f"epoch{accuracy}",
        )
    }
    grids, captions = [], []
    for (label, run), final in zip(judged, finals, strict=True):
        epochs = RunDir(run.path).sample_grids()
        if not epochs:
            continue
        last = max(epochs)
        grids.append(plt_image.imread(epochs[last]))
        facts = (
            f": {sum(c >= 0.01 * sum(final.counts) for c in final.counts)} classes, "
            f"feature distance {final.feature_distance:.1f}"
            if final is not None
            else ""
        )
        captions.append(f"{label}: epoch {last}{facts}")
    if len(grids) >= 2:
        figures["final_samples_side_by_side.png"] = side_by_side_figure(
            grids, captions, "Each run's last sample grid (the judge's verdict on 10,000 samples)"
        )
    return figures
