"""The table of runs a report writes: which settings were swept, one row per run, and captions.

Pure data in, text out: `Run`s from `runtime.rundir` become a `Summary`, Markdown and CSV, with
no figure drawn (`analysis.figures` picks those).
"""

from __future__ import annotations

import csv
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mnist_lab.analysis.stats import METHOD, Group
from mnist_lab.runtime.rundir import Run, is_bookkeeping


def swept_keys(runs: Sequence[Run]) -> list[str]:
    """Override keys whose values differ between the runs; all of them when none differs.

    Bookkeeping overrides (threads, progress bars, paths, loggers) are never settings.
    """
    keys = [
        key
        for key in dict.fromkeys(key for run in runs for key in run.overrides)
        if not is_bookkeeping(key)
    ]
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


def legend_labels(
    runs: Sequence[Run], keys: Sequence[str], max_length: int | None = MAX_LABEL
) -> list[str]:
    """One distinct label per run: its swept values, with its status unless it is ok.

    Past `max_length` (None: no limit) every run is named `run <name>` instead.
    """
    names = short_names(keys)
    described = [describe(run, keys, names) for run in runs]
    too_long = max_length is not None and max(map(len, described), default=0) > max_length
    if len(runs) > 1 and (not all(described) or too_long):
        described = [f"run {run.name}" for run in runs]
    labels: list[str] = []
    for run, label in zip(runs, described, strict=True):
        label = label or "run"
        if described.count(label) > 1:
            label = f"{label} ({run.name})"
        labels.append(label if run.status == "ok" else f"{label} ({run.status})")
    return labels


# Column -> the metric a run's final accuracy is: on the held-out test set, or for a gate, which
# has no held-out rows, on its truth table (the rows it also validated on), never called test.
FINAL_ACCURACIES = {"test acc": "test/acc", "truth-table acc": "truth_table/acc"}


def final_accuracies(runs: Sequence[Run]) -> dict[str, Callable[[Run], float]]:
    """Column -> measure for the final accuracies the runs have (test acc when they have none)."""
    present = [c for c, key in FINAL_ACCURACIES.items() if any(key in r.metrics for r in runs)]
    return {
        column: lambda run, key=FINAL_ACCURACIES[column]: run.metrics.get(key, math.nan)
        for column in present or ["test acc"]
    }


# Column -> how report.md writes a number; CSV keeps every digit.
MEASURES = {
    "params": "{:,.0f}",
    "best val acc": "{:.4f}",
    "test acc": "{:.4f}",
    "truth-table acc": "{:.4f}",
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


def summary_table(runs: Sequence[Run], threshold: float | None = None) -> Summary:
    """One row per run, sorted by best val acc (highest first, failed runs last)."""
    keys = swept_keys(runs)
    accuracies = final_accuracies(runs)

    def measures(run: Run) -> dict[str, float]:
        return {
            "params": run.params,
            "best val acc": run.best_val_acc,
            **{column: accuracy(run) for column, accuracy in accuracies.items()},
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
    shown = [c for c in MEASURES if c not in FINAL_ACCURACIES or c in accuracies]
    columns = ["run", *keys, *shown, "status"]
    if all(row["mean s/epoch"] is None for row in rows):
        columns.remove("mean s/epoch")
    caption = threshold_caption(ordered, keys, threshold) if threshold is not None else ""
    return Summary(caption, columns, rows, ordered)


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
    caption = [summary.caption, ""] if summary.caption else []
    return "\n".join([*caption, header, rule, *body]) + "\n"


def seed_table(runs: Sequence[Run], threshold: float | None = None) -> str:
    """For one setting swept over several seeds: per value, how many seeds pass `threshold`.

    Empty unless there is a threshold and the swept keys are `seed` and exactly one other. The
    caption names the smallest value that passes for every seed: what "reliably" means for a
    tiny net.
    """
    keys = swept_keys(runs)
    if (
        threshold is None
        or len(keys) != 2
        or "seed" not in keys
        or len({run.value("seed") for run in runs}) < 2
    ):
        return ""
    key = next(k for k in keys if k != "seed")
    # one setting over seeds: the runs share their data, and so their kind of final accuracy
    column, accuracy = next(iter(final_accuracies(runs).items()))
    groups: dict[str, list[Run]] = {}
    for run in runs:
        groups.setdefault(run.value(key), []).append(run)
    rows, reliable = [], []
    for value, members in groups.items():
        finished = [r for r in members if r.status == "ok"]
        passed = sum(r.best_val_acc > threshold for r in finished)
        tests = [accuracy(r) for r in finished if not math.isnan(accuracy(r))]
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
    header = f"| {key} | params | {passing} | mean {column} | min {column} |"
    return "\n".join([caption, "", header, "|---|---:|---:|---:|---:|", *rows]) + "\n"


def group_measures(groups: Sequence[Group]) -> dict[str, Callable[[Run], float]]:
    """Column -> the number each group's runs contribute to its estimate."""
    return {
        "best val acc": lambda run: run.best_val_acc,
        **final_accuracies([run for group in groups for run in group.runs]),
        "final train loss": lambda run: run.final_train_loss,
    }


def group_table(groups: Sequence[Group], over: Sequence[str]) -> str:
    """One row per group of replicate runs (the same settings, other `over` values): how many
    finished and the estimates of `group_measures`, best mean validation accuracy first.
    """
    keys = list(groups[0].settings) if groups else []
    measures = group_measures(groups)
    columns = [*(keys or ["setting"]), "runs", "params", *measures]
    alignment = ["---"] * max(len(keys), 1) + ["---:"] * (len(columns) - max(len(keys), 1))
    rows = ["| " + " | ".join(columns) + " |", "|" + "|".join(alignment) + "|"]
    estimates = [
        {name: group.estimate(measure) for name, measure in measures.items()} for group in groups
    ]
    by_best_val = sorted(
        zip(groups, estimates, strict=True),
        key=lambda pair: _descending(pair[1]["best val acc"].mean),
    )
    for group, estimate in by_best_val:
        params = group.runs[0].params
        cells = [
            *([short_value(v) for v in group.settings.values()] or ["all runs"]),
            f"{len(group.finished)} of {len(group.runs)}",
            "-" if math.isnan(params) else f"{params:,.0f}",
            *(e.format() for e in estimate.values()),
        ]
        rows.append("| " + " | ".join(cell.replace("|", "\\|") for cell in cells) + " |")
    caption = (
        f"Over {', '.join(over)}: {METHOD}. `runs` counts the finished runs; only they enter "
        "the estimates. n=1 is a single run, shown without an interval."
    )
    return "\n".join([caption, "", *rows]) + "\n"


def _descending(value: float) -> float:
    """Sort key: highest first, NaN (nothing finished) last."""
    return -value if math.isfinite(value) else math.inf


def write_csv(summary: Summary, path: Path) -> Path:
    """The table as CSV with full-precision numbers; empty cells where a run has no number."""
    with path.open("w", newline="") as file:
        writer = csv.DictWriter(file, fieldnames=summary.columns, extrasaction="ignore")
        writer.writeheader()
        writer.writerows(summary.rows)
    return path
