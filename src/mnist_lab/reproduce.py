"""Run the experiment catalogue into one folder with an index: `python -m mnist_lab.reproduce`.

The catalogue is data (`catalogue/catalogue.yaml`): per experiment its commands, budgets and the
seeds' targets. Every command runs as its own process (`python -m mnist_lab.train ...`) into
`<out>/<id>_<name>/<step>/`, `mnist_lab.report` then draws each step's figures and table, and
`index.md` puts commands, wall times, figures, tables and targets (met or not) side by side.
A failed experiment is marked as such and the others still run.

Only the standard library, yaml, rich and the report's numpy/matplotlib are imported here: no
torch, no Lightning, so `--help` and `--dry-run` answer at once.
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import sys
import time
from collections.abc import Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor, as_completed
from datetime import datetime
from pathlib import Path

from rich.console import Console

from mnist_lab import LabError
from mnist_lab.catalogue.asks import Ask, load_asks
from mnist_lab.catalogue.index import (
    format_seconds,
    git_commit,
    render_index,
    run_header,
    targets_table,
    verdict_summary,
)
from mnist_lab.catalogue.runner import EntryResult, Plan, load_entry, run_entry
from mnist_lab.catalogue.schema import Catalogue, Entry, load_catalogue
from mnist_lab.runtime.atomic import atomic_write_text
from mnist_lab.runtime.cli import (
    ArgumentParser,
    check_writable,
    int_at_least,
    print_error,
    run_command,
)
from mnist_lab.runtime.rundir import default_log_dir


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
    """The command line; a bad one exits with one `error:` line and status 2."""
    cores = os.cpu_count() or 1
    parser = ArgumentParser(
        prog="python -m mnist_lab.reproduce",
        description="Run every experiment of the catalogue (mnist_lab/catalogue/catalogue.yaml) "
        "at its documented budget (the index says where one is shrunk), report each, and write "
        "index.md with the figures, tables and the assignments' targets, met or not.",
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
    parser.add_argument(
        "--reindex",
        action="store_true",
        help="run nothing: draw --out's index.md again from the runs it holds (after a change "
        "to the targets, the judge or the asks)",
    )
    return parser.parse_args(argv)


def default_out(quick: bool) -> Path:
    """The default --out: `<$MNIST_LAB_LOG_DIR or outputs>/reproduce/<date>_<time>[_quick]`."""
    stamp = datetime.now().strftime("%Y-%m-%d_%H-%M-%S") + ("_quick" if quick else "")
    return Path(default_log_dir()) / "reproduce" / stamp


def print_plan(console: Console, entries: Sequence[Entry], plan: Plan, jobs: int) -> None:
    """--dry-run: every entry's commands and, unless --quick, the planned time."""
    for entry in entries:
        console.print(
            f"[bold]{entry.id}[/] {entry.title} (expected {format_seconds(entry.expected_s)})"
        )
        for _, _, command in plan.commands(entry):
            print("  " + shlex.join(["python", *command[1:]]))
    if not plan.quick:
        planned = sum(entry.expected_s for entry in entries)
        print(
            f"planned: {format_seconds(planned)} of runs, about "
            f"{format_seconds(planned / jobs)} with {jobs} at a time"
        )


def print_progress(
    console: Console,
    entry: Entry,
    results: Mapping[str, EntryResult],
    total: int,
    quick: bool,
    started: float,
) -> None:
    """One line as an entry ends: its status, wall time and the targets judged so far."""
    result = results[entry.id]
    colour = (
        "green" if result.status == "ok" else "yellow" if result.status.startswith("ok") else "red"
    )
    # Targets that compare with an experiment still running are judged in the index.
    _, verdicts = targets_table(entry, results, quick)
    verdicts = [v for v in verdicts if "was not run" not in v.status]
    console.print(
        f"[{len(results):2d}/{total}] {entry.id} {entry.title[:50]:<50} "
        f"[{colour}]{result.status[:60]}[/] {format_seconds(result.seconds)}, "
        f"targets: {verdict_summary(verdicts)} "
        f"(elapsed {format_seconds(time.perf_counter() - started)})"
    )


