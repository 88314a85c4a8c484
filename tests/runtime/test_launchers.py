"""Launchers (submitit on this machine, SLURM without a cluster) and resuming a sweep."""

from __future__ import annotations

import json
import os
import pickle
import time
from pathlib import Path

import pytest
from omegaconf import OmegaConf

from mnist_lab.runtime.resume import config_digest, previous_attempt
from mnist_lab.runtime.rundir import MEMBER_FILE, RunDir
from tests.helpers import CONF_DIR, compose_config
from tests.helpers.cli import run_cli

SUBMITIT = "hydra_plugins.hydra_submitit_launcher"


def test_slurm_launcher_asks_one_task_per_device_and_lightnings_requeue_signal(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The sbatch script a 2-node, 4-GPU-per-node DDP sweep member would be submitted with."""
    pytest.importorskip(SUBMITIT)
    import submitit
    from hydra import compose, initialize_config_dir
    from hydra.utils import instantiate

    monkeypatch.setenv("MNIST_LAB_SLURM_PARTITION", "gpu")
    monkeypatch.setenv("MNIST_LAB_SLURM_TIMEOUT_MIN", "240")
    fake_bin = tmp_path / "bin"  # submitit refuses to build a SLURM executor without srun
    fake_bin.mkdir()
    (fake_bin / "srun").write_text("#!/bin/sh\nexit 1\n")
    (fake_bin / "srun").chmod(0o755)
    monkeypatch.setenv("PATH", f"{fake_bin}{os.pathsep}{os.environ['PATH']}")
    overrides = [
        "hydra/launcher=slurm",
        "trainer=ddp",
        "trainer.accelerator=gpu",
        "trainer.num_nodes=2",
        "trainer.devices=4",
        f"hydra.sweep.dir={tmp_path / 'sweep'}",
    ]
    with initialize_config_dir(str(CONF_DIR), version_base="1.3"):
        cfg = compose("train", overrides=overrides, return_hydra_config=True)
    launcher = instantiate(cfg.hydra.launcher)
    launcher.setup(hydra_context=None, task_function=None, config=cfg)

    class Submitted(Exception):
        pass

    executors = []

    def submit(executor, *arguments):  # stands in for sbatch: keep the executor, submit nothing
        executors.append(executor._executor)
        raise Submitted

    monkeypatch.setattr(submitit.AutoExecutor, "map_array", submit)
    with pytest.raises(Submitted):
        launcher.launch([["seed=1"], ["seed=2"]], initial_job_idx=0)
    script = executors[0]._make_submission_file_text("python -m submitit.core._submit x", "u")
    lines = set(script.splitlines())
    for line in (
        "#SBATCH --nodes=2",
        "#SBATCH --ntasks-per-node=4",  # one task per GPU: SLURM starts the DDP ranks
        "#SBATCH --gpus-per-node=4",
        "#SBATCH --partition=gpu",
        "#SBATCH --time=240",
        "#SBATCH --signal=USR1@120",  # the signal Lightning's SLURM handler requeues on
        "#SBATCH --requeue",
    ):
        assert line in lines, script
    assert sum(line.startswith("#SBATCH --signal") for line in lines) == 1


def test_slurm_launcher_gives_a_single_device_run_one_task_on_one_node(monkeypatch) -> None:
    pytest.importorskip(SUBMITIT)
    from hydra import compose, initialize_config_dir

    monkeypatch.delenv("MNIST_LAB_SLURM_PARTITION", raising=False)
    monkeypatch.delenv("MNIST_LAB_SLURM_TIMEOUT_MIN", raising=False)
    with initialize_config_dir(str(CONF_DIR), version_base="1.3"):
        cfg = compose("train", ["hydra/launcher=slurm"], return_hydra_config=True)
    launcher = OmegaConf.to_container(cfg.hydra.launcher, resolve=True)
    assert "num_nodes" not in cfg.trainer  # the default trainer: nodes falls back to 1
    assert (launcher["nodes"], launcher["tasks_per_node"], launcher["gpus_per_node"]) == (1, 1, 1)
    assert (launcher["partition"], launcher["timeout_min"]) == (None, 60)
    assert launcher["_target_"].endswith("SlurmLauncher")  # submitit's settings underneath


def _member_dir(tmp_path: Path, digest: str = "abc", **files: str) -> Path:
    run = tmp_path / "run"
    (run / ".hydra").mkdir(parents=True)
    (run / "train.log").write_text("")
    (run / MEMBER_FILE).write_text(json.dumps({"config_digest": digest}))
    for name, text in files.items():
        path = run / name.replace("__", "/")
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return run


def test_a_member_with_metrics_and_no_failure_is_finished(tmp_path: Path) -> None:
    run = _member_dir(tmp_path, **{"metrics.json": '{"val/acc_best": 0.5}'})
    attempt = previous_attempt(RunDir(run), "abc")
    assert (attempt.state, attempt.metrics) == ("finished", {"val/acc_best": 0.5})


@pytest.mark.parametrize(
    "files",
    [
        {"checkpoints__last.ckpt": "x"},  # killed: no metrics yet
        {"metrics.json": "{}", "failed.txt": "interrupted by SIGTERM"},
        {"metrics.json": '{"val/acc_best": 0.'},  # cut off while being written
    ],
)
def test_killed_failed_or_half_written_members_are_unfinished(tmp_path: Path, files) -> None:
    attempt = previous_attempt(RunDir(_member_dir(tmp_path, **files)), "abc")
    assert attempt.state == "unfinished"


def test_only_a_fresh_dir_is_new_and_another_config_is_not_mistaken_for_this_one(tmp_path):
    fresh = tmp_path / "fresh"
    (fresh / ".hydra").mkdir(parents=True)
    assert previous_attempt(RunDir(fresh), "abc").state == "none"
    run = _member_dir(tmp_path, "old", **{"metrics.json": '{"val/acc_best": 0.5}'})
    assert previous_attempt(RunDir(run), "abc").state == "other"


def test_resume_starts_from_the_newest_checkpoint(tmp_path: Path) -> None:
    run = _member_dir(tmp_path, **{"checkpoints__last.ckpt": "x", "hpc_ckpt_1.ckpt": "y"})
    now = time.time()
    os.utime(run / "checkpoints" / "last.ckpt", (now - 60, now - 60))
    # saved when SLURM preempted it
    assert RunDir(run).newest_checkpoint() == run / "hpc_ckpt_1.ckpt"
    os.utime(run / "hpc_ckpt_1.ckpt", (now - 120, now - 120))
    assert RunDir(run).newest_checkpoint() == run / "checkpoints" / "last.ckpt"
    assert RunDir(tmp_path / "nothing").newest_checkpoint() is None


def test_config_digest_ignores_paths_but_not_settings(tmp_path: Path) -> None:
    base = config_digest(compose_config("train", [], tmp_path / "a"))
    assert config_digest(compose_config("train", ["paths.data_dir=/elsewhere"], tmp_path)) == base
    assert config_digest(compose_config("train", ["seed=1"], tmp_path / "a")) != base


@pytest.fixture(scope="module")
def local_sweep(tmp_path_factory: pytest.TempPathFactory, tiny_data_dir: Path):
    """A 2-member sweep that submitit runs as two processes; returns a function re-running it."""
    pytest.importorskip(SUBMITIT)
    outputs = tmp_path_factory.mktemp("submitit") / "outputs"
    arguments = [
        "-m",
        "hydra/launcher=submitit_local",
        "seed=1,2",
        "trainer.max_epochs=1",
        "threads=1",
    ]

    def sweep(*extra: str):
        return run_cli(
            "mnist_lab.train", *arguments, *extra, log_dir=outputs, data_dir=tiny_data_dir
        )

    result = sweep()
    assert result.returncode == 0, result.stderr[-3000:]
    (sweep_dir,) = (outputs / "train" / "multiruns").iterdir()
    return sweep, sweep_dir


def _job_results(sweep_dir: Path) -> dict[str, object]:
    """submitit's result of every job so far, by result file."""
    return {
        path.name: pickle.loads(path.read_bytes())
        for path in (sweep_dir / ".submitit").glob("*/*_result.pkl")
    }


def test_submitit_local_runs_each_member_as_its_own_job(local_sweep) -> None:
    _, sweep_dir = local_sweep
    results = _job_results(sweep_dir)
    assert len(results) == 2
    returns = {tuple(job.overrides): job.return_value for status, job in results.values()}
    for number, seed in ((0, 1), (1, 2)):
        metrics = json.loads((sweep_dir / str(number) / "metrics.json").read_text())
        assert metrics["test/acc"] > 0.5
        # What Hydra's sweepers (Optuna) receive: the member's optimized metric.
        key = (f"seed={seed}", "trainer.max_epochs=1", "threads=1")
        assert returns[key] == metrics["val/acc_best"]
    logs = "".join(p.read_text() for p in (sweep_dir / ".submitit").glob("*/*_log.out"))
    assert logs.count("test accuracy") == 2


def _modified(run_dir: Path) -> dict[Path, int]:
    """Modification times of a run's results (Hydra rewrites its config and log on every start)."""
    return {
        path: path.stat().st_mtime_ns
        for path in run_dir.rglob("*")
        if ".hydra" not in path.parts and path.suffix != ".log"
    }


def test_a_sweep_run_again_into_its_dir_reruns_only_unfinished_members(local_sweep) -> None:
    """The machine died: member 1 was interrupted, member 0 had finished."""
    sweep, sweep_dir = local_sweep
    finished, interrupted = sweep_dir / "0", sweep_dir / "1"
    before = _modified(finished)
    stored = json.loads((finished / "metrics.json").read_text())
    test_acc = json.loads((interrupted / "metrics.json").read_text())["test/acc"]
    (interrupted / "metrics.json").unlink()
    (interrupted / "failed.txt").write_text("interrupted by SIGTERM\n")
    jobs_before = set(_job_results(sweep_dir))

    result = sweep(f"hydra.sweep.dir={sweep_dir}")
    assert result.returncode == 0, result.stderr[-3000:]
    assert _modified(finished) == before  # not run again: not one of its results was touched
    assert not (interrupted / "failed.txt").exists()
    assert json.loads((interrupted / "metrics.json").read_text())["test/acc"] == test_acc

    new_jobs = {k: v for k, v in _job_results(sweep_dir).items() if k not in jobs_before}
    returns = {job.overrides[0]: job.return_value for status, job in new_jobs.values()}
    assert returns["seed=1"] == stored["val/acc_best"]  # the stored objective, for Optuna
    logs = "".join(p.read_text() for p in (sweep_dir / ".submitit").glob("*/*_log.out"))
    assert "sweep member 0 finished in an earlier attempt: not run again" in logs
    assert f"sweep member 1 did not finish before: resuming from {interrupted}" in logs
