"""The judge: targets measured on fake runs, met, not met, reported or missing with the reason."""

from __future__ import annotations

from pathlib import Path

import pytest

from mnist_lab.catalogue.index import render_index, targets_table, verdict_summary
from mnist_lab.catalogue.judge import judge
from mnist_lab.catalogue.runner import EntryResult, StepResult, collect_step
from mnist_lab.catalogue.schema import Step
from mnist_lab.runtime.rundir import same_setting

from .conftest import entry_with, target, write_run


@pytest.mark.parametrize(
    ("spec", "quick", "measured", "status"),
    [
        ({"metric": "test/acc", "where": {"width": "64"}, "at_least": 0.975}, False, 0.98, "met"),
        (
            {"metric": "test/acc", "where": {"width": "8"}, "at_least": 0.975},
            False,
            0.90,
            "not met",
        ),
        (
            {"metric": "test/acc", "where": {"width": "8"}, "at_least": 0.975},
            True,
            0.90,
            "quick: not judged",
        ),
        ({"metric": "test/acc", "over": "max"}, False, 0.98, "reported"),
        (
            {"metric": "params", "over": "min", "among": {"metric": "val/acc_best", "above": 0.97}},
            False,
            900,
            "reported",
        ),
        ({"metric": "params", "over": "count", "at_least": 3}, False, 2, "not met"),
        (
            {
                "metric": "test/acc",
                "where": {"width": "64"},
                "above": {"metric": "test/acc", "where": {"width": "8"}},
            },
            False,
            0.98,
            "met",
        ),
        (
            {"metric": "test/loss", "where": {"width": "64"}, "below": 1},
            False,
            None,
            "missing: no finished run with test/loss (none has it)",
        ),
        (
            {"metric": "test/acc", "where": {"width": "1024"}, "above": 0.5},
            False,
            None,
            "missing: no finished run with test/acc (run 2 failed: loss became nan at step 3)",
        ),
        (
            {"metric": "params", "over": "min", "among": {"metric": "val/acc_best", "above": 0.99}},
            False,
            None,
            "missing: no finished run with val/acc_best > 0.99",
        ),
        (
            {"metric": "test/acc", "where": {"width": "3"}, "above": 0.5},
            False,
            None,
            "missing: no run of E02 train with width=3",
        ),
        (
            {"metric": "test/acc", "above": 0.5},
            False,
            None,
            "missing: 3 runs match; the catalogue must say `where` or `over`",
        ),
        (
            {
                "metric": "test/acc",
                "where": {"width": "64"},
                "above": {"entry": "E02", "step": "nope", "metric": "test/acc"},
            },
            False,
            0.98,
            "missing: E02 has no step nope",
        ),
    ],
)
def test_judging_targets_on_fake_runs(
    sweep: StepResult, spec: dict, quick: bool, measured: float | None, status: str
) -> None:
    result = EntryResult(entry_with(), sweep.directory.parent, [sweep])
    verdict = judge(target(**spec), {"E02": result}, "E02", quick)
    assert verdict.status == status
    assert verdict.measured == (pytest.approx(measured) if measured is not None else None)


@pytest.fixture(scope="module")
def seeds(tmp_path_factory: pytest.TempPathFactory) -> dict[str, EntryResult]:
    """Three seeds of a model `a` at test acc 0.980-0.982, of `b` at 0.970-0.972, of `c` that
    straddles `a` (0.970-0.992), and one run of `d`."""
    directory = tmp_path_factory.mktemp("seeds") / "E03_l2" / "train"
    accuracies = {"a": [0.980, 0.981, 0.982], "b": [0.970, 0.971, 0.972], "c": [0.970, 0.992]}
    accuracies["d"] = [0.95]
    index = 0
    for model, values in accuracies.items():
        for seed, value in enumerate(values):
            write_run(
                directory / str(index), [f"model={model}", f"seed={seed}"], {"test/acc": value}
            )
            index += 1
    step = Step("train", "train", ("-m",))
    collected = collect_step(StepResult(step, ["python"], directory, returncode=0), Path())
    return {"E03": EntryResult(entry_with(entry_id="E03"), directory.parent, [collected])}


def _mean_of(model: str) -> dict:
    return {"metric": "test/acc", "where": {"model": model}, "over": "mean"}