def run_all(
    console: Console,
    entries: Sequence[Entry],
    plan: Plan,
    jobs: int,
    header: dict[str, str],
    asks: Sequence[Ask] = (),
) -> dict[str, EntryResult]:
    """Run the entries `jobs` at a time, rewriting `<out>/index.md` as each one ends."""
    planned = sum(entry.expected_s for entry in entries) / jobs
    console.print(
        f"reproducing {len(entries)} experiments ({'quick' if plan.quick else 'full'}) into "
        f"{plan.out}, {jobs} at a time"
        + ("" if plan.quick else f"; planned {format_seconds(planned)}")
    )
    results: dict[str, EntryResult] = {}
    started = time.perf_counter()
    index = plan.out / "index.md"
    # Longest first, so the last experiment to start is a short one; an entry that reads others'
    # runs after all of those, so that it waits only for entries already running.
    order = sorted(entries, key=lambda entry: (bool(entry.after), -entry.expected_s))
    submitted: dict[str, Future[EntryResult]] = {}

    def run_after(entry: Entry) -> EntryResult:
        for other in entry.after:
            if other in submitted:
                submitted[other].exception()  # waits; its own failure is reported as its own
        return run_entry(entry, plan)

    with ThreadPoolExecutor(max_workers=jobs) as pool:
        for entry in order:
            submitted[entry.id] = pool.submit(run_after, entry)
        futures = {submitted[entry.id]: entry for entry in order}
        for future in as_completed(futures):
            entry = futures[future]
            results[entry.id] = future.result()
            header["wall time so far"] = format_seconds(time.perf_counter() - started)
            index.write_text(render_index(plan.out, entries, results, header, plan.quick, asks))
            print_progress(console, entry, results, len(entries), plan.quick, started)
    header.pop("wall time so far")
    header["wall time"] = format_seconds(time.perf_counter() - started)
    index.write_text(render_index(plan.out, entries, results, header, plan.quick, asks))
    saved = {"header": header, "quick": plan.quick}
    atomic_write_text(plan.out / HEADER_FILE, json.dumps(saved, indent=1) + "\n")
    console.print(f"index: {index}")
    return results


# <out>/header.json: the index's opening lines and whether the run was --quick, for --reindex
HEADER_FILE = "header.json"


def reindex(console: Console, out: Path, entries: Sequence[Entry], asks: Sequence[Ask]) -> int:
    """Draw `out`'s index.md again from its entries' steps.json and runs; 2 if it has none."""
    if not (out / HEADER_FILE).is_file():
        return print_error(f"--out {out} holds no finished reproduce run ({HEADER_FILE} missing)")
    saved = json.loads((out / HEADER_FILE).read_text())
    try:
        results = {e.id: r for e in entries if (r := load_entry(e, out)) is not None}
    except LabError as error:
        return print_error(error)
    header = dict(saved["header"])
    header["index drawn again"] = f"{datetime.now():%Y-%m-%d %H:%M:%S} at commit {git_commit()}"
    ran = [entry for entry in entries if entry.id in results]
    (out / "index.md").write_text(render_index(out, ran, results, header, saved["quick"], asks))
    console.print(f"index: {out / 'index.md'} ({len(ran)} experiments)")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """Command line entry point; exit status 0 if all ran, 1 if one failed, 2 on bad input."""
    args = parse_arguments(argv)
    console = Console(highlight=False, soft_wrap=True)
    try:
        catalogue = load_catalogue()
        entries = select(catalogue, args.only)
        selected = {entry.id for entry in entries}
        # Under --only, the asks that the chosen experiments answer.
        asks = [
            ask
            for ask in load_asks(catalogue.entries)
            if not args.only or selected.intersection(ask.answered_by)
        ]
    except LabError as error:
        return print_error(error)
    threads = max(1, (os.cpu_count() or 1) // args.jobs)
    plan = Plan(
        args.out or default_out(args.quick),
        threads,
        catalogue.quick_train,
        args.quick,
        catalogue.entries,
    )
    if not args.reindex:
        try:
            check_writable(plan.out, "--out")
        except LabError as error:
            return print_error(error)
    if args.dry_run:
        print_plan(console, entries, plan, args.jobs)
        return 0
    if args.reindex:
        if args.out is None:
            return print_error("--reindex needs --out, the folder of the run to index again")
        return reindex(console, args.out, entries, asks)
    if plan.out.exists() and any(plan.out.iterdir()):
        return print_error(f"--out {plan.out} already holds files; choose a new folder")
    plan.out.mkdir(parents=True, exist_ok=True)
    command = ["python", "-m", "mnist_lab.reproduce", *(sys.argv[1:] if argv is None else argv)]
    header = run_header(shlex.join(command), args.jobs, threads)
    results = run_all(console, entries, plan, args.jobs, header, asks)
    return 0 if all(not r.status.startswith("failed") for r in results.values()) else 1


if __name__ == "__main__":
    sys.exit(run_command(main))
