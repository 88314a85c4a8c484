"""Nothing lost: killed runs resume exactly, checkpoints are atomic, NaN keeps the last good one."""

from __future__ import annotations

import csv
import json
import re
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path
from types import SimpleNamespace

import lightning as L
import pytest
import torch

from mnist_lab import LabError
from mnist_lab.callbacks import FiniteLoss
from mnist_lab.runtime.assemble import assemble
from mnist_lab.runtime.checkpoints import AtomicCheckpointIO
from mnist_lab.runtime.cli import wants_full_error
from mnist_lab.runtime.resume import resume_arguments
from tests.helpers import ROOT
from tests.helpers.cli import cli_environment, run_cli, start_cli


class PauseOnce(L.Callback):
    """Test helper: at (epoch, batch) writes `marker` and sleeps, once per marker file.

    Lets a test kill a run at a known point in the middle of an epoch; the resumed run finds
    the marker and does not pause again. Sleeping changes no number the run computes.
    """

    def __init__(self, marker: str, epoch: int = 1, batch: int = 5) -> None:
        self.marker, self.epoch, self.batch = Path(marker), epoch, batch

    def on_train_batch_start(self, trainer, pl_module, batch, batch_idx: int) -> None:
        if (trainer.current_epoch, batch_idx) != (self.epoch, self.batch) or self.marker.exists():
            return
        self.marker.write_text(str(trainer.global_step))
        for _ in range(600):
            time.sleep(0.1)
            if trainer.received_sigterm:
                return


RUN = ["trainer.max_epochs=2", "data.batch_size=32", "model.net.dropout_p=0.2", "seed=3"]
COMPARED = ("train/loss_epoch", "train/acc", "val/loss", "val/acc", "val/acc_best", "test/acc")


def start_train(arguments: list[str], outputs: Path, data_dir: Path) -> subprocess.Popen:
    """A training process; its stderr goes to a file (a full pipe nobody reads would block it)."""
    env = cli_environment(outputs, data_dir)
    command = [sys.executable, "-m", "mnist_lab.train", *RUN, *arguments]
    outputs.mkdir(parents=True, exist_ok=True)
    log = outputs / f"stderr-{len(list(outputs.glob('stderr-*')))}.txt"
    with log.open("w") as stderr:
        process = subprocess.Popen(
            command, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=stderr, text=True
        )
    process.log = log  # type: ignore[attr-defined]
    return process


def stderr_of(process: subprocess.Popen) -> str:
    return process.log.read_text()  # type: ignore[attr-defined]


def epoch_rows(run: Path) -> list[tuple[int, str]]:
    """(epoch, val/acc) of every row of the run's CSV log that has a validation accuracy."""
    with (run / "csv" / "metrics.csv").open() as file:
        return [(int(r["epoch"]), r["val/acc"]) for r in csv.DictReader(file) if r["val/acc"]]


def wait_for(marker: Path, process: subprocess.Popen) -> None:
    deadline = time.monotonic() + 120
    while not marker.exists() and time.monotonic() < deadline and process.poll() is None:
        time.sleep(0.05)
    assert marker.exists(), stderr_of(process)[-3000:]


def pause_at(marker: Path) -> str:
    return f"+callbacks.pause={{_target_:tests.runtime.test_faults.PauseOnce,marker:'{marker}'}}"


