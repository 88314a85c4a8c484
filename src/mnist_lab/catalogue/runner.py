"""Run a catalogue entry: each step's command as its own process, then collect what it left."""

from __future__ import annotations

import json
import shlex
import subprocess
import sys
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from mnist_lab import LabError
from mnist_lab.catalogue.schema import Entry, Step
from mnist_lab.report import Report, write_report
from mnist_lab.runtime.atomic import atomic_write_text
from mnist_lab.runtime.rundir import (
    METRICS_FILE,
    PER_CLASS_FILE,
    REPORT_FILE,
    Run,
    RunDir,
    find_runs,
)


def _override_key(argument: str) -> str | None:
    if argument.startswith("-") or "=" not in argument:
        return None
    return argument.split("=", 1)[0].lstrip("+~")


def merge_overrides(arguments: Sequence[str], extra: Sequence[str]) -> list[str]:
    """`arguments` + `extra`, where an override in `extra` replaces one of the same key."""
    replaced = {_override_key(a) for a in extra} - {None}
    return [a for a in arguments if _override_key(a) not in replaced] + list(extra)


# Added to every step of each Hydra app (schema.HYDRA_APPS); a log file has no use for a live
# progress bar. Left out of the report tables, which show the settings a person chose.
PLUMBING = {
    "train": "threads={threads} ++callbacks.progress_bar=null ++trainer.enable_progress_bar=false",
    "scratch": "threads={threads} progress=false",
}
PLUMBING_KEYS = {_override_key(a) for text in PLUMBING.values() for a in text.split()}


def step_command(
    step: Step,
    directory: Path,
    step_dirs: Mapping[str, Path],
    threads: int,
    quick_train: Sequence[str] = (),
    quick: bool = False,
) -> list[str]:
    """The full command line of a step: placeholders filled, run dir, threads, quick budgets.

    `step_dirs` names the folders a placeholder may stand for: this entry's earlier steps
    (`{train}`) and the steps of the entries it runs after (`{E02/train}`).
    """
    names = {"dir": directory, **step_dirs}
    arguments = []
    for argument in step.arguments:
        for name, path in names.items():
            argument = argument.replace("{" + name + "}", str(path))
        arguments.append(argument)
    if step.hydra_app:
        run_dir = "hydra.sweep.dir" if step.multirun else "hydra.run.dir"
        extra = [f"{run_dir}={directory}", *PLUMBING[step.module].format(threads=threads).split()]
        # quick_train's keys are the Lightning configs'; other apps' steps say their own `quick`
        quick_budget = quick_train if quick and step.quick_train and step.module == "train" else ()
        arguments = merge_overrides(arguments, [*extra, *quick_budget])
    if quick:
        arguments = merge_overrides(arguments, step.quick)
    return [sys.executable, "-m", f"mnist_lab.{step.module}", *arguments]


@dataclass
class StepResult:
    """What one step did: its command, exit status, wall time, runs and report."""

    step: Step
    command: list[str]
    directory: Path
    returncode: int | None = None
    seconds: float = 0.0
    runs: list[Run] = field(default_factory=list)
    table: str = ""
    figures: list[Path] = field(default_factory=list)
    problem: str = ""  # why the step failed, or which of its runs did

    @property
    def finished_runs(self) -> list[Run]:
        """The runs that ended with `ok`."""
        return [run for run in self.runs if run.status == "ok"]


@dataclass
class EntryResult:
    """What one entry did: its folder, its steps' results and its wall time."""

    entry: Entry
    directory: Path
    steps: list[StepResult] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def status(self) -> str:
        """`ok`, `failed: <reason>`, or what part failed when the rest finished."""
        for result in self.steps:
            if result.returncode != 0 and not result.finished_runs:
                return f"failed: {result.step.name}: {result.problem}"
        problems = [f"{r.step.name}: {r.problem}" for r in self.steps if r.problem]
        return "ok" if not problems else "ok, but " + "; ".join(problems)

    def step(self, name: str | None) -> StepResult | None:
        """The result of the step called `name` (None: the first step); None if it did not run."""
        if name is None:
            return self.steps[0] if self.steps else None
        return next((s for s in self.steps if s.step.name == name), None)


def failure_reason(log: str) -> str:
    """The line that says why a command failed: its `error:` line, else its last words."""
    lines = [line.strip() for line in log.splitlines() if line.strip()]
    errors = [line for line in lines if line.startswith("error:")]
    if errors:
        return errors[-1].removeprefix("error:").strip()
    lines = [line for line in lines if "HYDRA_FULL_ERROR" not in line]
    return lines[-1][:300] if lines else "no output"


def run_step(
    command: list[str], step: Step, directory: Path, log: Path, threshold: float | None = None
) -> StepResult:
    """Run one step's command, its output into `log`, then collect what it left (its report
    drawing `threshold`, a target on best val acc, when the entry has one)."""
    result = StepResult(step, command, directory)
    # Hydra makes a Hydra app's folder itself; other modules are handed theirs ready.
    (directory.parent if step.hydra_app else directory).mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    with log.open("w") as output:
        output.write(shlex.join(command) + "\n\n")
        output.flush()
        completed = subprocess.run(command, stdout=output, stderr=subprocess.STDOUT, check=False)
    result.seconds = time.perf_counter() - started
    result.returncode = completed.returncode
    return collect_step(result, log, threshold)


def step_table(report: Report) -> str:
    """A step's tables for the index: per setting over seeds (mean ± interval) and how many
    seeds pass, every run folded away below; the runs' table alone when no setting repeats."""
    grouped = [table for table in (report.groups_table, report.seeds_table) if table]
    if not grouped:
        return report.runs_table
    runs = len(report.summary.runs)
    folded = f"<details><summary>every run ({runs})</summary>\n\n{report.runs_table}\n</details>\n"
    return "\n".join([*grouped, folded])


