"""The run directory: the files `RunDir` names, and reading back what runs leave."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from mnist_lab import LabError
from mnist_lab.runtime.rundir import RunDir, find_runs, read_curves
from tests.helpers.run_dirs import write_curves_run, write_run, write_sweep


def test_the_files_a_run_dir_names(tmp_path: Path) -> None:
    # Old run dirs and the tools reading them (resume, evaluate) rely on these exact names.
    run_dir = RunDir(tmp_path)
    assert run_dir.best_checkpoint == tmp_path / "checkpoints" / "best.ckpt"
    assert run_dir.last_checkpoint == tmp_path / "checkpoints" / "last.ckpt"
    assert run_dir / "metrics.json" == tmp_path / "metrics.json"
    assert not run_dir.is_run
    (tmp_path / ".hydra").mkdir()
    assert run_dir.is_run


def test_removing_a_failed_first_run_takes_the_folders_made_for_it(tmp_path: Path) -> None:
    outputs = tmp_path / "outputs"
    first = outputs / "train" / "runs" / "2026-01-01_00-00-00-000001"
    (first / ".hydra").mkdir(parents=True)
    RunDir(first).remove(outputs)
    assert list(tmp_path.iterdir()) == []

    kept = outputs / "train" / "runs" / "2026-01-01_00-00-00-000002"
    (kept / ".hydra").mkdir(parents=True)
    (first / ".hydra").mkdir(parents=True)
    RunDir(first).remove(outputs)
    assert list((outputs / "train" / "runs").iterdir()) == [kept]


def test_load_run_reads_per_epoch_curves_and_status(tmp_path: Path) -> None:
    sweep_dir = write_sweep(tmp_path)
    run = RunDir(sweep_dir / "0").read()
    assert run.status == "ok" and run.reason == ""
    assert run.overrides == {"trainer.max_epochs": "3", "model.net.hidden_dims": "[32,16]"}
    assert run.curves["val/acc"] == [0.95, 0.972, 0.975]
    assert run.curves["train/loss_epoch"] == pytest.approx([1.0, 0.5, 1 / 3])
    # step-level, test and epoch-less (learning-rate) columns are not per-epoch curves
    assert not {"train/loss_step", "test/acc", "lr/net"} & set(run.curves)
    assert run.seconds_per_epoch == pytest.approx(2.0)  # mean of the logged epochs, not the last
    failed = RunDir(sweep_dir / "2").read()
    assert (failed.status, failed.reason) == ("failed", "loss became NaN at epoch 2")


def test_incomplete_and_fast_dev_run_members(tmp_path: Path) -> None:
    running = write_run(tmp_path / "running", [], [0.9], [8], params=None)
    assert RunDir(running).read().status == "incomplete"
    assert RunDir(running).read().best_val_acc == 0.9  # progress so far, from the CSV log
    fast = tmp_path / "fast"
    (fast / ".hydra").mkdir(parents=True)
    (fast / "metrics.json").write_text('{"params": 100.0, "val/acc_best": 0.2}')
    run = RunDir(fast).read()  # fast_dev_run: no csv/ and no overrides.yaml
    assert (run.status, run.curves, run.overrides, run.best_val_acc) == ("ok", {}, {}, 0.2)


def test_metrics_that_are_not_json_read_as_unreadable(tmp_path: Path) -> None:
    """metrics.json is written atomically: half a file was damaged, not cut off by a kill."""
    (tmp_path / ".hydra").mkdir()
    (tmp_path / "metrics.json").write_text('{"params": 100.0, "val/ac')
    run = RunDir(tmp_path).read()
    assert (run.status, run.metrics) == ("unreadable", {})
    assert (
        run.status_text
        == f"unreadable: {tmp_path}/metrics.json is not JSON; it was edited or damaged"
    )


def test_failure_is_one_line_and_outweighs_final_numbers(tmp_path: Path) -> None:
    run_dir = RunDir(tmp_path)
    run_dir.write_metrics({"params": 100.0})
    run_dir.record_failure("loss became\n  NaN")
    assert (run_dir.read().status, run_dir.read().reason) == ("failed", "loss became NaN")
    (tmp_path / "failed.txt").write_text("\n")
    assert run_dir.failure() == "no reason given"
    run_dir.forget_outcome()
    assert (run_dir.failure(), run_dir.metrics()) == (None, {})


def test_is_empty_and_clear_outputs_keep_what_hydra_wrote(tmp_path: Path) -> None:
    (tmp_path / ".hydra").mkdir()
    (tmp_path / ".hydra" / "config.yaml").write_text("seed: 1\n")
    (tmp_path / "train.log").write_text("started\n")
    run_dir = RunDir(tmp_path)
    assert run_dir.is_empty()
    (tmp_path / "checkpoints").mkdir()
    (tmp_path / "checkpoints" / "last.ckpt").write_bytes(b"weights")
    (tmp_path / "metrics.json").write_text("{}")
    assert not run_dir.is_empty()
    run_dir.clear_outputs()
    assert sorted(p.name for p in tmp_path.iterdir()) == [".hydra", "train.log"]
    assert (tmp_path / ".hydra" / "config.yaml").read_text() == "seed: 1\n"


def test_newest_checkpoint_is_the_latest_of_last_and_slurm(tmp_path: Path) -> None:
    run_dir = RunDir(tmp_path)
    assert run_dir.newest_checkpoint() is None
    run_dir.last_checkpoint.parent.mkdir()
    run_dir.last_checkpoint.write_bytes(b"last")
    assert run_dir.newest_checkpoint() == run_dir.last_checkpoint
    requeue = tmp_path / "hpc_ckpt_2.ckpt"
    requeue.write_bytes(b"slurm")
    os.utime(run_dir.last_checkpoint, (1_000, 1_000))
    os.utime(requeue, (2_000, 2_000))
    assert run_dir.newest_checkpoint() == requeue
    os.utime(run_dir.last_checkpoint, (3_000, 3_000))
    assert run_dir.newest_checkpoint() == run_dir.last_checkpoint


def test_saved_config_says_what_the_command_needs(tmp_path: Path) -> None:
    with pytest.raises(LabError, match="does not exist"):
        RunDir(tmp_path / "missing").saved_config("evaluate")
    sweep = write_sweep(tmp_path)
    with pytest.raises(LabError, match=r"a sweep dir: give one of its runs, e.g. .*sweep/0\)"):
        RunDir(sweep).saved_config("evaluate")
    with pytest.raises(LabError, match=r"has no \.hydra/config\.yaml; landscape needs") as error:
        RunDir(tmp_path).saved_config("landscape")
    assert "sweep dir" not in str(error.value)
    assert RunDir(sweep / "0").saved_config("evaluate").seed == 42


def test_sample_grids_by_epoch(tmp_path: Path) -> None:
    for name in ("samples_epoch_002.png", "samples_epoch_010.png", "samples_epoch_final.png"):
        (tmp_path / name).write_bytes(b"png")
    grids = RunDir(tmp_path).sample_grids()
    assert list(grids) == [2, 10] and grids[10] == tmp_path / "samples_epoch_010.png"


def test_read_curves_survives_a_row_cut_off_or_overlong(tmp_path: Path) -> None:
    path = tmp_path / "metrics.csv"
    path.write_text("epoch,step,val/acc\n0,9,0.5\n0,9,0.6\n1,19,0.7,extra\n2,29\n")
    # the last value of an epoch wins; the half-written epoch 2 row has no value to give
    assert read_curves(path) == {"val/acc": [0.6, 0.7]}


def test_what_the_test_logs_after_training_is_no_epoch_of_the_curves(tmp_path: Path) -> None:
    """A one-epoch run stays one epoch: the test's row, at the next epoch's index, holds
    `val/temperature` (fitted on validation when the test runs) beside its test metrics."""
    path = tmp_path / "metrics.csv"
    rows = [
        "epoch,step,test/acc,time/epoch_s,train/loss_epoch,val/acc,val/temperature",
        "0,312,,,,0.97,",
        "0,312,,5.3,0.36,,",
        "1,313,0.975,,,,0.98",
    ]
    path.write_text("\n".join(rows) + "\n")
    curves = read_curves(path)
    assert curves == {"time/epoch_s": [5.3], "train/loss_epoch": [0.36], "val/acc": [0.97]}


def test_find_runs_orders_sweep_members_by_number(tmp_path: Path) -> None:
    for name in ("10", "2", "best"):
        (tmp_path / name / ".hydra").mkdir(parents=True)
    (tmp_path / "not_a_run").mkdir()
    assert [run.name for run in find_runs(tmp_path)] == ["2", "10", "best"]
    assert [run.name for run in find_runs(tmp_path / "10")] == ["10"]
    with pytest.raises(LabError, match="no runs in"):
        find_runs(tmp_path / "not_a_run")


def test_step_curves_and_last_batch_losses_are_read_back(tmp_path: Path) -> None:
    run = write_curves_run(
        tmp_path / "run",
        [],
        {"train/loss_epoch": [0.5], "val/loss": [0.6]},
        step_losses={49: 2.3, 99: 0.4},
        last_batches=[0.3, 0.2],
    )
    assert RunDir(run).step_curves() == {"train/loss": ([49, 99], [2.3, 0.4])}
    assert RunDir(run).last_batch_losses() == [0.3, 0.2]
    (run / "last_batch_losses.json").write_text("[0.3, ")  # cut off mid-write
    assert RunDir(run).last_batch_losses() == []
    assert RunDir(tmp_path / "none").step_curves() == {}
