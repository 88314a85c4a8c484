"""Report on finished runs: `python -m mnist_lab.report <run or sweep dir> [--threshold 0.97]`.

Reads what each run leaves in its directory (`runtime.rundir`), not TensorBoard, and writes into
that directory the figures `analysis.figures` picks (`learning_curves.png`, `accuracy_vs_<key>.png`
when one setting was swept, ...) and the table of runs (`analysis.tables`) as `report.md` and
`report.csv` (plus, for one setting swept over seeds, how many seeds pass).

Only numpy, matplotlib and omegaconf are imported (no torch, no Lightning), so a report takes
about a second, also while training runs keep the CPU busy.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from pathlib import Path

from mnist_lab import LabError
from mnist_lab.analysis.figures import report_figures
from mnist_lab.analysis.tables import (
    DEFAULT_THRESHOLD,
    Summary,
    markdown_table,
    seed_table,
    summary_table,
    write_csv,
)
from mnist_lab.runtime.cli import ArgumentParser
from mnist_lab.runtime.rundir import Run, find_runs


def write_report(
    directory: str | Path, runs: Sequence[Run], threshold: float = DEFAULT_THRESHOLD
) -> tuple[Summary, list[Path]]:
    """Draw the figures and write report.md and report.csv into `directory`; returns the paths."""
    directory = Path(directory)
    summary = summary_table(runs, threshold)
    figures = report_figures(runs, threshold)
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
