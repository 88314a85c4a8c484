"""`from_search=<sweep dir>`: train with the settings of a finished sweep's best member.

    python -m mnist_lab.train experiment=fashion_mlp from_search=outputs/train/multiruns/<stamp>

An Optuna search's best trial is read from its `optimization_results.yaml`. Any other sweep's
best member is the one with the best optimized metric (the sweep's `optimized_metric`, else
val/acc_best) in its metrics.json; members that repeat one setting over seeds count as that
setting, by their mean, so a lucky seed is never what is chosen. Only the swept settings are
taken (Optuna's parameters, or the keys whose values differ between the members), never the
seed. They go onto the command line ahead of the overrides given, so a setting given there wins
(`seed=1,2,3` keeps its seeds); the run's config records the dir in `from_search` and the
member in `from_search_member`, and `.hydra/overrides.yaml` the values taken.

Torch-free, like everything that runs before Hydra.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

from omegaconf import OmegaConf

from mnist_lab import LabError
from mnist_lab.runtime.resume import override_key
from mnist_lab.runtime.rundir import OPTUNA_RESULTS_FILE, Run, find_runs, optuna_best_trial

DEFAULT_METRIC = "val/acc_best"
# Never taken from a sweep: the replicate key, and the record of an earlier from_search.
NOT_TAKEN = ("seed", "from_search", "from_search_member")


@dataclass(frozen=True)
class Best:
    """The setting a sweep found best: where it comes from, its values and its score."""

    member: str  # the member dir's name, several over seeds, or the Optuna results file
    settings: dict[str, str]  # key -> value, as written on a command line
    metric: str
    value: float
    compared: int  # how many settings the sweep compared (0: unknown, no member dirs left)

    def describe(self, directory: str) -> str:
        """One line for the log: which member, by which number, and the values taken."""
        values = " ".join(f"{key}={value}" for key, value in self.settings.items())
        out_of = f", of {self.compared} settings" if self.compared else ""
        return (
            f"from_search: {self.member} of {directory} has the best {self.metric} "
            f"({self.value:.4f}{out_of}); taking {values}"
        )


def _command_line_value(value: object) -> str:
    """A value as a Hydra override writes it (Optuna's floats unrounded)."""
    if isinstance(value, bool):
        return str(value).lower()
    return "null" if value is None else str(value)


def _optuna_best(directory: Path, runs: list[Run]) -> Best | None:
    """The best trial of an Optuna search in `directory`, None when it is no Optuna sweep dir."""
    trial = optuna_best_trial(directory)
    if trial is None:
        return None
    params, value = trial
    settings = {key: _command_line_value(v) for key, v in params.items() if key not in NOT_TAKEN}
    # The member that ran the best trial, for the record; the results file when none is left.
    member = next(
        (
            f"member {run.name}"
            for run in runs
            if all(run.value(key) == v for key, v in settings.items())
        ),
        OPTUNA_RESULTS_FILE,
    )
    metric = OmegaConf.select(runs[0].config, "optimized_metric") if runs else None
    return Best(member, settings, metric or "optimised value", value, len(runs))


def _maximised(run: Run, metric: str) -> bool:
    """Whether a higher `metric` is better: the checkpoint monitor's mode when it is the monitor."""
    monitor = OmegaConf.select(run.config, "monitor", default=None)
    mode = OmegaConf.select(run.config, "monitor_mode", default="max")
    return not (monitor == metric and mode == "min")


def best_of_sweep(directory: str | Path) -> Best:
    """The best setting of the sweep in `directory`; LabError saying why there is none."""
    from mnist_lab.analysis.stats import group_runs
    from mnist_lab.analysis.tables import swept_keys

    directory = Path(directory).expanduser()
    given = f"from_search={directory}"
    if not directory.is_dir():
        raise LabError(f"{given} is not a directory; expected the sweep dir of a finished sweep")
    try:
        runs = find_runs(directory)
    except LabError:
        runs = []  # an Optuna result alone still names the best setting
    try:
        optuna = _optuna_best(directory, runs)
    except LabError as error:
        raise LabError(f"{given}: {error}") from None
    if optuna is not None:
        return optuna
    if len(runs) < 2:
        what = "a single run" if runs else "no runs (no subdirectory with .hydra/)"
        raise LabError(
            f"{given} holds {what}; expected a sweep dir (mnist_lab.train -m) whose members "
            f"differ in some setting, or an Optuna sweep dir with {OPTUNA_RESULTS_FILE}"
        )
    finished = [run for run in runs if run.status == "ok"]
    if not finished:
        states = ", ".join(sorted({run.status for run in runs}))
        raise LabError(
            f"{given}: none of its {len(runs)} members finished ({states}); expected a sweep "
            f"dir with finished members (resume it with hydra.sweep.dir={directory})"
        )
    metric = OmegaConf.select(finished[0].config, "optimized_metric", default=None)
    metric = metric or DEFAULT_METRIC
    scored = [run for run in finished if math.isfinite(run.metrics.get(metric, math.nan))]
    if not scored:
        raise LabError(
            f"{given}: no finished member has {metric} in its metrics.json; expected a sweep "
            f"whose runs log the metric it optimises ({metric})"
        )
    keys = [key for key in swept_keys(runs) if key not in NOT_TAKEN]
    if not keys:
        raise LabError(f"{given}: its members differ only in their seed; there is nothing to take")
    groups = group_runs(scored, keys, over=())
    sign = 1 if _maximised(scored[0], metric) else -1
    means = [group.estimate(lambda run: run.metrics[metric]).mean for group in groups]
    best, mean = max(zip(groups, means, strict=True), key=lambda pair: sign * pair[1])
    names = [run.name for run in best.runs]
    member = f"member {names[0]}" if len(names) == 1 else f"members {', '.join(names)} (mean)"
    settings = {key: value for key, value in best.settings.items() if value != ""}
    return Best(member, settings, metric, mean, len(groups))


def search_arguments(arguments: list[str]) -> list[str]:
    """`arguments` with `from_search=<sweep dir>` expanded into the best member's settings.

    A setting also given in `arguments` keeps the given value.
    """
    given = [a for a in arguments if override_key(a) == "from_search"]
    value = given[-1].split("=", 1)[1].strip("'\"") if given else "null"
    if value == "null":
        return arguments
    if not value.strip():
        raise LabError("from_search is empty; expected a sweep dir, or null")
    best = best_of_sweep(value)
    print(best.describe(value), flush=True)
    flags = [a for a in arguments if a.startswith("-")]  # Hydra reads -m before any override
    others = [a for a in arguments if a not in flags and override_key(a) != "from_search_member"]
    given_keys = {override_key(a) for a in others if "=" in a}
    taken = [f"{key}={v}" for key, v in best.settings.items() if key not in given_keys]
    return [*flags, *taken, *others, f"from_search_member='{best.member}'"]