def test_runs_killed_mid_epoch_resume_to_the_same_numbers(tmp_path: Path, tiny_data_dir: Path):
    outputs = tmp_path / "outputs"
    runs = outputs / "train" / "runs"
    killed_marker, stopped_marker = tmp_path / "killed", tmp_path / "stopped"
    # Three runs started in the same second; the two of task `train` need two directories.
    killed = start_train([pause_at(killed_marker)], outputs, tiny_data_dir)
    stopped = start_train([pause_at(stopped_marker)], outputs, tiny_data_dir)
    reference = start_train(["task_name=reference"], outputs, tiny_data_dir)
    wait_for(killed_marker, killed)
    wait_for(stopped_marker, stopped)
    # The first epoch's checkpoint exists and the second epoch has begun: stop mid-epoch.
    assert [(r / "checkpoints" / "last.ckpt").is_file() for r in runs.iterdir()] == [True, True]
    killed.send_signal(signal.SIGKILL)
    stopped.send_signal(signal.SIGTERM)
    killed.wait(timeout=120)
    stopped.wait(timeout=120)
    killed_err, stopped_err = stderr_of(killed), stderr_of(stopped)
    assert killed.returncode == -signal.SIGKILL, killed_err[-3000:]
    assert stopped.returncode == 128 + signal.SIGTERM, stopped_err[-3000:]

    # SIGTERM is recorded in the run dir and says how to resume; SIGKILL leaves no trace.
    (stopped_run,) = [r for r in runs.iterdir() if (r / "failed.txt").exists()]
    (killed_run,) = [r for r in runs.iterdir() if r != stopped_run]
    resume = f"python -m mnist_lab.train ckpt_path={stopped_run}"
    assert (
        stopped_run / "failed.txt"
    ).read_text() == f"interrupted by SIGTERM; resume with: {resume}\n"
    assert (
        stopped_err.strip().splitlines()[-1]
        == f"error: interrupted by SIGTERM; resume with: {resume}"
    )
    for run in (killed_run, stopped_run):
        assert torch.load(run / "checkpoints" / "last.ckpt", weights_only=False)["epoch"] == 0
        assert not (run / "metrics.json").exists()

    resumed = run_cli(
        "mnist_lab.train", f"ckpt_path={killed_run}", log_dir=outputs, data_dir=tiny_data_dir
    )
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    assert f"resuming {killed_run} from checkpoints/last.ckpt" in resumed.stdout
    assert reference.wait(timeout=120) == 0, stderr_of(reference)[-3000:]
    (reference_run,) = list((outputs / "reference" / "runs").iterdir())

    assert len(list(runs.iterdir())) == 2  # resumed in place, no new run dir
    expected = json.loads((reference_run / "metrics.json").read_text())
    got = json.loads((killed_run / "metrics.json").read_text())
    for key in COMPARED:
        assert got[key] == pytest.approx(expected[key], rel=1e-6, abs=1e-7), key
    # The CSV log continues: one validation row per epoch, as in the uninterrupted run.
    assert epoch_rows(killed_run) == epoch_rows(reference_run)
    assert [epoch for epoch, _ in epoch_rows(killed_run)] == [0, 1]


def fake_run(log_dir: Path, stamp: str, overrides: list[str]) -> Path:
    run = log_dir / "train" / "runs" / stamp
    (run / "checkpoints").mkdir(parents=True)
    torch.save({"epoch": 0}, run / "checkpoints" / "last.ckpt")  # a whole (tiny) torch file
    (run / ".hydra").mkdir()
    (run / ".hydra" / "overrides.yaml").write_text("".join(f"- {o}\n" for o in overrides))
    return run


