"""Judge a catalogue target: measure its number from the runs and compare it.

A measure `over: mean` is a sample (one value per seed). Against a number (given, or another
measure's single number) it is judged on the 95% Student-t interval of its mean: met when the
whole interval is on the target's side, not met when it is wholly on the other side, else "not
resolved at n=<n>". Two samples are compared by Welch's t-test at 5% (two-sided): a significant
difference decides, none leaves the target not resolved. A sample of one run is judged as a
single number.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from mnist_lab.analysis.stats import Estimate, estimate, welch_p_value
from mnist_lab.catalogue.runner import EntryResult
from mnist_lab.catalogue.schema import COMPARISONS, Measure, Target
from mnist_lab.runtime.rundir import Run, same_setting

OVER_SEEDS_METHOD = (
    "over seeds (`mean of ... over seeds`): against a number, the 95% Student-t interval of the "
    "mean must lie wholly on the target's side; between two groups, Welch's t-test at 5% "
    "(two-sided) must find the difference; otherwise the target is not resolved at that n"
)
SIGNIFICANCE = 0.05


@dataclass(frozen=True)
class Verdict:
    """What a target measured, what it was compared with, and the outcome."""

    measured: float | None
    status: str  # met, not met, not resolved at n=.., reported, quick: not judged, missing: <why>
    reference: float | None = None
    # over seeds: the measured and the reference samples' estimates, for the index
    measured_estimate: Estimate | None = None
    reference_estimate: Estimate | None = None


def _candidates(
    measure: Measure, results: Mapping[str, EntryResult], own_entry: str
) -> tuple[list[Run], list[Run], str]:
    """(the runs the measure selects, those that finished with its metric, why none did)."""
    entry_id = measure.entry or own_entry
    result = results.get(entry_id)
    if result is None:
        return [], [], f"{entry_id} was not run"
    step = result.step(measure.step)
    if step is None:
        return [], [], f"{entry_id} has no step {measure.step or ''}".rstrip()
    runs = [r for r in step.runs if all(same_setting(r.value(k), v) for k, v in measure.where)]
    if not runs:
        selection = ", ".join(f"{k}={v}" for k, v in measure.where) or "any setting"
        return [], [], f"no run of {entry_id} {step.step.name} with {selection}"
    finished = [r for r in runs if r.status == "ok" and measure.metric in r.metrics]
    candidates = [r for r in finished if measure.among is None or measure.among.holds(r)]
    if measure.among is not None and measure.among.every_seed:
        condition = measure.among
        candidates = [
            r
            for r in candidates
            if all(o.status == "ok" and condition.holds(o) for o in runs if o.setting == r.setting)
        ]
    if finished and not candidates:
        return runs, [], f"no finished run with {measure.among}"
    if not candidates:
        failed = [r for r in runs if r.status != "ok"]
        why = f"run {failed[0].name} {failed[0].status_text}" if failed else "none has it"
        return runs, [], f"no finished run with {measure.metric} ({why})"
    return runs, candidates, ""


def measure_sample(
    measure: Measure, results: Mapping[str, EntryResult], own_entry: str
) -> tuple[list[float] | None, str]:
    """The values a measure `over: mean` averages (one per finished run), or None and why."""
    _, candidates, missing = _candidates(measure, results, own_entry)
    if not candidates:
        return None, missing
    return [r.metrics[measure.metric] for r in candidates], ""


def measure_value(
    measure: Measure, results: Mapping[str, EntryResult], own_entry: str
) -> tuple[float | None, str]:
    """The measured number, or None and why it is missing."""
    runs, candidates, missing = _candidates(measure, results, own_entry)
    if measure.over == "count":
        return (float(len(candidates)), "") if runs else (None, missing)
    if not candidates:
        return None, missing
    values = [r.metrics[measure.metric] for r in candidates]
    if measure.over in ("max", "min"):
        return (max if measure.over == "max" else min)(values), ""
    if measure.over == "mean":
        return sum(values) / len(values), ""
    if len(runs) > 1:
        return None, f"{len(runs)} runs match; the catalogue must say `where` or `over`"
    return values[0], ""


def _side(comparison: str, low: float, high: float, reference: float) -> str:
    """met / not met / not resolved for an interval [low, high] against `reference`."""
    holds = COMPARISONS[comparison][1]
    if holds(low, reference) and holds(high, reference):
        return "met"
    if not holds(low, reference) and not holds(high, reference):
        return "not met"
    return "not resolved"


def judge_over_seeds(
    target: Target, results: Mapping[str, EntryResult], own_entry: str
) -> Verdict | None:
    """The verdict of a target whose measure is a sample over seeds; None for other targets."""
    if target.measure.over != "mean":
        return None
    sample, missing = measure_sample(target.measure, results, own_entry)
    if sample is None:
        return Verdict(None, f"missing: {missing}")
    measured = estimate(sample)
    if target.comparison is None:  # a mean reported is reported with its interval
        return Verdict(measured.mean, "reported", measured_estimate=measured)
    if isinstance(target.reference, Measure) and target.reference.over == "mean":
        other, missing = measure_sample(target.reference, results, own_entry)
        if other is None:
            return Verdict(measured.mean, f"missing: {missing}", measured_estimate=measured)
        against = estimate(other)
        if measured.n < 2 or against.n < 2:
            return None  # a single run on either side: judged as plain numbers
        direction = COMPARISONS[target.comparison][1](measured.mean, against.mean)
        if welch_p_value(sample, other) >= SIGNIFICANCE:
            status = f"not resolved at n={measured.n} vs {against.n}"
        else:
            status = "met" if direction else "not met"
        return Verdict(measured.mean, status, against.mean, measured, against)
    if measured.n < 2 or target.reference is None:
        return None
    if isinstance(target.reference, Measure):  # one run's number, or a max, min or count
        reference, missing = measure_value(target.reference, results, own_entry)
        if reference is None:
            return Verdict(measured.mean, f"missing: {missing}", measured_estimate=measured)
    else:
        reference = float(target.reference)
    side = _side(target.comparison, measured.low, measured.high, reference)
    status = side if side != "not resolved" else f"not resolved at n={measured.n}"
    return Verdict(measured.mean, status, reference, measured)


def judge(
    target: Target, results: Mapping[str, EntryResult], own_entry: str, quick: bool = False
) -> Verdict:
    """Measure a target and say whether it is met; quick runs are shown but not judged."""
    over_seeds = None if quick else judge_over_seeds(target, results, own_entry)
    if over_seeds is not None:
        return over_seeds
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
