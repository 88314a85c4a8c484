"""Report on finished runs: `python -m mnist_lab.report <run or sweep dir> [--threshold 0.97]`.

Reads what each run leaves in its directory (`metrics.json`, `csv/metrics.csv`, `.hydra/`,
`failed.txt`), not TensorBoard, and writes into that directory: `learning_curves.png`,
`accuracy_vs_<key>.png` when one setting was swept, `dead_units.png` when dead units were logged,
`decision_boundaries.png` when the runs drew one each (toy 2-D data), and the table of runs as
`report.md` and `report.csv` (plus, for one setting swept over seeds, how many seeds pass).

Only numpy, matplotlib and omegaconf are imported (no torch, no Lightning), so a report takes
about a second, also while training runs keep the CPU busy.
"""

from __future__ import annotations

import csv
import math
import re
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from matplotlib import image as plt_image
from matplotlib.figure import Figure

from mnist_lab import LabError
from mnist_lab.plots.curves import (
    dead_units_figure,
    learning_curves_figure,
    metric_curves_figure,
    metric_vs_value_figure,
)
from mnist_lab.plots.images import image_sequence_figure
from mnist_lab.runtime.cli import ArgumentParser
from mnist_lab.runtime.rundir import Run, find_runs

DEFAULT_THRESHOLD = 0.97
_ABSENT = object()


def swept_keys(runs: Sequence[Run]) -> list[str]:
    """Override keys whose values differ between the runs; all of them when none differs."""
    keys = list(dict.fromkeys(key for run in runs for key in run.overrides))
    differing = [key for key in keys if len({run.value(key) for run in runs}) > 1]
    return differing or keys


def short_names(keys: Sequence[str]) -> dict[str, str]:
    """The shortest dotted suffix that tells each key apart: `model.optimizer.lr` -> `lr`.

    A bare `name` says nothing, so `model.scheduler.name` becomes `scheduler.name`.
    """
    names = {}
    for key in keys:
        parts = key.split(".")
        for n in range(1, len(parts) + 1):
            suffix = ".".join(parts[-n:])
            unique = sum(other == suffix or other.endswith("." + suffix) for other in keys) == 1
            if unique and suffix != "name":
                break
        names[key] = suffix
    return names


def short_value(value: str) -> str:
    """A value for people to read: long floats (Optuna's picks) cut to 4 significant digits."""
    try:
        number = float(value)
    except ValueError:
        return value
    return f"{number:.4g}" if len(value) > 8 else value


def describe(run: Run, keys: Sequence[str], names: dict[str, str] | None = None) -> str:
    """`key=value, ...` for the keys the run has a value for (under short `names` if given)."""
    names = names or {}
    return ", ".join(
        f"{names.get(key, key)}={short_value(run.value(key))}" for key in keys if run.value(key)
    )


# Past this a legend entry stops being readable; the run's name, found in the table, replaces it.
MAX_LABEL = 100


def legend_labels(runs: Sequence[Run], keys: Sequence[str]) -> list[str]:
    """One distinct label per run: its swept values, with its status unless it is ok."""
    names = short_names(keys)
    described = [describe(run, keys, names) for run in runs]
    if len(runs) > 1 and (not all(described) or max(map(len, described)) > MAX_LABEL):
        described = [f"run {run.name}" for run in runs]
    labels: list[str] = []
    for run, label in zip(runs, described, strict=True):
        label = label or "run"
        if described.count(label) > 1:
            label = f"{label} ({run.name})"
        labels.append(label if run.status == "ok" else f"{label} ({run.status})")
    return labels


# Column -> how report.md writes a number; CSV keeps every digit.
MEASURES = {
    "params": "{:,.0f}",
    "best val acc": "{:.4f}",
    "test acc": "{:.4f}",
    "final train loss": "{:.4f}",
    "mean s/epoch": "{:.2f}",
    "wall time (s)": "{:.1f}",
}


@dataclass
class Summary:
    """The table of runs, best first, with the caption naming the smallest model that passes."""

    caption: str
    columns: list[str]
    rows: list[dict[str, Any]]  # column -> value; None where a run has no such number
    runs: list[Run]  # in the order of `rows`


