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
import math
import operator
import os
import re
import shlex
import subprocess
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import yaml
from rich.console import Console

from mnist_lab import LabError
from mnist_lab.analysis.tables import markdown_table
from mnist_lab.report import write_report
from mnist_lab.runtime.cli import ArgumentParser, int_at_least
from mnist_lab.runtime.rundir import Run, RunDir, find_runs

CATALOGUE = Path(__file__).resolve().parents[2] / "conf" / "reproduce.yaml"

COMPARISONS: dict[str, tuple[str, Callable[[float, float], bool]]] = {
    "at_least": (">=", operator.ge),
    "above": (">", operator.gt),
    "at_most": ("<=", operator.le),
    "below": ("<", operator.lt),
    "equals": ("=", operator.eq),
}
AGGREGATES = ("max", "min", "count")
MEASURE_KEYS = {"metric", "entry", "step", "where", "over", "among"}
TARGET_KEYS = MEASURE_KEYS | {"what", "seed"} | set(COMPARISONS)


@dataclass(frozen=True)
class Condition:
    """`metric <comparison> value` that a run must meet to count (a target's `among`)."""

    metric: str
    comparison: str
    value: float

    def holds(self, run: Run) -> bool:
        value = run.metrics.get(self.metric)
        return value is not None and COMPARISONS[self.comparison][1](value, self.value)

    def __str__(self) -> str:
        return f"{self.metric} {COMPARISONS[self.comparison][0]} {self.value:g}"


@dataclass(frozen=True)
class Measure:
    """Where a number comes from: a metric of the selected runs of one step of one entry."""

    metric: str
    entry: str | None = None  # None: the entry the target belongs to
    step: str | None = None  # None: that entry's first step
    where: tuple[tuple[str, str], ...] = ()
    over: str | None = None  # max, min or count over the matching runs; None: exactly one run
    among: Condition | None = None

    def describe(self, own_entry: str) -> str:
        parts = [] if self.entry in (None, own_entry) else [self.entry]
        parts += [self.step] if self.step else []
        selection = ", ".join(f"{key}={value}" for key, value in self.where)
        if self.over == "count":
            text = f"number of finished runs with {self.metric}"
        else:
            text = f"{self.over} of {self.metric}" if self.over else self.metric
        if self.among:
            text += f" among runs with {self.among}"
        if selection:
            text += f" [{selection}]"
        return " ".join([*parts, text])


@dataclass(frozen=True)
class Target:
    """A number the seed asks for; judged when it has a comparison, else only reported."""

    what: str
    seed: str
    measure: Measure
    comparison: str | None = None
    reference: float | Measure | None = None


@dataclass(frozen=True)
class Step:
    """One command of an experiment: the module under mnist_lab and its arguments."""

    name: str
    module: str
    arguments: tuple[str, ...]
    quick: tuple[str, ...] = ()
    # False: under --quick only `quick` is added, not the catalogue's `quick_train`
    quick_train: bool = True

    @property
    def multirun(self) -> bool:
        return self.module == "train" and ("-m" in self.arguments or "--multirun" in self.arguments)


@dataclass(frozen=True)
class Entry:
    """One experiment of the catalogue."""

    id: str
    title: str
    steps: tuple[Step, ...]
    targets: tuple[Target, ...] = ()
    expected_s: float = 0.0
    budget: str = ""

    name: str = ""

    @property
    def slug(self) -> str:
        """The folder name, `E06_budgets`."""
        return f"{self.id}_{self.name}" if self.name else self.id


@dataclass(frozen=True)
class Catalogue:
    entries: dict[str, Entry]
    quick_train: tuple[str, ...] = ()


def _split(text: str | Sequence[str] | None) -> tuple[str, ...]:
    if text is None:
        return ()
    return tuple(shlex.split(text) if isinstance(text, str) else map(str, text))


def _comparison(spec: Mapping[str, Any], where: str) -> tuple[str | None, Any]:
    found = [key for key in COMPARISONS if key in spec]
    if len(found) > 1:
        raise LabError(f"{where}: give one of {', '.join(COMPARISONS)}, not {', '.join(found)}")
    return (found[0], spec[found[0]]) if found else (None, None)