def collect_step(result: StepResult, log: Path, threshold: float | None = None) -> StepResult:
    """Report on the runs a finished step left, find its figures and problems.

    Hydra apps' steps leave Hydra runs; another module's step counts as one run when it writes
    `metrics.json` into its folder, so its targets can be judged too.
    """
    directory = result.directory
    if not result.step.hydra_app and (RunDir(directory) / METRICS_FILE).is_file():
        result.runs = [RunDir(directory).read()]
    if not result.step.hydra_app and (directory / REPORT_FILE).is_file():
        result.table = (directory / REPORT_FILE).read_text()
    elif result.step.hydra_app and directory.is_dir():
        try:
            result.runs = find_runs(directory)
            for run in result.runs:
                for key in PLUMBING_KEYS:
                    run.overrides.pop(key, None)
            result.table = step_table(write_report(directory, result.runs, threshold))
        except (LabError, OSError, ValueError) as error:
            result.problem = f"no report: {error}"
    # A step that is one classifier run (not a sweep, whose members keep theirs) shows its
    # per-class table, the error analysis, beside its report.
    per_class = directory / PER_CLASS_FILE
    if per_class.is_file():
        result.table = "\n\n".join(filter(None, [result.table, per_class.read_text().strip()]))
    # A GAN's grid per epoch would bury the index; its report draws them as one figure.
    grids = set(RunDir(directory).sample_grids().values())
    result.figures = sorted(p for p in directory.glob("*.png") if p not in grids)
    first = next((run for run in result.runs if run.status == "ok"), None)
    if first is not None and first.path != directory:
        shown = (first.path / name for name in result.step.first_run_figures)
        result.figures += [path for path in shown if path.is_file()]
    if result.returncode != 0:
        failed = [run for run in result.runs if run.status == "failed"]
        if result.finished_runs and failed:
            result.problem = (
                f"{len(failed)} of {len(result.runs)} runs failed "
                f"(run {failed[0].name}: {failed[0].reason})"
            )
        elif failed:
            result.problem = failed[0].reason
        else:
            result.problem = failure_reason(log.read_text() if log.is_file() else "")
    return result


@dataclass(frozen=True)
class Plan:
    """How entries run: into which folder, with how many torch threads, at which budget."""

    out: Path
    threads: int
    quick_train: Sequence[str] = ()  # added to every train step under --quick
    quick: bool = False
    # every entry by id, for the folders of the entries one runs after
    entries: Mapping[str, Entry] = field(default_factory=dict)

    def commands(self, entry: Entry) -> list[tuple[Step, Path, list[str]]]:
        """Each step of `entry` with its folder under `out` and its full command line."""
        planned = []
        step_dirs: dict[str, Path] = {
            f"{other}/{step.name}": self.out / self.entries[other].slug / step.name
            for other in entry.after
            if other in self.entries
            for step in self.entries[other].steps
        }
        for step in entry.steps:
            directory = self.out / entry.slug / step.name
            command = step_command(
                step, directory, step_dirs, self.threads, self.quick_train, self.quick
            )
            planned.append((step, directory, command))
            step_dirs[step.name] = directory
        return planned


# <out>/<id>_<name>/steps.json: each step's command, exit status and wall time, so that the
# index can be drawn again from the folder (`reproduce --reindex`) after the judge changes.
STEPS_FILE = "steps.json"


def run_entry(entry: Entry, plan: Plan) -> EntryResult:
    """Run an entry's steps in order; a failed step stops the steps after it, not other entries."""
    result = EntryResult(entry, plan.out / entry.slug)
    started = time.perf_counter()
    for step, directory, command in plan.commands(entry):
        log = result.directory / f"{step.name}.log"
        step_result = run_step(command, step, directory, log, entry.accuracy_threshold(step))
        result.steps.append(step_result)
        if step_result.returncode != 0 and not step_result.finished_runs:
            break
    result.seconds = time.perf_counter() - started
    record_entry(result)
    return result


def record_entry(result: EntryResult) -> None:
    """Write the entry's steps.json (what `load_entry` reads back)."""
    steps = [
        {
            "step": s.step.name,
            "command": s.command,
            "returncode": s.returncode,
            "seconds": s.seconds,
        }
        for s in result.steps
    ]
    record = {"seconds": result.seconds, "steps": steps}
    result.directory.mkdir(parents=True, exist_ok=True)
    atomic_write_text(result.directory / STEPS_FILE, json.dumps(record, indent=1) + "\n")


def load_entry(entry: Entry, out: Path) -> EntryResult | None:
    """An entry's result as a run left it in `out` (its steps.json, then its runs collected
    afresh), or None if it did not run there."""
    directory = out / entry.slug
    path = directory / STEPS_FILE
    if not path.is_file():
        return None
    record = json.loads(path.read_text())
    steps = {step.name: step for step in entry.steps}
    result = EntryResult(entry, directory, seconds=float(record["seconds"]))
    for saved in record["steps"]:
        if saved["step"] not in steps:
            raise LabError(f"{path}: step {saved['step']!r} is not a step of {entry.id} now")
        step = StepResult(
            steps[saved["step"]],
            list(saved["command"]),
            directory / saved["step"],
            saved["returncode"],
            float(saved["seconds"]),
        )
        log = directory / f"{saved['step']}.log"
        result.steps.append(collect_step(step, log, entry.accuracy_threshold(step.step)))
    return result