def summary_table(runs: Sequence[Run], threshold: float = DEFAULT_THRESHOLD) -> Summary:
    """One row per run, sorted by best val acc (highest first, failed runs last)."""
    keys = swept_keys(runs)

    def measures(run: Run) -> dict[str, float]:
        return {
            "params": run.params,
            "best val acc": run.best_val_acc,
            "test acc": run.test_acc,
            "final train loss": run.final_train_loss,
            "mean s/epoch": run.seconds_per_epoch,
            "wall time (s)": run.wall_seconds,
        }

    ordered = sorted(
        runs,
        key=lambda r: (
            r.status == "failed",
            math.isnan(r.best_val_acc),
            -r.best_val_acc if not math.isnan(r.best_val_acc) else 0.0,
        ),
    )
    rows = []
    for run in ordered:
        row: dict[str, Any] = {"run": run.name, **{key: run.value(key) for key in keys}}
        for column, number in measures(run).items():
            row[column] = None if math.isnan(number) else number
        if row["params"] is not None:
            row["params"] = int(row["params"])
        row["status"] = run.status_text
        rows.append(row)
    columns = ["run", *keys, *MEASURES, "status"]
    if all(row["mean s/epoch"] is None for row in rows):
        columns.remove("mean s/epoch")
    return Summary(threshold_caption(ordered, keys, threshold), columns, rows, ordered)


def threshold_caption(runs: Sequence[Run], keys: Sequence[str], threshold: float) -> str:
    """Which finished run is the smallest with best val acc above `threshold`, or that none is."""
    finished = [r for r in runs if r.status == "ok" and not math.isnan(r.best_val_acc)]
    passing = [r for r in finished if r.best_val_acc > threshold and not math.isnan(r.params)]
    if passing:
        smallest = min(passing, key=lambda r: (r.params, -r.best_val_acc))
        return (
            f"Smallest model with best val acc > {threshold:g}: {int(smallest.params):,} "
            f"parameters ({describe(smallest, keys) or smallest.name})"
        )
    caption = f"No finished model has best val acc > {threshold:g}"
    if finished:
        best = max(finished, key=lambda r: r.best_val_acc)
        caption += f" (highest: {best.best_val_acc:.4f}, {describe(best, keys) or best.name})"
    return caption


def markdown_table(summary: Summary) -> str:
    """The caption, then the table in Markdown; numbers right-aligned and rounded."""

    def cell(column: str, value: Any) -> str:
        if value is None:
            return "-"
        text = MEASURES[column].format(value) if column in MEASURES else short_value(str(value))
        return text.replace("|", "\\|")

    header = "| " + " | ".join(summary.columns) + " |"
    rule = "|" + "|".join("---:" if c in MEASURES else "---" for c in summary.columns) + "|"
    body = [
        "| " + " | ".join(cell(column, row[column]) for column in summary.columns) + " |"
        for row in summary.rows
    ]
    return "\n".join([summary.caption, "", header, rule, *body]) + "\n"


def seed_table(runs: Sequence[Run], threshold: float = DEFAULT_THRESHOLD) -> str:
    """For one setting swept over several seeds: per value, how many seeds pass `threshold`.

    Empty unless the swept keys are `seed` and exactly one other. The caption names the smallest
    value that passes for every seed: what "reliably" means for a tiny net.
    """
    keys = swept_keys(runs)
    if len(keys) != 2 or "seed" not in keys or len({run.value("seed") for run in runs}) < 2:
        return ""
    key = next(k for k in keys if k != "seed")
    groups: dict[str, list[Run]] = {}
    for run in runs:
        groups.setdefault(run.value(key), []).append(run)
    rows, reliable = [], []
    for value, members in groups.items():
        finished = [r for r in members if r.status == "ok"]
        passed = sum(r.best_val_acc > threshold for r in finished)
        tests = [r.test_acc for r in finished if not math.isnan(r.test_acc)]
        params = members[0].params
        mean, low = (f"{sum(tests) / len(tests):.4f}", f"{min(tests):.4f}") if tests else ("-", "-")
        size = "-" if math.isnan(params) else f"{params:,.0f}"
        rows.append(f"| {value} | {size} | {passed} of {len(members)} | {mean} | {low} |")
        if passed == len(members):
            reliable.append((params, value))
    if reliable:
        params, value = min(reliable, key=lambda pair: pair[0])
        caption = (
            f"Smallest {key} with best val acc > {threshold:g} for every seed: {value} "
            f"({params:,.0f} parameters)"
        )
    else:
        caption = f"No {key} has best val acc > {threshold:g} for every seed"
    passing = f"seeds with best val acc > {threshold:g}"
    header = f"| {key} | params | {passing} | mean test acc | min test acc |"
    return "\n".join([caption, "", header, "|---|---:|---:|---:|---:|", *rows]) + "\n"


def write_csv(summary: Summary, path: Path) -> Path:
    """The table as CSV with full-precision numbers; empty cells where a run has no number."""
    with path.open("w", newline="") as file:
        writer = csv.DictWriter(file, fieldnames=summary.columns, extrasaction="ignore")
        writer.writeheader()
        writer.writerows(summary.rows)
    return path


