"""The best setting of one sweep beside the closest settings of another (`report --versus`).

CS156 bonus §3 asks whether L2 on the big net can match one of the smaller nets. The best group
of the first sweep (highest mean best validation accuracy; the test set is not looked at) is set
beside the groups of the second whose mean best validation accuracy is closest to it. Welch's
t-test at 5% says whether their accuracies differ, and their validation loss and train-val gap
over the epochs show whether they also fit alike.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from matplotlib.figure import Figure

from mnist_lab.analysis.stats import Estimate, Group, estimate, replicate_groups, welch_p_value
from mnist_lab.analysis.tables import describe, short_names, swept_keys
from mnist_lab.plots.curves import learning_curves_figure
from mnist_lab.runtime.rundir import Run, same_setting

SIGNIFICANCE = 0.05
METRICS = ("val/loss", "val/acc")


def settings_groups(runs: Sequence[Run]) -> list[Group]:
    """The runs grouped by their swept settings over seeds; one group per run without seeds."""
    keys = swept_keys(runs)
    _, groups = replicate_groups(runs, keys)
    if groups:
        return groups
    return [Group({key: run.value(key) for key in keys}, [run]) for run in runs]


def sweep_name(runs: Sequence[Run]) -> str:
    """`the weight_decay sweep`: what a sweep varies, seeds aside."""
    keys = list(settings_groups(runs)[0].settings) if runs else []
    return f"the {', '.join(short_names(keys).values()) or 'single-run'} sweep"


def _label(group: Group) -> str:
    keys = list(group.settings)
    return describe(group.runs[0], keys, short_names(keys)) or "all runs"


def gap_curve(run: Run) -> list[float]:
    """Validation loss minus training loss, per epoch: how far the net has overfitted."""
    train, val = run.curves.get("train/loss_epoch", []), run.curves.get("val/loss", [])
    return [v - t for t, v in zip(train, val, strict=False)]


@dataclass
class Side:
    """One group of the comparison and the numbers it is judged on."""

    label: str
    group: Group
    val_acc: Estimate
    gap: Estimate  # final train-val loss gap over seeds

    @property
    def params(self) -> float:
        return self.group.runs[0].params

    @classmethod
    def of(cls, label: str, group: Group) -> Side:
        gaps = [curve[-1] for run in group.finished if (curve := gap_curve(run))]
        return cls(label, group, group.estimate(lambda r: r.best_val_acc), estimate(gaps))


@dataclass
class Versus:
    """The best of the first sweep and the closest of the second, with Welch p-values."""

    best: Side
    closest: list[Side]
    p_values: list[float]

    def answer(self, best_name: str, other_name: str) -> str:
        """The comparison in one sentence, for the index."""
        best = f"{best_name} at its best ({self.best.label}, {_size(self.best)})"
        if math.isnan(self.p_values[0]):  # a single run on a side: no test to make
            side = self.closest[0]
            return (
                f"Undecided: {best} reaches best val acc {self.best.val_acc.format()}, the "
                f"closest of {other_name}, {side.label} ({_size(side)}), "
                f"{side.val_acc.format()}; one run per setting cannot tell them apart (add "
                "seeds: seed=1,2,3)."
            )
        match = next(
            (
                (side, p)
                for side, p in zip(self.closest, self.p_values, strict=True)
                if not p < SIGNIFICANCE
            ),
            None,
        )
        if match is None:
            side, p = self.closest[0], self.p_values[0]
            return (
                f"Not matched: {best} reaches best val acc {self.best.val_acc.format()}; the "
                f"closest of {other_name}, {side.label} ({_size(side)}), differs at "
                f"{side.val_acc.format()} (Welch p = {p:.3f})."
            )
        side, p = match
        smaller = side.params < self.best.params
        answer = (
            f"Matched, as far as n={len(self.best.group.finished)} seeds tell: {best} reaches best "
            f"val acc {self.best.val_acc.format()}, as {other_name}'s {side.label}, "
            f"{'a smaller' if smaller else 'a larger'} net ({_size(side)}), does with "
            f"{side.val_acc.format()} (Welch p = {p:.2f}, no difference at 5%); final train-val "
            f"loss gap {self.best.gap.format()} vs {side.gap.format()}."
        )
        smaller_sides = [
            (other, q)
            for other, q in zip(self.closest, self.p_values, strict=True)
            if other.params < self.best.params
        ]
        if not smaller and smaller_sides:
            other, q = smaller_sides[0]
            verdict = "differs" if q < SIGNIFICANCE else "does not differ"
            answer += (
                f" The closest smaller net, {other.label} ({_size(other)}), {verdict}: "
                f"{other.val_acc.format()} (Welch p = {q:.3f})."
            )
        return answer


def _size(side: Side, unit: str = " params") -> str:
    return "-" if math.isnan(side.params) else f"{int(side.params):,}{unit}"


def _sides(runs: Sequence[Run], without: Sequence[tuple[str, str]] = ()) -> list[Side]:
    """Each setting of a sweep with a validation accuracy, but those `without` names."""
    sides = [
        Side.of(_label(group), group)
        for group in settings_groups(runs)
        if group.finished
        and not any(same_setting(group.runs[0].value(key), value) for key, value in without)
    ]
    return [side for side in sides if not math.isnan(side.val_acc.mean)]


def compare(
    first: Sequence[Run],
    second: Sequence[Run],
    closest: int = 2,
    without: Sequence[tuple[str, str]] = (),
) -> Versus:
    """The best group of `first` by validation accuracy and the `closest` groups of `second`.

    `without` leaves settings of `first` out, e.g. weight_decay=0 when the question is what
    L2 can do.
    """
    candidates = _sides(first, without)
    if not candidates:
        left_out = " without " + ", ".join(f"{k}={v}" for k, v in without) if without else ""
        raise ValueError(
            f"the first sweep has no finished run with a validation accuracy{left_out}"
        )
    best_side = max(candidates, key=lambda side: side.val_acc.mean)
    others = _sides(second)
    if not others:
        raise ValueError("the second sweep has no finished run with a validation accuracy")
    others.sort(key=lambda side: abs(side.val_acc.mean - best_side.val_acc.mean))
    chosen = others[:closest]

    def accuracies(side: Side) -> list[float]:
        return [run.best_val_acc for run in side.group.finished]

    p_values = [welch_p_value(accuracies(best_side), accuracies(side)) for side in chosen]
    return Versus(best_side, chosen, p_values)


def versus_table(versus: Versus, best_name: str, other_name: str) -> str:
    """Markdown: each side's setting, parameters, best val acc and final gap, with intervals."""
    rows = [
        "| sweep | setting | params | best val acc | final val - train loss | Welch p vs best |",
        "|---|---|---:|---:|---:|---:|",
        f"| {best_name} | {versus.best.label} | {_size(versus.best, '')} | "
        f"{versus.best.val_acc.format()} | {versus.best.gap.format()} | - |",
    ]
    for side, p in zip(versus.closest, versus.p_values, strict=True):
        rows.append(
            f"| {other_name} | {side.label} | {_size(side, '')} | {side.val_acc.format()} | "
            f"{side.gap.format()} | {'-' if math.isnan(p) else f'{p:.3f}'} |"
        )
    return "\n".join(rows) + "\n"


