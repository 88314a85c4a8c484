"""The statistics of a group of seeds: known means and intervals, and how runs are grouped."""

from __future__ import annotations

import math
from pathlib import Path

import pytest

from mnist_lab.analysis.stats import estimate, group_runs, replicate_keys, welch_p_value
from mnist_lab.analysis.tables import group_table
from mnist_lab.runtime.rundir import find_runs
from tests.helpers.run_dirs import write_run, write_seed_sweep

# Student t's 97.5% quantiles, from a printed table: 2 and 4 degrees of freedom
T_975 = {2: 4.303, 4: 2.776}


def test_three_seeds_give_the_mean_the_sample_std_and_the_t_interval() -> None:
    result = estimate([0.979, 0.980, 0.981])
    assert result.n == 3
    assert result.mean == pytest.approx(0.980)
    assert result.std == pytest.approx(0.001)  # n - 1 in the denominator
    assert result.half_width == pytest.approx(T_975[2] * 0.001 / math.sqrt(3), rel=1e-3)
    assert (result.low, result.high) == pytest.approx(
        (0.980 - 0.002484, 0.980 + 0.002484), abs=1e-5
    )
    assert result.format() == "0.9800 ± 0.0025 (n=3)"


def test_five_values_use_four_degrees_of_freedom() -> None:
    result = estimate([1.0, 2.0, 3.0, 4.0, 5.0])
    assert result.std == pytest.approx(math.sqrt(2.5))
    assert result.half_width == pytest.approx(T_975[4] * math.sqrt(2.5) / math.sqrt(5), rel=1e-3)


def test_a_single_run_has_no_interval_and_nan_is_no_sample() -> None:
    single = estimate([0.98, math.nan])
    assert (single.n, single.mean) == (1, 0.98)
    assert math.isnan(single.half_width)
    assert single.format() == "0.9800 (n=1)"
    assert estimate([]).format() == "-"


def test_welch_separates_clearly_different_means_and_not_overlapping_noise() -> None:
    # t = -3 / sqrt(2/3) with 4 degrees of freedom: p = 0.0213 by the t table
    assert welch_p_value([1, 2, 3], [4, 5, 6]) == pytest.approx(0.0213, abs=5e-4)
    assert welch_p_value([1, 2, 3], [1.5, 2.5, 3.5]) > 0.05
    assert math.isnan(welch_p_value([1], [2, 3]))


def test_runs_differing_only_in_seed_form_one_group_per_setting(tmp_path: Path) -> None:
    runs = find_runs(write_seed_sweep(tmp_path))
    assert replicate_keys(runs) == ["seed"]
    groups = group_runs(runs, ["model.net.hidden_dims", "seed"], ["seed"])
    assert [g.settings for g in groups] == [
        {"model.net.hidden_dims": w} for w in ("[1]", "[2]", "[4]", "[8]")
    ]
    assert [len(g.runs) for g in groups] == [2, 2, 2, 2]
    # width 2: one seed at 1.0, one at 0.75
    assert groups[1].estimate(lambda run: run.best_val_acc).mean == pytest.approx(0.875)


def test_the_group_table_shows_intervals_and_counts_failed_runs_out(tmp_path: Path) -> None:
    for seed, (accuracy, failed) in enumerate([(0.97, None), (0.98, None), (0.5, "nan loss")]):
        write_run(
            tmp_path / str(seed),
            [f"seed={seed}"],
            [accuracy],
            [8],
            params=100,
            test_acc=accuracy,
            failed=failed,
        )
    runs = find_runs(tmp_path)
    table = group_table(group_runs(runs, ["seed"], ["seed"]), ["seed"])
    assert "Student t" in table.splitlines()[0]
    row = next(line for line in table.splitlines() if line.startswith("| all runs"))
    # the failed run is no sample: 0.97 and 0.98 only, t(1) = 12.706
    half_width = 12.706 * math.sqrt(0.00005) / math.sqrt(2)
    assert "| 2 of 3 |" in row
    assert f"0.9750 ± {half_width:.4f} (n=2)" in row
