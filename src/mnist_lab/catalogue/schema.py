"""The catalogue's schema: experiments, their steps and targets, read and checked from yaml."""

from __future__ import annotations

import operator
import re
import shlex
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from mnist_lab import LabError
from mnist_lab.runtime.rundir import Run

# Beside this module, so that the source tree and an installed package both find it.
CATALOGUE = Path(__file__).resolve().with_name("catalogue.yaml")

COMPARISONS: dict[str, tuple[str, Callable[[float, float], bool]]] = {
    "at_least": (">=", operator.ge),
    "above": (">", operator.gt),
    "at_most": ("<=", operator.le),
    "below": ("<", operator.lt),
    "equals": ("=", operator.eq),
}
AGGREGATES = ("max", "min", "count", "mean")
# The step modules that are Hydra apps leaving run dirs the report reads (the Lightning
# trainer and the NumPy classifiers): the runner gives each step its run or sweep dir.
HYDRA_APPS = ("train", "scratch")
MEASURE_KEYS = {"metric", "entry", "step", "where", "over", "among"}
TARGET_KEYS = MEASURE_KEYS | {"what", "assignment"} | set(COMPARISONS)


@dataclass(frozen=True)
class Condition:
    """`metric <comparison> value` that a run must meet to count (a target's `among`)."""

    metric: str
    comparison: str
    value: float
    # True: a run counts only when every run of its setting (its other seeds) meets it too
    every_seed: bool = False

    def holds(self, run: Run) -> bool:
        """Whether the run has the metric and it meets the comparison."""
        value = run.metrics.get(self.metric)
        return value is not None and COMPARISONS[self.comparison][1](value, self.value)

    def __str__(self) -> str:
        text = f"{self.metric} {COMPARISONS[self.comparison][0]} {self.value:g}"
        return text + " for every seed" if self.every_seed else text


@dataclass(frozen=True)
class Measure:
    """Where a number comes from: a metric of the selected runs of one step of one entry."""

    metric: str
    entry: str | None = None  # None: the entry the target belongs to
    step: str | None = None  # None: that entry's first step
    where: tuple[tuple[str, str], ...] = ()
    # max, min, count or mean (over seeds, judged on its interval) of the matching runs;
    # None: exactly one run
    over: str | None = None
    among: Condition | None = None

    def describe(self, own_entry: str) -> str:
        """The measure in words for the index, naming the entry only when it is not `own_entry`."""
        parts = [] if self.entry in (None, own_entry) else [self.entry]
        parts += [self.step] if self.step else []
        selection = ", ".join(f"{key}={value}" for key, value in self.where)
        if self.over == "count":
            text = f"number of finished runs with {self.metric}"
        elif self.over == "mean":
            text = f"mean of {self.metric} over seeds"
        else:
            text = f"{self.over} of {self.metric}" if self.over else self.metric
        if self.among:
            text += f" among runs with {self.among}"
        if selection:
            text += f" [{selection}]"
        return " ".join([*parts, text])


@dataclass(frozen=True)
class Target:
    """A number an assignment asks for; judged when it has a comparison, else only reported."""

    what: str
    assignment: str
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
    # figures a sweep's members draw for themselves (a 2-D code's scatter), shown in the index
    # from its first finished run; the report draws only figures across the runs
    first_run_figures: tuple[str, ...] = ()

    @property
    def hydra_app(self) -> bool:
        """Whether the step runs one of HYDRA_APPS, whose run dirs Hydra makes."""
        return self.module in HYDRA_APPS

    @property
    def multirun(self) -> bool:
        """Whether the step is a Hydra app's sweep (`-m`), whose run dir is hydra.sweep.dir."""
        return self.hydra_app and ("-m" in self.arguments or "--multirun" in self.arguments)


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
    # entries whose folders a step reads (`{E02/train}`): this one starts when they have ended
    after: tuple[str, ...] = ()

    @property
    def slug(self) -> str:
        """The folder name, `E06_budgets`."""
        return f"{self.id}_{self.name}" if self.name else self.id

    def accuracy_threshold(self, step: Step) -> float | None:
        """The validation-accuracy line a target of this entry sets for `step`'s runs (E02's
        "smallest model above 97%"), drawn in its report; None when no target sets one."""
        for target in self.targets:
            among = target.measure.among
            on_step = (target.measure.step or self.steps[0].name) == step.name
            own = on_step and target.measure.entry in (None, self.id)
            if own and among is not None and among.metric == "val/acc_best":
                return among.value
        return None


@dataclass(frozen=True)
class Catalogue:
    """The entries by id, in catalogue order, and the overrides --quick adds to train steps."""

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
        condition = spec["among"]
        comparison, value = _comparison(condition, f"{where} among")
        unknown = set(condition) - {"metric", "every_seed", *COMPARISONS}
        if comparison is None or "metric" not in condition or unknown:
            raise LabError(
                f"{where}: among takes a metric, one of {', '.join(COMPARISONS)} and "
                f"optionally every_seed: true; got {dict(condition)!r}"
            )
        among = Condition(
            str(condition["metric"]), comparison, float(value), bool(condition.get("every_seed"))
        )
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
        assignment=str(spec.get("assignment", "")),
        measure=_measure(spec, where),
        comparison=comparison,
        reference=reference,
    )


def _step(name: str, spec: str | Mapping[str, Any], where: str) -> Step:
    spec = {"command": spec} if isinstance(spec, str) else spec
    words = _split(spec.get("command"))
    if not words:
        raise LabError(f"{where}: step {name!r} has no command")
    figures = _split(spec.get("first_run_figures"))
    if any(not figure.endswith(".png") or "/" in figure for figure in figures):
        raise LabError(
            f"{where}: step {name!r} first_run_figures={list(figures)}: expected file names "
            f"ending in .png, as the runs write them"
        )
    return Step(
        str(name),
        words[0],
        words[1:],
        _split(spec.get("quick")),
        spec.get("quick_train", True),
        figures,
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
            after=tuple(str(other) for other in spec.get("after") or ()),
        )
    independent = [entry_id for entry_id, entry in entries.items() if not entry.after]
    for entry in entries.values():
        for other in entry.after:
            if other not in independent:
                raise LabError(
                    f"{path.name}, {entry.id}: after: {other!r} is not an entry without an "
                    f"`after` of its own; choose from {', '.join(independent)}"
                )
        for target in entry.targets:
            for measure in (target.measure, target.reference):
                if isinstance(measure, Measure) and (measure.entry or entry.id) not in entries:
                    raise LabError(f"{path.name}, {entry.id}: no entry {measure.entry!r}")
    return Catalogue(entries, _split(data.get("quick_train")))
