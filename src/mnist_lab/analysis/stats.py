"""Runs that differ only in their seed, as one result: mean, spread and a confidence interval.

A group is every run with the same settings apart from the replicate keys (`seed`, plus any
named with `report --over`). Its numbers are a sample: the mean, the standard deviation (n - 1)
and a 95% interval for the mean from Student's t with n - 1 degrees of freedom, which is right
for the handful of seeds a course sweep runs. One run is one run: it gets no interval.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from scipy import stats

from mnist_lab.runtime.rundir import Run

CONFIDENCE = 0.95
METHOD = "mean ± half-width of the 95% confidence interval (Student t, n - 1 degrees of freedom)"


@dataclass(frozen=True)
class Estimate:
    """A sample of one number over seeds; `half_width` is NaN for fewer than two values."""

    mean: float
    std: float
    n: int
    half_width: float

    @property
    def low(self) -> float:
        return self.mean - self.half_width

    @property
    def high(self) -> float:
        return self.mean + self.half_width

    def format(self, digits: int = 4) -> str:
        """`0.9806 ± 0.0011 (n=3)`; a single run `0.9806 (n=1)`; no value `-`."""
        if self.n == 0:
            return "-"
        if self.n == 1:
            return f"{self.mean:.{digits}f} (n=1)"
        return f"{self.mean:.{digits}f} ± {self.half_width:.{digits}f} (n={self.n})"


def estimate(values: Sequence[float], confidence: float = CONFIDENCE) -> Estimate:
    """Mean, standard deviation and Student-t interval of the finite `values`."""
    finite = [float(v) for v in values if math.isfinite(v)]
    n = len(finite)
    if n == 0:
        return Estimate(math.nan, math.nan, 0, math.nan)
    mean = sum(finite) / n
    if n == 1:
        return Estimate(mean, math.nan, 1, math.nan)
    std = math.sqrt(sum((v - mean) ** 2 for v in finite) / (n - 1))
    half_width = stats.t.ppf((1 + confidence) / 2, n - 1) * std / math.sqrt(n)
    return Estimate(mean, std, n, float(half_width))


def welch_p_value(a: Sequence[float], b: Sequence[float]) -> float:
    """Two-sided p-value of Welch's t-test that `a` and `b` have the same mean (NaN if n < 2)."""
    a = [v for v in a if math.isfinite(v)]
    b = [v for v in b if math.isfinite(v)]
    if len(a) < 2 or len(b) < 2:
        return math.nan
    if max(a) == min(a) and max(b) == min(b):  # no spread: the means differ or they do not
        return 0.0 if a[0] != b[0] else 1.0
    # Seeds that agree to many digits (PCA's 10-NN accuracy) make scipy warn of precision
    # loss in the variance; the p-value is still the right one, and the warning would reach
    # every report's printout.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        return float(stats.ttest_ind(a, b, equal_var=False).pvalue)


@dataclass
class Group:
    """Runs with the same settings but for the replicate keys; `settings` is key -> value."""

    settings: dict[str, str]
    runs: list[Run]

    @property
    def finished(self) -> list[Run]:
        return [run for run in self.runs if run.status == "ok"]

    def estimate(self, measure: Callable[[Run], float]) -> Estimate:
        """`measure` over the group's finished runs (a failed run is no sample of the result)."""
        return estimate([measure(run) for run in self.finished])


def replicate_keys(runs: Sequence[Run], over: Sequence[str] = ()) -> list[str]:
    """The keys that make runs replicates of each other: `seed` and `over`, where they vary."""
    keys = ["seed", *(key for key in over if key != "seed")]
    return [key for key in keys if len({run.value(key) for run in runs}) > 1]


def group_runs(runs: Sequence[Run], keys: Sequence[str], over: Sequence[str]) -> list[Group]:
    """The runs grouped by their values of `keys` other than `over`, in first-seen order."""
    settings_keys = [key for key in keys if key not in over]
    groups: dict[tuple[str, ...], Group] = {}
    for run in runs:
        values = tuple(run.value(key) for key in settings_keys)
        group = groups.setdefault(values, Group(dict(zip(settings_keys, values, strict=True)), []))
        group.runs.append(run)
    return list(groups.values())


def replicate_groups(
    runs: Sequence[Run], keys: Sequence[str], over: Sequence[str] = ()
) -> tuple[list[str], list[Group]]:
    """The replicate keys among the runs and the groups of the swept `keys` they form.

    No groups when no setting was repeated: then every run is its own result.
    """
    replicates = replicate_keys(runs, over)
    groups = group_runs(runs, keys, replicates) if replicates else []
    return replicates, groups if any(len(group.runs) > 1 for group in groups) else []
