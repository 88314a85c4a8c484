"""Run the experiment catalogue into one folder with an index: `python -m mnist_lab.reproduce`.

The catalogue is data (`conf/reproduce.yaml`): per experiment its commands, budgets and the
seeds' targets. Every command runs as its own process (`python -m mnist_lab.train ...`) into
`<out>/<id>_<name>/<step>/`, `mnist_lab.report` then draws each step's figures and table, and
`index.md` puts commands, wall times, figures, tables and targets (met or not) side by side.
A failed experiment is marked as such and the others still run.

Only the standard library, yaml, rich and the report's numpy/matplotlib are imported here: no
torch, no Lightning, so `--help` and `--dry-run` answer at once.
"""

from __future__ import annotations

import argparse
import os
import shlex
import sys
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor, as_completed
from datetime import datetime
from pathlib import Path

from rich.console import Console

from mnist_lab import LabError
from mnist_lab.catalogue.index import (
    _git_commit,
    format_seconds,
    render_index,
    targets_table,
    verdict_summary,
)
from mnist_lab.catalogue.runner import EntryResult, run_entry, step_command
from mnist_lab.catalogue.schema import Catalogue, Entry, load_catalogue
from mnist_lab.runtime.cli import ArgumentParser, int_at_least


def select(catalogue: Catalogue, only: str | None) -> list[Entry]:
    """The entries named by `--only E06,E07` (all when None), in catalogue order."""
    if not only:
        return list(catalogue.entries.values())
    wanted = [item.strip().upper() for item in only.split(",") if item.strip()]
    unknown = [item for item in wanted if item not in catalogue.entries]
    if unknown or not wanted:
        raise LabError(
            f"--only {only!r} names no experiment {', '.join(unknown)}; choose from "
            f"{', '.join(catalogue.entries)}"
        )
    return [entry for entry in catalogue.entries.values() if entry.id in wanted]


def parse_arguments(argv: Sequence[str] | None) -> argparse.Namespace:
    cores = os.cpu_count() or 1
    parser = ArgumentParser(
        prog="python -m mnist_lab.reproduce",
        description="Run every experiment of the catalogue (conf/reproduce.yaml) at its "
        "documented budget (the index says where one is shrunk), report each, and write "
        "index.md with the figures, tables and the seeds' targets, met or not.",
    )
    parser.add_argument(
        "--quick", action="store_true", help="tiny budgets (minutes): check that everything runs"
    )
    parser.add_argument("--only", help="comma-separated experiment ids, e.g. E06,E07")
    parser.add_argument(
        "--out",
        type=Path,
        help="folder for everything (default: $MNIST_LAB_LOG_DIR or outputs, "
        "then reproduce/<date>_<time>, with _quick under --quick)",
    )
    parser.add_argument(
        "--jobs",
        type=int_at_least(1),
        default=min(2, cores),
        help="experiments run at once, each with cores/jobs torch threads "
        f"(default {min(2, cores)}: two 1-thread runs use 2 cores better than one 2-thread run)",
    )
    parser.add_argument(
        "--dry-run",
        action="store_true",
        help="print the commands and the planned time; run nothing",
    )
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    """Command line entry point; exit status 0 if all ran, 1 if one failed, 2 on bad input."""
    args = parse_arguments(argv)
    console = Console(highlight=False, soft_wrap=True)
    try:
        catalogue = load_catalogue()
        entries = select(catalogue, args.only)
    except LabError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    stamp = datetime.now().strftime("%Y-%m-%d_%H-%M-%S") + ("_quick" if args.quick else "")
    log_dir = Path(os.environ.get("MNIST_LAB_LOG_DIR", "outputs"))
    out = args.out or log_dir / "reproduce" / stamp
    threads = max(1, (os.cpu_count() or 1) // args.jobs)
    planned = sum(entry.expected_s for entry in entries)

    if args.dry_run:
        for entry in entries:
            console.print(
                f"[bold]{entry.id}[/] {entry.title} (expected {format_seconds(entry.expected_s)})"
            )
            step_dirs: dict[str, Path] = {}
            for step in entry.steps:
                directory = out / entry.slug / step.name
                command = step_command(
                    step, directory, step_dirs, threads, catalogue.quick_train, args.quick
                )
                step_dirs[step.name] = directory
                print("  " + shlex.join(["python", *command[1:]]))
        if not args.quick:
            print(
                f"planned: {format_seconds(planned)} of runs, about "
                f"{format_seconds(planned / args.jobs)} with {args.jobs} at a time"
            )
        return 0

    if out.exists() and any(out.iterdir()):
        print(f"error: --out {out} already holds files; choose a new folder", file=sys.stderr)
        return 2
    out.mkdir(parents=True, exist_ok=True)
    header = {
        "started": datetime.now().strftime("%Y-%m-%d %H:%M:%S"),
        "command": shlex.join(
            ["python", "-m", "mnist_lab.reproduce", *(sys.argv[1:] if argv is None else argv)]
        ),
        "commit": _git_commit(),
        "machine": f"{os.cpu_count()} cores; {args.jobs} experiments at a time, "
        f"{threads} torch thread(s) each",
    }
    mode = "quick" if args.quick else "full"
    console.print(
        f"reproducing {len(entries)} experiments ({mode}) into {out}, {args.jobs} at a time"
        + ("" if args.quick else f"; planned {format_seconds(planned / args.jobs)}")
    )
    results: dict[str, EntryResult] = {}
    started = time.perf_counter()
    index = out / "index.md"
    # Longest first, so the last experiment to start is a short one.
    order = sorted(entries, key=lambda entry: -entry.expected_s)
    with ThreadPoolExecutor(max_workers=args.jobs) as pool:
        futures = {
            pool.submit(run_entry, entry, out, threads, catalogue.quick_train, args.quick): entry
            for entry in order
        }
        for future in as_completed(futures):
            entry = futures[future]
            result = future.result()
            results[entry.id] = result
            header["wall time so far"] = format_seconds(time.perf_counter() - started)
            index.write_text(render_index(out, entries, results, header, args.quick))
            colour = (
                "green"
                if result.status == "ok"
                else "yellow"
                if result.status.startswith("ok")
                else "red"
            )
            # Targets that compare with an experiment still running are judged in the index.
            _, verdicts = targets_table(entry, results, args.quick)
            verdicts = [v for v in verdicts if "was not run" not in v.status]
            console.print(
                f"[{len(results):2d}/{len(entries)}] {entry.id} {entry.title[:50]:<50} "
                f"[{colour}]{result.status[:60]}[/] {format_seconds(result.seconds)}, "
                f"targets: {verdict_summary(verdicts)} "
                f"(elapsed {format_seconds(time.perf_counter() - started)})"
            )
    header.pop("wall time so far")
    header["wall time"] = format_seconds(time.perf_counter() - started)
    index.write_text(render_index(out, entries, results, header, args.quick))
    console.print(f"index: {index}")
    return 0 if all(not r.status.startswith("failed") for r in results.values()) else 1


if __name__ == "__main__":
    sys.exit(main())
