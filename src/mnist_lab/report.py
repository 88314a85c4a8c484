"""Report on finished runs: `python -m mnist_lab.report <run or sweep dir> [--threshold 0.97]`.

A threshold (CS156 bonus §2's 97% validation accuracy) is drawn and named only when given: most
experiments have no such target.

Reads what each run leaves in its directory (`runtime.rundir`), not TensorBoard, and writes into
that directory the figures `analysis.figures` picks (`learning_curves.png`, `accuracy_vs_<key>.png`
when one setting was swept, ...) and the table of runs (`analysis.tables`) as `report.md` and
`report.csv` (plus, for one setting swept over seeds, how many seeds pass).

Only numpy, matplotlib and omegaconf are imported (no torch, no Lightning), so a report takes
about a second, also while training runs keep the CPU busy.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from mnist_lab import LabError
from mnist_lab.analysis.figures import report_figures
from mnist_lab.analysis.stats import replicate_groups
from mnist_lab.analysis.tables import (
    Summary,
    group_table,
    markdown_table,
    seed_table,
    summary_table,
    swept_keys,
    write_csv,
)
from mnist_lab.analysis.versus import compare, sweep_name, versus_figure, versus_table
from mnist_lab.runtime.cli import ArgumentParser, os_error_text, print_error, run_command
from mnist_lab.runtime.rundir import REPORT_CSV, REPORT_FILE, Run, find_runs

VERSUS_FIGURE = "versus.png"


@dataclass(frozen=True)
class Report:
    """What `write_report` made: the runs' summary and its tables in Markdown, and the files."""

    summary: Summary
    runs_table: str
    seeds_table: str  # '' unless one setting is swept over seeds against a threshold
    groups_table: str  # '' unless some setting repeats over seeds
    paths: list[Path]


def write_report(
    directory: str | Path,
    runs: Sequence[Run],
    threshold: float | None = None,
    over: Sequence[str] = (),
) -> Report:
    """Draw the figures and write report.md and report.csv into `directory`.

    Runs that differ only in `seed` (or also in the keys `over`) are summarised per group too,
    with intervals, in report.md and the figures.
    """
    directory = Path(directory)
    summary = summary_table(runs, threshold)
    figures = report_figures(runs, threshold, over)
    paths = []
    for name, figure in figures.items():
        figure.savefig(directory / name, dpi=110)
        paths.append(directory / name)
    report_md = directory / REPORT_FILE
    images = "".join(f"\n![{name}]({name})\n" for name in figures)
    runs_table, seeds = markdown_table(summary), seed_table(runs, threshold)
    groups = replicates_table(runs, over)
    report_md.write_text(
        "\n".join(section for section in (runs_table, seeds, groups) if section) + images
    )
    paths += [report_md, write_csv(summary, directory / REPORT_CSV)]
    return Report(summary, runs_table, seeds, groups, paths)


def replicates_table(runs: Sequence[Run], over: Sequence[str] = ()) -> str:
    """The per-group table with intervals when some runs repeat a setting over seeds, else ''."""
    replicates, groups = replicate_groups(runs, swept_keys(runs), over)
    return group_table(groups, replicates) if groups else ""


def write_versus(
    directory: Path, other: Path, out: Path | None, without: Sequence[tuple[str, str]] = ()
) -> list[Path]:
    """The best setting of `directory`'s sweep beside the closest of `other`'s, into `out`."""
    runs, other_runs = find_runs(directory), find_runs(other)
    try:
        versus = compare(runs, other_runs, without=without)
    except ValueError as error:
        raise LabError(f"--versus {other}: {error}") from None
    names = sweep_name(runs), sweep_name(other_runs)
    out = out or directory / "versus"
    out.mkdir(parents=True, exist_ok=True)
    versus_figure(versus, *names).savefig(out / VERSUS_FIGURE, dpi=110)
    (out / REPORT_FILE).write_text(f"{versus.answer(*names)}\n\n{versus_table(versus, *names)}")
    return [out / REPORT_FILE, out / VERSUS_FIGURE]


def setting(text: str) -> tuple[str, str]:
    """`key=value` from the command line, as a pair."""
    key, sign, value = text.partition("=")
    if not sign or not key or not value:
        raise argparse.ArgumentTypeError(f"{text!r} is not KEY=VALUE")
    return key, value


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
        help="a target on best val acc, e.g. 0.97 (CS156 bonus §2): drawn on the accuracy "
        "figures, and the table names the smallest model above it (and, over seeds, the "
        "smallest setting above it for every seed); none by default",
    )
    parser.add_argument(
        "--over",
        type=lambda text: [key for key in text.split(",") if key],
        default=[],
        help="comma-separated keys whose runs count as replicates besides seed, e.g. "
        "data.split_seed: runs differing only in them are summarised as one group",
    )
    parser.add_argument(
        "--versus",
        type=Path,
        metavar="SWEEP",
        help="instead of the report: the best setting of DIRECTORY (on validation accuracy) "
        "beside the closest settings of SWEEP, e.g. an L2 sweep against a width sweep "
        "(CS156 bonus §3), as report.md and versus.png",
    )
    parser.add_argument(
        "--out", type=Path, help="with --versus: the folder to write (default DIRECTORY/versus)"
    )
    parser.add_argument(
        "--without",
        type=setting,
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="with --versus: leave this setting of DIRECTORY out of the best, e.g. "
        "model.optimizer.weight_decay=0 to ask what L2 can do (repeatable)",
    )
    args = parser.parse_args(argv)
    without = " ".join(f"--without {key}={value}" for key, value in args.without)
    for given in (f"--out {args.out}" if args.out else "", without):
        if given and args.versus is None:
            return print_error(f"{given} is only used with --versus SWEEP")
    if args.versus is not None:
        try:
            paths = write_versus(args.directory, args.versus, args.out, args.without)
        except LabError as error:
            return print_error(error)
        except OSError as error:
            return print_error(f"cannot write the comparison: {os_error_text(error)}")
        print(paths[0].read_text().split("\n")[0])
        for path in paths:
            print(f"wrote {path}")
        return 0
    try:
        runs = find_runs(args.directory)
        for run in runs:
            if run.status == "unreadable":  # listed in the table as such, left out of figures
                print(f"warning: skipped {run.path}: {run.reason}", file=sys.stderr)
        report = write_report(args.directory, runs, args.threshold, args.over)
    except LabError as error:
        return print_error(error)
    except OSError as error:
        return print_error(f"cannot write the report into {args.directory}: {os_error_text(error)}")
    print(report.runs_table)
    for section in (report.seeds_table, report.groups_table):
        if section:
            print(section)
    if not any(run.curves for run in runs):
        print("no per-epoch curves: no run has csv/metrics.csv (fast_dev_run or logger=none)")
    for path in report.paths:
        print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(run_command(main))
