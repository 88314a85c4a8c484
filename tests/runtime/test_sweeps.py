"""Multiruns: joblib members in parallel, failed members recorded, Optuna search."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

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
    best = (sweep / "optimization_results.yaml").read_text()
    assert "best_params" in best and "search.width_1" in best
