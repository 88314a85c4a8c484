"""`report --versus`: the best of an L2 sweep beside the widths of similar accuracy (CS156 §3)."""

from __future__ import annotations

import math
from pathlib import Path

import pytest

from mnist_lab import report
from mnist_lab.analysis.versus import compare, gap_curve, sweep_name
from mnist_lab.runtime.rundir import find_runs

from ..helpers.run_dirs import write_run


def _sweep(directory: Path, key: str, accuracies: dict[str, list[float]], params: int) -> Path:
    """Three seeds per value of `key`; the value's last-epoch validation accuracy as given."""
    index = 0
    for value, per_seed in accuracies.items():
        for seed, accuracy in enumerate(per_seed):
            val_acc = [accuracy - 0.02, accuracy - 0.01, accuracy]
            overrides = [f"{key}={value}", f"seed={seed}"]
            write_run(directory / str(index), overrides, val_acc, [200, 100], params)
            index += 1
    return directory


@pytest.fixture
def sweeps(tmp_path: Path) -> tuple[Path, Path]:
    l2 = _sweep(
        tmp_path / "l2",
        "model.optimizer.weight_decay",
        {"0": [0.970, 0.971, 0.972], "1e-4": [0.980, 0.981, 0.982]},
        178_110,
    )
    widths = _sweep(
        tmp_path / "widths",
        "model.net.hidden_dims",
        {"[32,16]": [0.960, 0.961, 0.962], "[128,64]": [0.979, 0.981, 0.983]},
        109_386,
    )
    return l2, widths


def test_the_best_l2_setting_is_set_beside_the_closest_width(sweeps) -> None:
    l2, widths = (find_runs(path) for path in sweeps)
    versus = compare(l2, widths)
    assert versus.best.label == "weight_decay=1e-4"
    assert versus.best.val_acc.mean == pytest.approx(0.981)
    closest = [side.label for side in versus.closest]
    assert closest == ["hidden_dims=[128,64]", "hidden_dims=[32,16]"]
    # equal means, so Welch finds no difference; 0.961 against 0.981 is a clear one
    assert versus.p_values[0] == pytest.approx(1.0)
    assert versus.p_values[1] < 0.001
    answer = versus.answer(sweep_name(l2), sweep_name(widths))
    assert answer.startswith("Matched, as far as n=3 seeds tell: the weight_decay sweep at its")
    assert "(weight_decay=1e-4, 178,110 params)" in answer
    assert "hidden_dims=[128,64], a smaller net (109,386 params)" in answer


def test_no_match_says_no_and_names_the_closest(sweeps, tmp_path: Path) -> None:
    far = _sweep(tmp_path / "far", "model.net.hidden_dims", {"[8,4]": [0.90, 0.91, 0.92]}, 6_000)
    versus = compare(find_runs(sweeps[0]), find_runs(far))
    assert versus.answer("A", "B").startswith("Not matched: A at its best")


def test_the_gap_is_validation_minus_training_loss(sweeps) -> None:
    run = find_runs(sweeps[0])[0]
    gaps = gap_curve(run)
    assert len(gaps) == 3
    # the hand-written runs log train loss 1/(e+1) and val loss the same: no gap
    assert all(math.isclose(gap, 0.0, abs_tol=1e-9) for gap in gaps)


def test_report_versus_writes_the_answer_table_and_figure(sweeps, tmp_path: Path, capsys) -> None:
    l2, widths = sweeps
    out = tmp_path / "answer"
    assert report.main([str(l2), "--versus", str(widths), "--out", str(out)]) == 0
    text = (out / "report.md").read_text()
    assert text.startswith("Matched, ")
    assert "| the hidden_dims sweep | hidden_dims=[128,64] | 109,386 |" in text
    assert (out / "versus.png").stat().st_size > 10_000
    assert capsys.readouterr().out.startswith("Matched, ")


def test_report_versus_rejects_out_alone_and_an_empty_sweep(sweeps, tmp_path: Path, capsys) -> None:
    l2, _ = sweeps
    assert report.main([str(l2), "--out", str(tmp_path / "x")]) == 2
    assert "--out" in capsys.readouterr().err
    empty = tmp_path / "empty"
    empty.mkdir()
    assert report.main([str(l2), "--versus", str(empty)]) == 2
    assert str(empty) in capsys.readouterr().err
    assert not (l2 / "versus").exists()


def test_without_leaves_a_setting_out_of_the_best(sweeps) -> None:
    """CS156 §3 asks what L2 can do, so the L2 sweep's best must not be weight_decay=0."""
    l2, widths = (find_runs(path) for path in sweeps)
    zero_best = _sweep_with_zero_best(sweeps[0].parent)
    assert compare(zero_best, widths).best.label == "weight_decay=0"
    versus = compare(zero_best, widths, without=[("model.optimizer.weight_decay", "0.0")])
    assert versus.best.label == "weight_decay=1e-4"
    with pytest.raises(ValueError, match="without model.optimizer.weight_decay=1e-4"):
        compare(l2[3:], widths, without=[("model.optimizer.weight_decay", "1e-4")])


def _sweep_with_zero_best(root: Path) -> list:
    directory = _sweep(
        root / "zero_best",
        "model.optimizer.weight_decay",
        {"0": [0.990, 0.991, 0.992], "1e-4": [0.980, 0.981, 0.982]},
        178_110,
    )
    return find_runs(directory)


def test_single_runs_are_undecided_not_matched(tmp_path: Path) -> None:
    one = _sweep(tmp_path / "one", "model.optimizer.weight_decay", {"1e-4": [0.98]}, 178_110)
    other = _sweep(tmp_path / "other", "model.net.hidden_dims", {"[128,64]": [0.98]}, 109_386)
    versus = compare(find_runs(one), find_runs(other))
    assert versus.answer("A", "B").startswith("Undecided: A at its best")
