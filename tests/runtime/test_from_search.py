"""from_search=<sweep dir>: the best member's swept settings, read from what the sweep saved."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from mnist_lab import LabError
from mnist_lab.runtime.from_search import best_of_sweep, search_arguments
from mnist_lab.train import compose_config
from tests.helpers.cli import run_cli
from tests.helpers.run_dirs import write_run, write_seed_sweep, write_sweep

OPTUNA_PARAMS = {
    "search.depth": 4,
    "search.width_1": 256,
    "model.optimizer.lr": 0.0012345678901234,
    "model.net.dropout_p": 0.125,
    "data.batch_size": 128,
}


def write_optuna_sweep(parent: Path, with_members: bool = True) -> Path:
    """An Optuna sweep dir: its optimization_results.yaml and, optionally, two trials' dirs."""
    sweep = parent / "optuna"
    sweep.mkdir(parents=True)
    results = {"name": "optuna", "best_params": OPTUNA_PARAMS, "best_value": 0.875}
    (sweep / "optimization_results.yaml").write_text(yaml.safe_dump(results))
    if with_members:
        other = {**OPTUNA_PARAMS, "search.depth": 3, "model.optimizer.lr": 0.01}
        for name, params in (("0", other), ("1", OPTUNA_PARAMS)):
            overrides = [f"{k}={v}" for k, v in params.items()] + ["hparams_search=fashion_mlp"]
            write_run(sweep / name, overrides, [0.8], [256, 128, 64], params=1000)
    return sweep


def test_a_basic_sweep_gives_its_best_members_swept_settings_only(tmp_path: Path) -> None:
    best = best_of_sweep(write_sweep(tmp_path))
    # Member 1 (best val acc 0.981) beats member 0 (0.975); member 2 failed. The epochs are
    # the same for all three members, so they are no swept setting and are not taken.
    assert best.member == "member 1"
    assert best.settings == {"model.net.hidden_dims": "[64,32]"}
    assert best.metric == "val/acc_best"
    assert best.value == pytest.approx(0.981)
    assert best.compared == 2


def test_members_repeated_over_seeds_count_as_one_setting_by_their_mean(tmp_path: Path) -> None:
    best = best_of_sweep(write_seed_sweep(tmp_path / "seeds"))
    # Width [2] has a seed at 1.0, but its mean (0.875) loses to width [4] (1.0 for both seeds).
    assert best.settings == {"model.net.hidden_dims": "[4]"}
    assert best.member == "members 20, 21 (mean)"
    assert best.value == pytest.approx(1.0)
    assert best.compared == 4


def test_an_optuna_search_gives_its_saved_best_trial(tmp_path: Path) -> None:
    best = best_of_sweep(write_optuna_sweep(tmp_path))
    assert best.settings == {key: str(value) for key, value in OPTUNA_PARAMS.items()}
    assert best.member == "member 1"
    assert best.value == 0.875
    alone = best_of_sweep(write_optuna_sweep(tmp_path / "alone", with_members=False))
    assert alone.settings == best.settings
    assert alone.member == "optimization_results.yaml"
    assert "(0.8750); taking " in alone.describe("d")  # no count to give
    assert "(0.8750, of 2 settings)" in best.describe("d")