def _measure(spec: Mapping[str, Any], where: str) -> Measure:
    if not isinstance(spec, Mapping) or "metric" not in spec:
        raise LabError(f"{where}: expected a mapping with a `metric`, got {spec!r}")
    if spec.get("over") not in (None, *AGGREGATES):
        raise LabError(
            f"{where}: over={spec['over']!r} is not accepted; expected one of "
            f"{', '.join(AGGREGATES)}"
        )
    among = None
    if spec.get("among") is not None:
        comparison, value = _comparison(spec["among"], f"{where} among")
        if comparison is None or "metric" not in spec["among"]:
            raise LabError(f"{where}: among needs a metric and one of {', '.join(COMPARISONS)}")
        among = Condition(str(spec["among"]["metric"]), comparison, float(value))
    return Measure(
        metric=str(spec["metric"]),
        entry=spec.get("entry"),
        step=spec.get("step"),
        where=tuple((str(k), str(v)) for k, v in (spec.get("where") or {}).items()),
        over=spec.get("over"),
        among=among,
    )


def parse_target(spec: Mapping[str, Any], where: str = "target") -> Target:
    """A catalogue target from its mapping; LabError naming `where` when it is malformed."""
    unknown = set(spec) - TARGET_KEYS
    if unknown:
        raise LabError(
            f"{where}: unknown key {', '.join(sorted(unknown))}; expected "
            f"{', '.join(sorted(TARGET_KEYS))}"
        )
    comparison, reference = _comparison(spec, where)
    if isinstance(reference, Mapping):
        reference = _measure(reference, f"{where} {comparison}")
    elif reference is not None:
        reference = float(reference)
    return Target(
        what=" ".join(str(spec.get("what", "")).split()),
        seed=str(spec.get("seed", "")),
        measure=_measure(spec, where),
        comparison=comparison,
        reference=reference,
    )


def _step(name: str, spec: str | Mapping[str, Any], where: str) -> Step:
    spec = {"command": spec} if isinstance(spec, str) else spec
    words = _split(spec.get("command"))
    if not words:
        raise LabError(f"{where}: step {name!r} has no command")
    return Step(
        str(name), words[0], words[1:], _split(spec.get("quick")), spec.get("quick_train", True)
    )


def load_catalogue(path: str | Path = CATALOGUE) -> Catalogue:
    """Read and check the catalogue; a malformed entry raises LabError naming it."""
    path = Path(path)
    data = yaml.safe_load(path.read_text()) or {}
    entries: dict[str, Entry] = {}
    for spec in data.get("experiments") or []:
        entry_id = str(spec.get("id", "?"))
        where = f"{path.name}, {entry_id}"
        if entry_id in entries:
            raise LabError(f"{where}: the id is used twice")
        steps = tuple(_step(name, step, where) for name, step in (spec.get("steps") or {}).items())
        targets = tuple(
            parse_target(t, f"{where} target {i + 1}")
            for i, t in enumerate(spec.get("targets") or [])
        )
        entries[entry_id] = Entry(
            id=entry_id,
            title=str(spec.get("title", entry_id)),
            name=re.sub(r"[^\w-]+", "_", str(spec.get("name", ""))),
            steps=steps,
            targets=targets,
            expected_s=float(spec.get("expected_s", 0)),
            budget=" ".join(str(spec.get("budget", "")).split()),
        )
    for entry in entries.values():
        for target in entry.targets:
            for measure in (target.measure, target.reference):
                if isinstance(measure, Measure) and (measure.entry or entry.id) not in entries:
                    raise LabError(f"{path.name}, {entry.id}: no entry {measure.entry!r}")
    return Catalogue(entries, _split(data.get("quick_train")))


def _override_key(argument: str) -> str | None:
    if argument.startswith("-") or "=" not in argument:
        return None
    return argument.split("=", 1)[0].lstrip("+~")


def merge_overrides(arguments: Sequence[str], extra: Sequence[str]) -> list[str]:
    """`arguments` + `extra`, where an override in `extra` replaces one of the same key."""
    replaced = {_override_key(a) for a in extra} - {None}
    return [a for a in arguments if _override_key(a) not in replaced] + list(extra)