def accuracy_figure(runs: Sequence[Run], key: str, threshold: float) -> Figure:
    """Best val acc and test acc of the finished runs against their value of `key`."""
    values = [run.value(key) for run in runs]
    tick_labels = []
    for value, run in zip(values, runs, strict=True):
        # Widths or model names mean little alone; their parameter count says how big.
        size = f"\n{int(run.params):,} params" if not math.isnan(run.params) else ""
        tick_labels.append(value + size + ("" if run.status == "ok" else f"\n({run.status})"))
    # A failed or unfinished run's numbers are not results: it keeps its place, without points.
    return metric_vs_value_figure(
        values,
        {
            "best val acc": [r.best_val_acc if r.status == "ok" else math.nan for r in runs],
            "test acc": [r.test_acc if r.status == "ok" else math.nan for r in runs],
        },
        xlabel=key,
        title=f"Accuracy vs {key}",
        threshold=threshold,
        tick_labels=tick_labels,
        min_span=0.02,
    )


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
    grids = sorted(run.path.glob("samples_epoch_*.png"))
    if grids:
        # Evenly spaced epochs, always the first and the last.
        picks = sorted(
            {
                round(i * (len(grids) - 1) / max(most_grids - 1, 1))
                for i in range(min(most_grids, len(grids)))
            }
        )
        chosen = [grids[i] for i in picks]
        labels = [f"epoch {int(path.stem.rsplit('_', 1)[1])}" for path in chosen]
        figures["samples_over_training.png"] = image_sequence_figure(
            [plt_image.imread(path) for path in chosen],
            labels,
            "Samples from the same latent vectors as training goes on",
        )
    return figures


def write_report(
    directory: str | Path, runs: Sequence[Run], threshold: float = DEFAULT_THRESHOLD
) -> tuple[Summary, list[Path]]:
    """Draw the figures and write report.md and report.csv into `directory`; returns the paths."""
    directory = Path(directory)
    keys = swept_keys(runs)
    labels = legend_labels(runs, keys)
    summary = summary_table(runs, threshold)
    figures = {}
    if any(run.curves for run in runs):
        curves = {label: run.curves for label, run in zip(labels, runs, strict=True) if run.curves}
        figures["learning_curves.png"] = learning_curves_figure(curves)
        if any(m.startswith("dead_units/") for run in runs for m in run.curves):
            figures["dead_units.png"] = dead_units_figure(curves)
    for run in runs:
        prefix = "" if len(runs) == 1 else f"{run.name}_"
        figures.update({prefix + name: fig for name, fig in gan_figures(run).items()})
    boundaries = [
        (label, run.path / "decision_boundary.png") for label, run in zip(labels, runs, strict=True)
    ]
    boundaries = [(label, path) for label, path in boundaries if path.is_file()]
    if len(boundaries) > 1:
        figures["decision_boundaries.png"] = image_sequence_figure(
            [plt_image.imread(path) for _, path in boundaries],
            [label for label, _ in boundaries],
            "Decision boundaries with the training points",
            columns=min(len(boundaries), 6),
        )
    if len(keys) == 1 and len({run.value(keys[0]) for run in runs}) > 1:
        file_name = re.sub(r"[^\w-]", "_", keys[0])  # dots and brackets make awkward names
        figures[f"accuracy_vs_{file_name}.png"] = accuracy_figure(runs, keys[0], threshold)
    paths = []
    for name, figure in figures.items():
        figure.savefig(directory / name, dpi=110)
        paths.append(directory / name)
    report_md = directory / "report.md"
    images = "".join(f"\n![{name}]({name})\n" for name in figures)
    by_seed = seed_table(runs, threshold)
    report_md.write_text(markdown_table(summary) + (f"\n{by_seed}" if by_seed else "") + images)
    paths += [report_md, write_csv(summary, directory / "report.csv")]
    return summary, paths


def main(argv: Sequence[str] | None = None) -> int:
    """Command line entry point; returns the exit status (2 for a bad directory)."""
    parser = ArgumentParser(
        prog="python -m mnist_lab.report",
        description="Figures and a table (report.md, report.csv) from the runs in a run, sweep "
        "or runs directory, written into that directory.",
    )
    parser.add_argument(
        "directory",
        type=Path,
        help="a run dir, a sweep (multirun) dir, or a "
        "folder of run dirs such as outputs/train/runs",
    )
    parser.add_argument(
        "--threshold",
        type=float,
        default=DEFAULT_THRESHOLD,
        help="the caption names the smallest model whose best val acc is above this "
        f"(default {DEFAULT_THRESHOLD})",
    )
    args = parser.parse_args(argv)
    try:
        runs = find_runs(args.directory)
        summary, paths = write_report(args.directory, runs, args.threshold)
    except LabError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    except OSError as error:
        print(f"error: cannot write the report into {args.directory}: {error}", file=sys.stderr)
        return 2
    print(markdown_table(summary))
    if by_seed := seed_table(runs, args.threshold):
        print(by_seed)
    if not any(run.curves for run in runs):
        print("no per-epoch curves: no run has csv/metrics.csv (fast_dev_run or logger=none)")
    for path in paths:
        print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