def test_given_settings_win_and_the_member_is_recorded(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    sweep = write_optuna_sweep(tmp_path)
    arguments = ["-m", "experiment=fashion_mlp", f"from_search={sweep}", "data.batch_size=32"]
    expanded = search_arguments([*arguments, "seed=1,2,3"])
    assert expanded[0] == "-m"  # Hydra takes its flags before the overrides
    assert "data.batch_size=128" not in expanded and "data.batch_size=32" in expanded
    assert "search.depth=4" in expanded and "model.optimizer.lr=0.0012345678901234" in expanded
    assert expanded[-1] == "from_search_member='member 1'"
    assert "seed=1,2,3" in expanded
    printed = capsys.readouterr().out
    assert "from_search: member 1 of" in printed and "search.depth=4" in printed
    assert search_arguments(["experiment=fashion_mlp"]) == ["experiment=fashion_mlp"]
    assert search_arguments(["from_search=null"]) == ["from_search=null"]
    with pytest.raises(LabError, match="from_search is empty; expected a sweep dir, or null"):
        search_arguments(["from_search="])


def test_the_retrain_config_takes_the_search_result(tmp_path: Path) -> None:
    sweep = write_optuna_sweep(tmp_path)
    cfg = compose_config(["experiment=fashion_mlp", f"from_search={sweep}"], tmp_path / "run")
    assert list(cfg.model.net.hidden_dims) == [256, 128, 64, 64]  # depth 4, width_1 taken
    assert cfg.model.optimizer.lr == OPTUNA_PARAMS["model.optimizer.lr"]
    assert cfg.model.net.dropout_p == 0.125 and cfg.data.batch_size == 128
    assert cfg.from_search == str(sweep) and cfg.from_search_member == "member 1"
    assert cfg.test  # the retrain is tested once; the search never was


@pytest.mark.parametrize("depth", [3, 4, 5])
def test_the_search_yaml_builds_hidden_dims_of_the_searched_depth(depth: int) -> None:
    cfg = compose_config(["hparams_search=fashion_mlp", f"search.depth={depth}"])
    assert len(cfg.model.net.hidden_dims) == depth
    assert cfg.model.net.hidden_dims[0] == cfg.search.width_1
    assert not cfg.test and cfg.optimized_metric == "val/acc_best"


def test_the_search_tunes_depth_three_to_five_among_ten_settings() -> None:
    text = (Path(__file__).parents[2] / "conf" / "hparams_search" / "fashion_mlp.yaml").read_text()
    sweeper = yaml.safe_load(text)["hydra"]["sweeper"]
    assert sweeper["params"]["search.depth"] == "choice(3, 4, 5)"
    assert sweeper["n_trials"] >= 10  # CS541 HW3 Problem 2.2: at least 10 settings


def test_a_depth_beyond_the_widths_is_refused_in_one_line() -> None:
    with pytest.raises(LabError, match="cannot take the first 6 of 5 items"):
        compose_config(["experiment=fashion_mlp", "search.depth=6"])


def test_bad_sweep_dirs_are_refused_with_what_is_accepted(tmp_path: Path) -> None:
    with pytest.raises(LabError, match=r"from_search=\S*nowhere is not a directory; expected"):
        best_of_sweep(tmp_path / "nowhere")
    with pytest.raises(LabError, match="holds no runs .*; expected a sweep dir"):
        best_of_sweep(tmp_path)
    single = write_run(tmp_path / "single", ["seed=1"], [0.9], [8], params=100)
    with pytest.raises(LabError, match="holds a single run; expected a sweep dir"):
        best_of_sweep(single)
    failed = tmp_path / "failed"
    for name in ("0", "1"):
        write_run(failed / name, [f"seed={name}", "x=1"], [0.5], [8], params=None, failed="NaN")
    with pytest.raises(LabError, match="none of its 2 members finished .failed.; expected"):
        best_of_sweep(failed)
    no_metric = write_sweep(tmp_path / "no_metric")
    for member in ("0", "1"):
        path = no_metric / member / "metrics.json"
        metrics = json.loads(path.read_text())
        del metrics["val/acc_best"]
        path.write_text(json.dumps(metrics))
    with pytest.raises(LabError, match="no finished member has val/acc_best in its metrics.json"):
        best_of_sweep(no_metric)
    seeds_only = tmp_path / "seeds_only"
    for seed in ("1", "2"):
        write_run(seeds_only / seed, [f"seed={seed}"], [0.9], [8], params=100)
    with pytest.raises(LabError, match="differ only in their seed"):
        best_of_sweep(seeds_only)
    broken = tmp_path / "broken"
    broken.mkdir()
    (broken / "optimization_results.yaml").write_text("name: optuna\nsolutions: []\n")
    with pytest.raises(LabError, match="has no best_params and best_value; expected"):
        best_of_sweep(broken)


def test_the_command_line_refuses_a_bad_dir_and_writes_nothing(tmp_path: Path) -> None:
    outputs = tmp_path / "outputs"
    result = run_cli(
        "mnist_lab.train",
        "experiment=fashion_mlp",
        f"from_search={tmp_path / 'nowhere'}",
        log_dir=outputs,
    )
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [
        f"error: from_search={tmp_path / 'nowhere'} is not a directory; expected the sweep dir "
        f"of a finished sweep"
    ]
    assert not outputs.exists()
