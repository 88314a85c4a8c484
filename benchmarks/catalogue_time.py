"""Where a `reproduce` run's time went, entry by entry: training, the work around it, start-up.

    python benchmarks/catalogue_time.py outputs/reproduce/<stamp> [--top 10]

Reads what a finished `python -m mnist_lab.reproduce` wrote (each entry's `steps.json`, each
run's `metrics.json` and `csv/metrics.csv`) and splits every entry's wall time three ways:

- training:  the runs' training epochs (`time/epoch_s`, validation excluded);
- per run:   the rest of each run's own time (`time/total_s`): validation, test, figures,
             checkpoints, the Trainer and loggers being built;
- process:   the rest of each command's time: the interpreter, imports, Hydra composing and
             launching the members, teardown, and the runs' report.

It also names the largest entries, and the total against the wall time the run took (entries
run `--jobs` at a time, so the wall time is about the entry time over the jobs).
"""

from __future__ import annotations

import argparse
import json
import math
from dataclasses import dataclass
from pathlib import Path

from mnist_lab.runtime.rundir import RunDir


@dataclass
class EntryTime:
    name: str
    seconds: float  # the entry's wall time, steps and report
    processes: int
    runs: int
    training: float
    per_run: float

    @property
    def process(self) -> float:
        return self.seconds - self.training - self.per_run


def entry_time(folder: Path) -> EntryTime:
    steps = json.loads((folder / "steps.json").read_text())
    runs = [RunDir(path.parent).read() for path in sorted(folder.glob("*/**/metrics.json"))]
    training = sum(run.training_seconds for run in runs)
    totals = sum(run.wall_seconds for run in runs if math.isfinite(run.wall_seconds))
    return EntryTime(
        name=folder.name,
        seconds=float(steps["seconds"]),
        processes=len(steps["steps"]),
        runs=len(runs),
        training=training,
        per_run=totals - training,
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("out", type=Path, help="a finished reproduce folder")
    parser.add_argument("--top", type=int, default=10, help="entries listed (largest first)")
    args = parser.parse_args()
    entries = sorted(
        (entry_time(path.parent) for path in args.out.glob("*/steps.json")),
        key=lambda entry: -entry.seconds,
    )
    if not entries:
        raise SystemExit(f"error: {args.out} holds no entry of a reproduce run (*/steps.json)")
    header = ("entry", "wall s", "processes", "runs", "training", "per run", "process")
    print(f"{header[0]:<32}" + "".join(f"{name:>11}" for name in header[1:]))

    def row(name: str, figures: tuple) -> str:
        seconds, processes, runs, *rest = figures
        return f"{name:<32}{seconds:11.0f}{processes:11d}{runs:11d}" + "".join(
            f"{value:11.0f}" for value in rest
        )

    for entry in entries[: args.top]:
        figures = (entry.seconds, entry.processes, entry.runs, entry.training, entry.per_run)
        print(row(entry.name, (*figures, entry.process)))
    total = EntryTime(
        "all",
        *(
            sum(getattr(e, f) for e in entries)
            for f in ("seconds", "processes", "runs", "training", "per_run")
        ),
    )
    figures = (total.seconds, total.processes, total.runs, total.training, total.per_run)
    print(row(f"all {len(entries)} entries", (*figures, total.process)))
    print(
        f"shares of the entry time: training {total.training / total.seconds:.0%}, per run "
        f"{total.per_run / total.seconds:.0%}, process {total.process / total.seconds:.0%}"
    )


if __name__ == "__main__":
    main()