def test_resume_arguments_bring_back_the_runs_own_overrides(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("MNIST_LAB_LOG_DIR", str(tmp_path))
    fake_run(tmp_path, "2026-01-01_10-00-00-000001", ["model=cnn"])
    newest = fake_run(
        tmp_path,
        "2026-01-01_10-00-00-000002",
        ["model.net.hidden_dims=[16]", "seed=1", "ckpt_path=x"],
    )
    (tmp_path / "train" / "runs" / "2026-01-01_10-00-00-000003").mkdir()  # no checkpoint yet
    assert resume_arguments(["ckpt_path=last", "seed=2"]) == [
        "model.net.hidden_dims=[16]",
        "seed=2",
        f"ckpt_path='{newest}/checkpoints/last.ckpt'",
        f"hydra.run.dir='{newest}'",
    ]
    assert resume_arguments([f"ckpt_path={newest}"])[:2] == ["model.net.hidden_dims=[16]", "seed=1"]
    torch.save({"epoch": 0}, tmp_path / "model.ckpt")
    plain = [f"ckpt_path={tmp_path / 'model.ckpt'}", "seed=2"]
    assert resume_arguments(plain) == plain  # a checkpoint file: Lightning resumes in a new run
    with pytest.raises(LabError, match=r"ckpt_path='missing.ckpt' does not exist; give a run"):
        resume_arguments(["ckpt_path=missing.ckpt"])
    with pytest.raises(LabError, match=r"is a directory without .hydra/overrides.yaml; give a run"):
        resume_arguments([f"ckpt_path={tmp_path}"])
    with pytest.raises(LabError, match="resumes a single run; drop -m/--multirun"):
        resume_arguments(["-m", "ckpt_path=last"])


def test_a_failed_save_leaves_the_previous_checkpoint_loadable(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    io = AtomicCheckpointIO()
    path = tmp_path / "checkpoints" / "last.ckpt"
    io.save_checkpoint({"epoch": 1, "weights": torch.ones(3)}, path)
    real_save = torch.save

    def save_half_then_die(obj, file) -> None:
        real_save(obj, file)
        file.truncate(10)  # a kill in the middle of writing
        raise OSError("No space left on device")

    monkeypatch.setattr(torch, "save", save_half_then_die)
    with pytest.raises(OSError, match="No space left"):
        io.save_checkpoint({"epoch": 2, "weights": torch.zeros(3)}, path)
    monkeypatch.undo()
    loaded = io.load_checkpoint(path)
    assert loaded["epoch"] == 1 and torch.equal(loaded["weights"], torch.ones(3))
    assert [p.name for p in path.parent.iterdir()] == ["last.ckpt"]  # no temporary file left


def test_every_trainer_saves_checkpoints_atomically(train_config) -> None:
    _, _, trainer = assemble(train_config())
    assert isinstance(trainer.strategy.checkpoint_io, AtomicCheckpointIO)


def test_a_sweep_member_turning_nan_keeps_its_last_good_checkpoint_and_the_others_run(
    tmp_path: Path, tiny_data_dir: Path
) -> None:
    """Hydra's basic launcher (members one after another); the joblib one is in test_sweeps."""
    outputs = tmp_path / "outputs"
    # Both start at lr 0.01; member 0's step scheduler multiplies it by 1e10 after every epoch.
    result = run_cli(
        "mnist_lab.train", "-m", "trainer.max_epochs=3", "model.optimizer.name=sgd",
        "model.optimizer.lr=0.01", "model.scheduler.name=step", "+model.scheduler.step_size=1",
        "+model.scheduler.gamma=1e10,0.5", "data.batch_size=32", "logger.tensorboard=null",
        log_dir=outputs, data_dir=tiny_data_dir,
    )  # fmt: skip
    assert result.returncode != 0  # Hydra reports the failed member once all have run
    # ... and the sweep's output ends in one summary line, not a traceback.
    assert "Traceback" not in result.stderr
    (sweep,) = list((outputs / "train" / "multiruns").iterdir())
    assert result.stderr.strip().splitlines()[-1] == (
        f"error: 1 of 2 sweep members failed (0); their reasons are in <member>/failed.txt "
        f"under {sweep}, and python -m mnist_lab.report {sweep} lists them"
    )
    (sweep,) = list((outputs / "train" / "multiruns").iterdir())
    failed, good = sweep / "0", sweep / "1"
    assert json.loads((good / "metrics.json").read_text())["test/acc"] > 0.5

    reason = (failed / "failed.txt").read_text().strip()
    found = re.fullmatch(
        r"training loss became nan at step (\d+) \(epoch (\d+)\) with learning rate (\S+); the "
        r"checkpoints of earlier epochs are kept; try a smaller model.optimizer.lr",
        reason,
    )
    assert found, reason
    epoch = int(found.group(2))
    assert float(found.group(3)) == pytest.approx(0.01 * 1e10**epoch)
    checkpoint = torch.load(failed / "checkpoints" / "last.ckpt", weights_only=False)
    assert checkpoint["epoch"] == epoch - 1  # the last completed epoch before the NaN
    weights = checkpoint["state_dict"].values()
    assert all(bool(torch.isfinite(w).all()) for w in weights if w.is_floating_point())
    assert not (failed / "metrics.json").exists()

    reported = run_cli("mnist_lab.report", str(sweep), log_dir=outputs)
    assert reported.returncode == 0, reported.stderr
    table = (sweep / "report.md").read_text()
    assert table.index("| ok |") < table.index(f"| failed: {reason}")


def test_non_finite_weights_are_never_saved_over_a_good_checkpoint() -> None:
    """Between two loss checks the weights can break; the save itself refuses them."""
    guard = FiniteLoss(check_every_n_steps=20)
    net = torch.nn.Linear(2, 2)
    optimizer = torch.optim.SGD(net.parameters(), lr=0.5)
    trainer = SimpleNamespace(optimizers=[optimizer], global_step=7, current_epoch=1)
    guard.on_save_checkpoint(trainer, net, {})  # finite: saved as usual
    guard.on_train_batch_start(trainer, net, None, batch_idx=3)
    guard.on_train_batch_end(trainer, net, torch.tensor(float("inf")), None, batch_idx=3)
    with torch.no_grad():
        net.weight[0, 0] = float("nan")
    with pytest.raises(LabError) as caught:
        guard.on_save_checkpoint(trainer, net, {})
    assert str(caught.value).startswith(
        "training loss became inf at step 7 (epoch 1) with learning rate 0.5;"
    )


TINY = ["trainer.max_epochs=1", "data.batch_size=64", "logger.tensorboard=null", "threads=1"]


def finished_run(outputs: Path, data_dir: Path) -> Path:
    """A tiny run trained to its end by the command line into `outputs`; its run dir."""
    trained = run_cli("mnist_lab.train", *TINY, log_dir=outputs, data_dir=data_dir)
    assert trained.returncode == 0, trained.stderr[-3000:]
    (run,) = list((outputs / "train" / "runs").iterdir())
    return run


def files_of(run: Path) -> dict[str, bytes]:
    return {str(p.relative_to(run)): p.read_bytes() for p in sorted(run.rglob("*")) if p.is_file()}


def test_failed_attempts_on_a_finished_run_leave_every_byte_of_it(
    tmp_path: Path, tiny_data_dir: Path
) -> None:
    """Each attempt on its own copy of one finished run, all at once; then each copy compared."""
    outputs = tmp_path / "outputs"
    run = finished_run(outputs, tiny_data_dir)
    attempts = {
        # (extra arguments): (exit status, the start of the last stderr line, or of stdout's)
        (): (0, "is finished (test/acc "),
        ("model=cnn", "trainer.max_epochs=2"): (2, "error: ckpt_path="),
        ("data.batch_size=100000", "trainer.max_epochs=2"): (2, "error: data.batch_size=100000"),
    }
    started = []
    for index, extra in enumerate(attempts):
        copy = tmp_path / "copies" / f"run{index}"
        shutil.copytree(run, copy)
        before = files_of(copy)
        command = ["-m", "mnist_lab.train", f"ckpt_path={copy}", *extra]
        process = start_cli(command, outputs, tiny_data_dir)
        started.append((process, copy, before, attempts[extra]))
    outputs_of = []
    for process, copy, before, (status, line) in started:
        stdout, stderr = process.communicate(timeout=300)
        assert process.returncode == status, stderr[-3000:]
        assert "Traceback" not in stderr
        last = (stderr if status else stdout).strip().splitlines()[-1]
        assert line in last, last
        assert files_of(copy) == before, copy
        outputs_of.append(last)
    # The CNN attempt was refused because the checkpoint holds the MLP the run trained.
    assert outputs_of[1].endswith("is a checkpoint of model MLP; this config builds model CNN")


def test_a_kill_during_the_first_save_resumes_and_training_on_keeps_every_key(
    tmp_path: Path, tiny_data_dir: Path
) -> None:
    outputs = tmp_path / "outputs"
    run = finished_run(outputs, tiny_data_dir)
    keys = set(json.loads((run / "metrics.json").read_text()))
    # As a SIGKILL while last.ckpt was first written leaves it: best.ckpt and a temporary file.
    (run / "metrics.json").unlink()
    (run / "checkpoints" / "last.ckpt").rename(run / "checkpoints" / ".last.ckpt.k1ll.tmp")
    resumed = run_cli(
        "mnist_lab.train", f"ckpt_path={run}", log_dir=outputs, data_dir=tiny_data_dir
    )
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    assert f"resuming {run} from checkpoints/best.ckpt" in resumed.stdout
    # Nothing was left to train: the epoch's numbers come back from the CSV log (which keeps
    # no single step's loss and no learning rate: those rows have no epoch).
    kept = keys - {"train/loss_step", "lr-Adam/weights", "lr-Adam/biases_and_norms"}
    assert {"val/acc", "val/acc_best", "train/loss_epoch", "test/acc"} <= kept
    assert set(json.loads((run / "metrics.json").read_text())) == kept
    assert [p.name for p in (run / "checkpoints").iterdir()] == ["best.ckpt"]  # no temporary

    more = run_cli(
        "mnist_lab.train",
        f"ckpt_path={run}",
        "trainer.max_epochs=2",
        log_dir=outputs,
        data_dir=tiny_data_dir,
    )
    assert more.returncode == 0, more.stderr[-3000:]
    assert set(json.loads((run / "metrics.json").read_text())) == keys
    assert [epoch for epoch, _ in epoch_rows(run)] == [0, 1]
    assert torch.load(run / "checkpoints" / "last.ckpt", weights_only=False)["epoch"] == 1
    assert len(list((outputs / "train" / "runs").iterdir())) == 1


def test_ctrl_c_stops_like_sigterm_and_a_second_process_is_refused(
    tmp_path: Path, tiny_data_dir: Path
) -> None:
    outputs = tmp_path / "outputs"
    marker = tmp_path / "paused"
    first = start_train([pause_at(marker)], outputs, tiny_data_dir)
    wait_for(marker, first)
    (run,) = list((outputs / "train" / "runs").iterdir())
    second = run_cli("mnist_lab.train", f"ckpt_path={run}", log_dir=outputs, data_dir=tiny_data_dir)
    assert second.returncode == 2, second.stderr[-3000:]
    assert second.stderr.strip().splitlines() == [
        f"error: {run} is in use by another process (a run or resume of it is still going); "
        f"wait for it to end, or stop it first"
    ]
    first.send_signal(signal.SIGINT)
    first.wait(timeout=120)
    stderr = stderr_of(first)
    assert first.returncode == 128 + signal.SIGINT, stderr[-3000:]
    resume = f"python -m mnist_lab.train ckpt_path={run}"
    assert stderr.strip().splitlines()[-1] == f"error: interrupted by SIGINT; resume with: {resume}"
    assert (run / "failed.txt").read_text() == f"interrupted by SIGINT; resume with: {resume}\n"
    assert torch.load(run / "checkpoints" / "last.ckpt", weights_only=False)["epoch"] == 0


def test_an_internal_error_is_one_line_naming_its_saved_traceback(
    tmp_path: Path, tiny_data_dir: Path
) -> None:
    """A callback that is no callback (a dict) breaks inside Lightning: a fault, not bad input."""
    outputs = tmp_path / "outputs"
    broken = [*TINY, "+callbacks.broken={_target_:builtins.dict}"]
    result = run_cli("mnist_lab.train", *broken, log_dir=outputs, data_dir=tiny_data_dir)
    stderr = result.stderr
    assert result.returncode == 1, stderr[-3000:]
    (run,) = list((outputs / "train" / "runs").iterdir())
    (line,) = [text for text in stderr.splitlines() if text.startswith("error:")]
    assert line.startswith("error: internal error (") and "Traceback" not in stderr
    assert line.endswith(
        f"; the full traceback is in {run / 'traceback.txt'}; HYDRA_FULL_ERROR=1 prints it here"
    )
    assert (run / "traceback.txt").read_text().startswith("Traceback (most recent call last)")
    assert (run / "failed.txt").is_file()


def test_hydra_full_error_shows_faults_whole_and_user_errors_in_one_line(monkeypatch) -> None:
    monkeypatch.delenv("MNIST_LAB_HYDRA_FULL_ERROR", raising=False)
    monkeypatch.setenv("HYDRA_FULL_ERROR", "1")
    assert wants_full_error(KeyError("x")) and not wants_full_error(LabError("bad value"))
    # What the lab sets for Hydra is not what the user asked for: the user's value is kept.
    monkeypatch.setenv("MNIST_LAB_HYDRA_FULL_ERROR", "")
    assert not wants_full_error(KeyError("x"))