# Added to every train step; a log file has no use for a live progress bar. Left out of the
# report tables, which show the settings a person chose.
PLUMBING = "threads={threads} ++callbacks.progress_bar=null ++trainer.enable_progress_bar=false"
PLUMBING_KEYS = {_override_key(argument) for argument in PLUMBING.split()}


def step_command(
    step: Step,
    directory: Path,
    step_dirs: Mapping[str, Path],
    threads: int,
    quick_train: Sequence[str] = (),
    quick: bool = False,
) -> list[str]:
    """The full command line of a step: placeholders filled, run dir, threads, quick budgets."""
    names = {"dir": directory, **step_dirs}
    arguments = []
    for argument in step.arguments:
        for name, path in names.items():
            argument = argument.replace("{" + name + "}", str(path))
        arguments.append(argument)
    if step.module == "train":
        run_dir = "hydra.sweep.dir" if step.multirun else "hydra.run.dir"
        extra = [f"{run_dir}={directory}", *PLUMBING.format(threads=threads).split()]
        quick_budget = quick_train if quick and step.quick_train else ()
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
        return [run for run in self.runs if run.status == "ok"]


@dataclass
class EntryResult:
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


def run_step(command: list[str], step: Step, directory: Path, log: Path) -> StepResult:
    """Run one step's command, its output into `log`, then collect what it left."""
    result = StepResult(step, command, directory)
    # Hydra makes a train step's folder itself; other modules are handed theirs ready.
    (directory.parent if step.module == "train" else directory).mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    with log.open("w") as output:
        output.write(shlex.join(command) + "\n\n")
        output.flush()
        completed = subprocess.run(command, stdout=output, stderr=subprocess.STDOUT, check=False)
    result.seconds = time.perf_counter() - started
    result.returncode = completed.returncode
    return collect_step(result, log)


def collect_step(result: StepResult, log: Path) -> StepResult:
    """Report on the runs a finished step left, find its figures and problems.

    Train steps leave Hydra runs; another module's step counts as one run when it writes
    `metrics.json` into its folder, so its targets can be judged too.
    """
    directory = result.directory
    if result.step.module != "train" and (directory / "metrics.json").is_file():
        result.runs = [RunDir(directory).read()]
    elif result.step.module == "train" and directory.is_dir():
        try:
            result.runs = find_runs(directory)
            for run in result.runs:
                for key in PLUMBING_KEYS:
                    run.overrides.pop(key, None)
            summary, _ = write_report(directory, result.runs)
            result.table = markdown_table(summary)
        except (LabError, OSError, ValueError) as error:
            result.problem = f"no report: {error}"
    result.figures = sorted(
        p for p in directory.glob("*.png") if not p.name.startswith("samples_epoch_")
    )
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


def run_entry(
    entry: Entry,
    out: Path,
    threads: int,
    quick_train: Sequence[str] = (),
    quick: bool = False,
) -> EntryResult:
    """Run an entry's steps in order; a failed step stops the steps after it, not other entries."""
    result = EntryResult(entry, out / entry.slug)
    started = time.perf_counter()
    step_dirs: dict[str, Path] = {}
    for step in entry.steps:
        directory = result.directory / step.name
        command = step_command(step, directory, step_dirs, threads, quick_train, quick)
        step_result = run_step(command, step, directory, result.directory / f"{step.name}.log")
        result.steps.append(step_result)
        step_dirs[step.name] = directory
        if step_result.returncode != 0 and not step_result.finished_runs:
            break
    result.seconds = time.perf_counter() - started
    return result


@dataclass(frozen=True)
class Verdict:
    measured: float | None
    status: str  # met, not met, reported, quick: not judged, missing: <why>
    reference: float | None = None


