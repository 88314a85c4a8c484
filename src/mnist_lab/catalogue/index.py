"""index.md: per experiment its commands, wall times, report tables, figures and targets."""

from __future__ import annotations

import math
import os
import shlex
import subprocess
from collections.abc import Mapping, Sequence
from datetime import datetime
from pathlib import Path

from mnist_lab.catalogue.asks import Ask, ask_verdict
from mnist_lab.catalogue.judge import OVER_SEEDS_METHOD, Verdict, judge
from mnist_lab.catalogue.runner import EntryResult
from mnist_lab.catalogue.schema import CATALOGUE, COMPARISONS, Entry, Measure, Target


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
    rows = ["| target | assignment | measured | verdict |", "|---|---|---:|---|"]
    verdicts = []
    for target in entry.targets:
        verdict = judge(target, results, entry.id, quick)
        verdicts.append(verdict)
        measured = (
            verdict.measured_estimate.format()
            if verdict.measured_estimate is not None
            else format_number(verdict.measured)
        )
        if verdict.reference_estimate is not None:
            measured += f" vs {verdict.reference_estimate.format()}"
        elif verdict.reference is not None and isinstance(target.reference, Measure):
            measured += f" vs {format_number(verdict.reference)}"
        status = f"**{verdict.status}**" if verdict.status in ("met", "not met") else verdict.status
        rows.append(
            f"| {_cell(target_text(target, entry.id))} | {_cell(target.assignment)} | {measured} "
            f"| {_cell(status)} |"
        )
    return "\n".join(rows) + "\n", verdicts


def verdict_summary(verdicts: Sequence[Verdict]) -> str:
    """`2 of 3 met`; else `missing`, `quick: not judged`, `reported`, or `-` without targets."""
    judged = [v for v in verdicts if v.status in ("met", "not met")]
    unresolved = sum(v.status.startswith("not resolved") for v in verdicts)
    if judged or unresolved:
        met = sum(v.status == "met" for v in judged)
        missing = sum(v.status.startswith("missing") for v in verdicts)
        notes = [f"{unresolved} not resolved"] if unresolved else []
        notes += [f"{missing} missing"] if missing else []
        return ", ".join([f"{met} of {len(judged) + unresolved + missing} met", *notes])
    for status in ("missing", "quick: not judged", "reported"):
        if any(v.status.startswith(status) for v in verdicts):
            return status
    return "-"


def asks_table(
    asks: Sequence[Ask],
    entries: Mapping[str, Entry],
    results: Mapping[str, EntryResult],
    quick: bool,
) -> tuple[str, list[str]]:
    """Markdown: course, section, ask, the entries answering it (linked) and the outcome; and
    each ask's outcome in a word or two (`ask_kind`), for the summary."""
    rows = ["| course | section | ask | answered by | outcome |", "|---|---|---|---|---|"]
    kinds = []
    for ask in asks:
        outcome, verdicts = ask_verdict(ask, entries, results, quick)
        kinds.append(ask_kind(outcome, verdicts))
        outcome = outcome or verdict_summary(verdicts)
        links = ", ".join(
            f"[{e}](#{entries[e].slug.lower()})" if e in entries else e for e in ask.answered_by
        )
        answered = "; ".join(part for part in (links, ask.how) if part) or "-"
        rows.append(
            f"| {ask.course} | {ask.section} | {_cell(ask.ask)} | {_cell(answered)} "
            f"| {_cell(outcome)} |"
        )
    return "\n".join(rows) + "\n", kinds


def ask_kind(outcome: str, verdicts: Sequence[Verdict]) -> str:
    """An ask's outcome in a word or two: `met` only if every judged target is; one not met
    makes it `not met`, else one undecided `not resolved`."""
    if outcome:  # not answered, not run, failed, reported: said before any target
        return outcome.split(" (")[0]
    statuses = [verdict.status for verdict in verdicts]
    for kind in ("not met", "not resolved", "missing", "met"):
        if any(status.startswith(kind) for status in statuses):
            return kind
    return verdict_summary(verdicts).split(":")[0]  # reported, or quick


