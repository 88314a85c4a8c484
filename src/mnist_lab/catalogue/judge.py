"""Judge a catalogue target: measure its number from the runs and compare it."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from mnist_lab.catalogue.runner import EntryResult
from mnist_lab.catalogue.schema import COMPARISONS, Measure, Target


@dataclass(frozen=True)
class Verdict:
    """What a target measured, what it was compared with, and the outcome."""

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
