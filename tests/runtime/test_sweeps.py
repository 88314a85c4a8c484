"""Multiruns: joblib members in parallel, failed members recorded, Optuna search."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
import yaml

from mnist_lab.runtime.rundir import RunDir
from tests.helpers.cli import run_cli

pytest.importorskip("hydra_plugins.hydra_joblib_launcher")


def members(outputs: Path) -> list[Path]:
    (sweep,) = list((outputs / "train" / "multiruns").iterdir())
    return sorted((p for p in sweep.iterdir() if p.is_dir()), key=lambda p: int(p.name))


def test_joblib_sweep_runs_both_members_and_keeps_a_failed_ones_reason(
    tmp_path: Path, tiny_data_dir: Path
) -> None:
    outputs = tmp_path / "outputs"
    result = run_cli(
        "mnist_lab.train",
        "-m",
        "hydra/launcher=joblib",
        "hydra.launcher.n_jobs=2",
        "trainer.max_epochs=2",
        "model.optimizer.name=sgd",
        "model.optimizer.lr=0.01,1e6",
        log_dir=outputs,
        data_dir=tiny_data_dir,
    )
    assert result.returncode != 0  # Hydra reports the failed member once all have run
    good, bad = members(outputs)
    assert json.loads((good / "metrics.json").read_text())["test/acc"] > 0.5
    assert not (good / "failed.txt").exists()
    reason = (bad / "failed.txt").read_text()
    assert reason.startswith("training loss became nan at step") or "inf" in reason
    assert "learning rate 1e+06" in reason
    # Each of the 2 members got half of the cores for its intra-op threads.
    threads = json.loads((good / "metrics.json").read_text())["threads"]
    assert threads == max(1, (os.cpu_count() or 1) // 2)

    sweep = good.parent
    reported = run_cli("mnist_lab.report", str(sweep), log_dir=outputs)
    assert reported.returncode == 0, reported.stderr
    table = (sweep / "report.md").read_text()
    # The finished member first, the failed one last with its reason.
    assert table.index("| ok |") < table.index("| failed: training loss became nan at step")
    for figure in ("learning_curves.png", "accuracy_vs_model_optimizer_lr.png"):
        assert (sweep / figure).stat().st_size > 10_000, figure


def test_optuna_search_runs_two_trials_on_validation_accuracy(
    tmp_path: Path, tiny_data_dir: Path
) -> None:
    pytest.importorskip("hydra_plugins.hydra_optuna_sweeper")
    outputs = tmp_path / "outputs"
    result = run_cli(
        "mnist_lab.train",
        "-m",
        "hparams_search=fashion_mlp",
        "hydra.sweeper.n_trials=2",
        "trainer.max_epochs=1",
        log_dir=outputs,
        data_dir=tiny_data_dir,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    trials = members(outputs)
    assert len(trials) == 2
    for trial in trials:
        metrics = json.loads((trial / "metrics.json").read_text())
        assert "val/acc_best" in metrics
        assert not any(key.startswith("test/") for key in metrics)  # the search never tests
    (sweep,) = list((outputs / "train" / "multiruns").iterdir())
    best = yaml.safe_load((sweep / "optimization_results.yaml").read_text())["best_params"]
    assert best["search.depth"] in (3, 4, 5)

    # The retrain reads the best trial from the search's own result and tests once.
    retrain = run_cli(
        "mnist_lab.train",
        "experiment=fashion_mlp",
        f"from_search={sweep}",
        "trainer.max_epochs=1",
        log_dir=outputs,
        data_dir=tiny_data_dir,
    )
    assert retrain.returncode == 0, retrain.stderr[-3000:]
    (run,) = list((outputs / "train" / "runs").iterdir())
    config = yaml.safe_load((run / ".hydra" / "config.yaml").read_text())
    assert config["from_search"] == str(sweep)
    assert config["from_search_member"].startswith("member ")
    for key, value in best.items():
        assert f"{key}={value}" in (run / ".hydra" / "overrides.yaml").read_text()
    # Saved unresolved, as Hydra saves every config; a reader of the run resolves the depth.
    assert len(RunDir(run).config().model.net.hidden_dims) == best["search.depth"]
    assert "test/acc" in json.loads((run / "metrics.json").read_text())