def asks_summary(kinds: Sequence[str]) -> str:
    """`54 asks: 30 met, 12 reported, 2 not met, 1 not resolved, 9 not answered`."""
    counts: dict[str, int] = {}
    for kind in kinds:
        counts[kind] = counts.get(kind, 0) + 1
    return f"{len(kinds)} asks: " + ", ".join(f"{n} {kind}" for kind, n in counts.items())


def seeds_per_setting(result: EntryResult) -> int:
    """The most seeds that any one setting of the entry ran (0 when it left no runs)."""
    most = 0
    for step in result.steps:
        seeds: dict[frozenset, set[str]] = {}
        for run in step.runs:
            seeds.setdefault(run.setting, set()).add(run.value("seed"))
        most = max([most, *map(len, seeds.values())])
    return most


def render_index(
    out: Path,
    entries: Sequence[Entry],
    results: Mapping[str, EntryResult],
    header: Mapping[str, str],
    quick: bool = False,
    asks: Sequence[Ask] = (),
) -> str:
    """index.md: a summary table, every ask of the assignments with its outcome, then per
    experiment its commands, targets, tables, figures."""
    lines = ["# mnist_lab: the experiment catalogue, reproduced", ""]
    lines += [f"- {key}: {value}" for key, value in header.items()]
    if any(target.measure.over == "mean" for entry in entries for target in entry.targets):
        lines.append(f"- targets {OVER_SEEDS_METHOD}")
    if quick:
        lines.append(
            "- **quick mode**: tiny budgets to check that every command runs; the numbers mean "
            "nothing and the targets are shown but not judged"
        )
    lines += [
        "",
        "| # | experiment | status | seeds | wall time | targets |",
        "|---|---|---|---:|---:|---|",
    ]
    sections = []
    slugs = {entry.id: entry.slug for entry in entries}
    for entry in entries:
        result = results.get(entry.id)
        table, verdicts = targets_table(entry, results, quick)
        anchor = entry.slug.lower()
        status = result.status if result else "not run yet"
        seconds = format_seconds(result.seconds) if result else "-"
        seeds = seeds_per_setting(result) if result else 0
        lines.append(
            f"| {entry.id} | [{_cell(entry.title)}](#{anchor}) | {_cell(status[:120])} "
            f"| {seeds or '-'} | {seconds} | {verdict_summary(verdicts)} |"
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
    single = [e.id for e in entries if e.id in results and seeds_per_setting(results[e.id]) == 1]
    if single and not quick:
        lines += [
            "",
            "Seeds: the most seeds that any one setting of the entry ran. One seed: "
            f"{', '.join(single)} (thresholds on one model, searches, timings and computations; "
            "more seeds would multiply their wall time).",
        ]
    if asks:
        table, outcomes = asks_table(asks, {entry.id: entry for entry in entries}, results, quick)
        lines += [
            "",
            '<a id="asks"></a>',
            "",
            "## Every ask of the five assignments",
            "",
            f"{asks_summary(outcomes)}. An ask is judged by the targets that name its course and "
            "section; one without targets is `reported` once its experiments ran (their sections "
            "below hold the commands, tables and figures).",
            "",
            table,
        ]
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


def run_header(command: str, jobs: int, threads: int) -> dict[str, str]:
    """The index's opening lines: when it started, the command, the commit and the machine."""
    return {
        "started": datetime.now().strftime("%Y-%m-%d %H:%M:%S"),
        "command": command,
        "commit": git_commit(),
        "machine": f"{os.cpu_count()} cores; {jobs} experiments at a time, "
        f"{threads} torch thread(s) each",
    }


def git_commit() -> str:
    """The short hash of the checkout the catalogue is in, or `unknown`."""
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