def measure_value(
    measure: Measure, results: Mapping[str, EntryResult], own_entry: str
) -> tuple[float | None, str]:
    """The measured number, or None and why it is missing."""
    entry_id = measure.entry or own_entry
    result = results.get(entry_id)
    if result is None:
        return None, f"{entry_id} was not run"
    step = result.step(measure.step)
    if step is None:
        return None, f"{entry_id} has no step {measure.step or ''}".rstrip()
    runs = [r for r in step.runs if all(r.value(k) == v for k, v in measure.where)]
    if not runs:
        selection = ", ".join(f"{k}={v}" for k, v in measure.where) or "any setting"
        return None, f"no run of {entry_id} {step.step.name} with {selection}"
    finished = [r for r in runs if r.status == "ok" and measure.metric in r.metrics]
    candidates = [r for r in finished if measure.among is None or measure.among.holds(r)]
    if measure.over == "count":
        return float(len(candidates)), ""
    if finished and not candidates:
        return None, f"no finished run with {measure.among}"
    if not candidates:
        failed = [r for r in runs if r.status != "ok"]
        why = f"run {failed[0].name} {failed[0].status_text}" if failed else "none has it"
        return None, f"no finished run with {measure.metric} ({why})"
    values = [r.metrics[measure.metric] for r in candidates]
    if measure.over in ("max", "min"):
        return (max if measure.over == "max" else min)(values), ""
    if len(runs) > 1:
        return None, f"{len(runs)} runs match; the catalogue must say `where` or `over`"
    return values[0], ""


def judge(
    target: Target, results: Mapping[str, EntryResult], own_entry: str, quick: bool = False
) -> Verdict:
    """Measure a target and say whether it is met; quick runs are shown but not judged."""
    measured, missing = measure_value(target.measure, results, own_entry)
    if measured is None:
        return Verdict(None, f"missing: {missing}")
    reference: float | None = None
    if isinstance(target.reference, Measure):
        reference, missing = measure_value(target.reference, results, own_entry)
        if reference is None:
            return Verdict(measured, f"missing: {missing}")
    elif target.reference is not None:
        reference = target.reference
    if target.comparison is None or reference is None:
        return Verdict(measured, "reported")
    if quick:
        return Verdict(measured, "quick: not judged", reference)
    met = COMPARISONS[target.comparison][1](measured, reference)
    return Verdict(measured, "met" if met else "not met", reference)


def format_reference(value: float) -> str:
    """A target's number as written in the catalogue: 0.985, 1,000,000."""
    return f"{value:,.0f}" if float(value).is_integer() else f"{value:g}"


def format_number(value: float | None) -> str:
    """Counts with thousands separators, fractions with 4 digits; `-` for none."""
    if value is None or math.isnan(value):
        return "-"
    if float(value).is_integer():
        return f"{value:,.0f}"
    return f"{value:.4f}"


def target_text(target: Target, own_entry: str) -> str:
    """`what` and, for judged targets, the comparison in symbols."""
    if target.comparison is None:
        return target.what
    symbol = COMPARISONS[target.comparison][0]
    if isinstance(target.reference, Measure):
        right = target.reference.describe(own_entry)
    else:
        right = format_reference(float(target.reference or 0))
    return f"{target.what} (`{target.measure.describe(own_entry)} {symbol} {right}`)"


def format_seconds(seconds: float) -> str:
    """`42 s`, `3 min 05 s`, `1 h 02 min`."""
    seconds = round(seconds)
    if seconds < 60:
        return f"{seconds} s"
    if seconds < 3600:
        return f"{seconds // 60} min {seconds % 60:02d} s"
    return f"{seconds // 3600} h {seconds % 3600 // 60:02d} min"


def _relative(path: Path, base: Path) -> str:
    return Path(os.path.relpath(path, base)).as_posix()


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def targets_table(
    entry: Entry, results: Mapping[str, EntryResult], quick: bool
) -> tuple[str, list[Verdict]]:
    """The Markdown table of an entry's targets and their verdicts."""
    rows = ["| target | seed | measured | verdict |", "|---|---|---:|---|"]
    verdicts = []
    for target in entry.targets:
        verdict = judge(target, results, entry.id, quick)
        verdicts.append(verdict)
        measured = format_number(verdict.measured)
        if verdict.reference is not None and isinstance(target.reference, Measure):
            measured += f" vs {format_number(verdict.reference)}"
        status = f"**{verdict.status}**" if verdict.status in ("met", "not met") else verdict.status
        rows.append(
            f"| {_cell(target_text(target, entry.id))} | {_cell(target.seed)} | {measured} "
            f"| {_cell(status)} |"
        )
    return "\n".join(rows) + "\n", verdicts