def versus_figure(versus: Versus, best_name: str, other_name: str) -> Figure:
    """Learning curves of the sides (mean and 95% interval over seeds), loss and gap included."""
    means, bands = {}, {}
    for side in [versus.best, *versus.closest]:
        label = f"{side.label} ({_size(side)}, n={len(side.group.finished)})"
        runs = [run for run in side.group.finished if run.curves]
        curves = {metric: [run.curves.get(metric, []) for run in runs] for metric in METRICS}
        curves["val - train loss"] = [gap_curve(run) for run in runs]
        means[label], bands[label] = {}, {}
        for metric, series in curves.items():
            columns = [
                estimate([s[e] for s in series if e < len(s)])
                for e in range(max(map(len, series), default=0))
            ]
            means[label][metric] = [c.mean for c in columns]
            bands[label][metric] = ([c.low for c in columns], [c.high for c in columns])
    title = f"Best of {best_name} beside the closest of {other_name} (mean and 95% interval)"
    return learning_curves_figure(means, title, bands, VERSUS_PANELS)


VERSUS_PANELS = (
    ("val/loss", "validation loss (end of epoch)", "loss"),
    ("val - train loss", "train-val gap: validation minus training loss", "loss"),
    ("val/acc", "validation accuracy", "accuracy"),
)