@pytest.mark.parametrize(
    ("spec", "status"),
    [
        # interval 0.981 ± 0.0025 against a number
        ({**_mean_of("a"), "above": 0.975}, "met"),
        ({**_mean_of("a"), "above": 0.99}, "not met"),
        ({**_mean_of("a"), "above": 0.981}, "not resolved at n=3"),
        # two groups: Welch's test at 5%
        ({**_mean_of("a"), "above": _mean_of("b")}, "met"),
        ({**_mean_of("b"), "above": _mean_of("a")}, "not met"),
        ({**_mean_of("c"), "above": _mean_of("a")}, "not resolved at n=2 vs 3"),
        # against one run's number (d's 0.95): the interval decides
        ({**_mean_of("a"), "above": {"metric": "test/acc", "where": {"model": "d"}}}, "met"),
        # one run is one number: judged plainly
        ({**_mean_of("d"), "above": 0.9}, "met"),
        # no comparison: the mean is reported, with its interval (below)
        (_mean_of("a"), "reported"),
    ],
)
def test_targets_over_seeds_are_judged_on_intervals_and_welch(
    seeds: dict[str, EntryResult], spec: dict, status: str
) -> None:
    verdict = judge(target(**spec), seeds, "E03")
    assert verdict.status == status
    if status == "reported":
        assert verdict.measured_estimate is not None
        assert verdict.measured_estimate.format() == "0.9810 ± 0.0025 (n=3)"


def test_the_index_shows_the_interval_and_names_the_method(seeds) -> None:
    entry = entry_with(target(**{**_mean_of("a"), "above": _mean_of("b")}), entry_id="E03")
    table, verdicts = targets_table(entry, seeds, quick=False)
    assert "0.9810 ± 0.0025 (n=3) vs 0.9710 ± 0.0025 (n=3)" in table
    assert verdict_summary(verdicts) == "1 of 1 met"
    index = render_index(Path("."), [entry], seeds, {})
    assert "Welch's t-test at 5%" in index
    unresolved = entry_with(target(**{**_mean_of("a"), "above": 0.981}), entry_id="E03")
    _, verdicts = targets_table(unresolved, seeds, quick=False)
    assert verdict_summary(verdicts) == "0 of 1 met, 1 not resolved"


def test_every_seed_keeps_only_settings_whose_seeds_all_pass(tmp_path: Path) -> None:
    """E02's question: the smallest net above 97% for every seed, not for its luckiest one."""
    directory = tmp_path / "E02_widths" / "train"
    best_val = {"16": [0.969, 0.972, 0.971], "32": [0.971, 0.972, 0.973], "64": [0.98, 0.98, 0.98]}
    params = {"16": 13_000, "32": 26_000, "64": 52_000}
    index = 0
    for width, accuracies in best_val.items():
        for seed, accuracy in enumerate(accuracies):
            metrics = {"val/acc_best": accuracy, "params": params[width]}
            write_run(directory / str(index), [f"width={width}", f"seed={seed}"], metrics)
            index += 1
    step = collect_step(StepResult(Step("train", "train", ("-m",)), [], directory, 0), Path())
    results = {"E02": EntryResult(entry_with(), directory.parent, [step])}
    among = {"metric": "val/acc_best", "above": 0.97}
    any_seed = target(metric="params", over="min", among=among)
    every_seed = target(metric="params", over="min", among={**among, "every_seed": True})
    assert judge(any_seed, results, "E02").measured == 13_000
    assert judge(every_seed, results, "E02").measured == 26_000
    assert "for every seed" in str(every_seed.measure.among)


def test_a_reported_mean_over_seeds_shows_its_interval(seeds) -> None:
    entry = entry_with(target(**_mean_of("a")), entry_id="E03")
    table, verdicts = targets_table(entry, seeds, quick=False)
    assert verdicts[0].status == "reported"
    assert "| 0.9810 ± 0.0025 (n=3) | reported |" in table


@pytest.mark.parametrize(
    ("given", "wanted", "same"),
    [("0.0001", "1e-4", True), ("1e-4", "1e-4", True), ("0", "0.0", True), ("[8]", "[8]", True)],
)
def test_a_setting_matches_as_text_or_as_the_same_number(given, wanted, same) -> None:
    assert same_setting(given, wanted) is same
    assert not same_setting("relu", "tanh") and not same_setting("0.001", "1e-4")