def verdict_summary(verdicts: Sequence[Verdict]) -> str:
    """`2 of 3 met`; else `missing`, `quick: not judged`, `reported`, or `-` without targets."""
    judged = [v for v in verdicts if v.status in ("met", "not met")]
    if judged:
        met = sum(v.status == "met" for v in judged)
        missing = sum(v.status.startswith("missing") for v in verdicts)
        return f"{met} of {len(judged) + missing} met" + (f", {missing} missing" if missing else "")
    for status in ("missing", "quick: not judged", "reported"):
        if any(v.status.startswith(status) for v in verdicts):
            return status
    return "-"


def render_index(
    out: Path,
    entries: Sequence[Entry],
    results: Mapping[str, EntryResult],
    header: Mapping[str, str],
    quick: bool = False,
) -> str:
    """index.md: a summary table, then per experiment its commands, targets, tables, figures."""
    lines = ["# mnist_lab: the experiment catalogue, reproduced", ""]
    lines += [f"- {key}: {value}" for key, value in header.items()]
    if quick:
        lines.append(
            "- **quick mode**: tiny budgets to check that every command runs; the numbers mean "
            "nothing and the targets are shown but not judged"
        )
    lines += ["", "| # | experiment | status | wall time | targets |", "|---|---|---|---:|---|"]
    sections = []
    slugs = {entry.id: entry.slug for entry in entries}
    for entry in entries:
        result = results.get(entry.id)
        table, verdicts = targets_table(entry, results, quick)
        anchor = entry.slug.lower()
        status = result.status if result else "not run yet"
        seconds = format_seconds(result.seconds) if result else "-"
        lines.append(
            f"| {entry.id} | [{_cell(entry.title)}](#{anchor}) | {_cell(status[:120])} "
            f"| {seconds} | {verdict_summary(verdicts)} |"
        )
        others = sorted(
            {
                measure.entry
                for target in entry.targets
                for measure in (target.measure, target.reference)
                if isinstance(measure, Measure) and measure.entry not in (None, entry.id)
            }
        )
        reads = ", ".join(f"[{other}](#{slugs.get(other, other).lower()})" for other in others)
        sections.append(
            _entry_section(out, entry, result, table, f"{status}. Wall time: {seconds}", reads)
        )
    return "\n".join([*lines, "", *sections])


def _entry_section(
    out: Path, entry: Entry, result: EntryResult | None, targets: str, status: str, reads: str
) -> str:
    anchor = entry.slug.lower()
    lines = [f'<a id="{anchor}"></a>', "", f"## {entry.id}: {entry.title}", ""]
    lines.append(f"Status: {status}.")
    if reads:
        lines += ["", f"Some targets read the runs of {reads}."]
    if entry.budget:
        lines += ["", f"Budget: {entry.budget}."]
    if entry.targets:
        lines += ["", targets]
    for step in result.steps if result else []:
        lines += [
            "",
            f"### {step.step.name}",
            "",
            "```bash",
            shlex.join(["python", *step.command[1:]]),
            "```",
        ]
        log = result.directory / f"{step.step.name}.log"
        lines += [
            "",
            f"{format_seconds(step.seconds)}, exit status {step.returncode}; "
            f"[log]({_relative(log, out)}), [folder]({_relative(step.directory, out)}/)",
        ]
        if step.problem:
            lines += ["", f"Problem: {step.problem}"]
        if step.table:
            lines += ["", step.table]
        summary = step.directory / "model_summary.txt"
        if summary.is_file():
            lines += ["", f"[model_summary.txt]({_relative(summary, out)})"]
        for figure in step.figures:
            lines += ["", f"![{figure.name}]({_relative(figure, out)})"]
    return "\n".join(lines) + "\n"


def _git_commit() -> str:
    try:
        completed = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"],
            cwd=CATALOGUE.parent,
            capture_output=True,
            text=True,
            check=False,
        )
    except OSError:
        return "unknown"
    return completed.stdout.strip() or "unknown"


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
