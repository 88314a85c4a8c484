"""The reproduce runner: catalogue, commands, target judging, index, and one quick run."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from hydra import compose, initialize_config_dir

from mnist_lab.catalogue.index import render_index
from mnist_lab.catalogue.judge import judge
from mnist_lab.catalogue.runner import (
    EntryResult,
    StepResult,
    collect_step,
    failure_reason,
    merge_overrides,
    run_entry,
    step_command,
)
from mnist_lab.catalogue.schema import Entry, Step, Target, load_catalogue, parse_target
from mnist_lab.reproduce import main
from mnist_lab.runtime.rules import check_config

from .conftest import CONF_DIR
from .test_config import run_cli

CATALOGUE = load_catalogue()
TRAIN_STEPS = [
    pytest.param(entry, step, id=f"{entry.id}-{step.name}")
    for entry in CATALOGUE.entries.values()
    for step in entry.steps
    if step.module == "train"
]
# Experiment yamls the catalogue leaves out on purpose, with the reason.
LEFT_OUT = {
    "cnn_fast": "a faster recipe for E07's CNN; its timings belong to the speed benchmark",
}


def composable(arguments: list[str]) -> list[str]:
    """The overrides of a train command, each sweep reduced to its first value."""
    overrides = []
    for argument in arguments:
        if argument.startswith("-") or argument.startswith("hydra.sweep.dir"):
            continue
        key, _, value = argument.partition("=")
        if not key.startswith(("hydra.", "++")) and "," in value and "[" not in value:
            value = value.split(",")[0]
        overrides.append(f"{key}={value}")
    return overrides


@pytest.mark.parametrize("quick", [False, True], ids=["full", "quick"])
@pytest.mark.parametrize(("entry", "step"), TRAIN_STEPS)
def test_every_train_step_composes_into_an_accepted_config(
    entry: Entry, step: Step, quick: bool, tmp_path: Path
) -> None:
    command = step_command(step, tmp_path / "dir", {}, 1, CATALOGUE.quick_train, quick)
    assert command[:3] == [sys.executable, "-m", "mnist_lab.train"]
    flag = "hydra.sweep.dir" if step.multirun else "hydra.run.dir"
    assert f"{flag}={tmp_path / 'dir'}" in command
    with initialize_config_dir(str(CONF_DIR), version_base="1.3"):
        cfg = compose("train", overrides=composable(command[3:]))
    check_config(cfg)
    assert cfg.threads == 1 and cfg.callbacks.progress_bar is None
    if quick:  # one epoch; on a few hundred images where the data can be subset
        assert cfg.trainer.max_epochs == 1
        assert cfg.data.get("subset_size") == (500 if step.quick_train else None)


def test_full_budgets_keep_what_the_targets_rest_on(tmp_path: Path) -> None:
    def composed(entry_id: str, step_index: int = 0):
        step = CATALOGUE.entries[entry_id].steps[step_index]
        command = step_command(step, tmp_path, {}, 1)
        with initialize_config_dir(str(CONF_DIR), version_base="1.3"):
            return compose("train", overrides=composable(command[3:]))

    cnn = composed("E07")  # the seed fixes 10 epochs at batch 32
    assert (cnn.trainer.max_epochs, cnn.data.batch_size, cnn.data.subset_size) == (10, 32, None)
    assert composed("E08").data.subset_size == 10000
    assert composed("E13", 1).trainer.max_epochs == 10  # the retrain is not shrunk
    assert composed("E18").trainer.max_epochs == 30


def test_catalogue_covers_every_experiment_yaml_and_plans_under_half_an_hour() -> None:
    named = {
        argument.split("=", 1)[1]
        for entry in CATALOGUE.entries.values()
        for step in entry.steps
        for argument in step.arguments
        if argument.startswith(("experiment=", "hparams_search="))
    }
    named = {name for value in named for name in value.split(",")}
    yamls = {p.stem for p in (CONF_DIR / "experiment").glob("*.yaml")}
    assert yamls - named - set(LEFT_OUT) == set()
    assert {p.stem for p in (CONF_DIR / "hparams_search").glob("*.yaml")} <= named
    # Two experiments at a time on the 2-core CPU, plus about 2 minutes of process start-up
    # and reports, must stay under 30 minutes.
    assert sum(entry.expected_s for entry in CATALOGUE.entries.values()) / 2 < 27 * 60
    ids = list(CATALOGUE.entries)
    assert ids == sorted(ids) and ids[0] == "E01"


def test_a_malformed_catalogue_is_refused_naming_the_entry(tmp_path: Path) -> None:
    path = tmp_path / "catalogue.yaml"
    entry = {"id": "E01", "steps": {"train": "train"}, "targets": [{"metric": "test/acc"}]}
    entry["targets"][0].update(at_least=0.9, above=0.8)
    path.write_text(yaml.safe_dump({"experiments": [entry]}))
    with pytest.raises(Exception, match="E01 target 1: give one of .*not at_least, above"):
        load_catalogue(path)
    entry["targets"][0] = {"metric": "test/acc", "above": {"entry": "E99", "metric": "x"}}
    path.write_text(yaml.safe_dump({"experiments": [entry]}))
    with pytest.raises(Exception, match="E01: no entry 'E99'"):
        load_catalogue(path)


def test_a_step_can_replace_the_quick_budget_with_its_own(tmp_path: Path) -> None:
    catalogue = tmp_path / "catalogue.yaml"
    step = {"command": "train -m experiment=toy", "quick": "trainer.max_epochs=2"}
    entry = {"id": "E22", "steps": {"own": {**step, "quick_train": False}, "both": step}}
    data = {"quick_train": "data.subset_size=5", "experiments": [entry]}
    catalogue.write_text(yaml.safe_dump(data, sort_keys=False))  # steps run in their order
    loaded = load_catalogue(catalogue)
    own, both = loaded.entries["E22"].steps
    commands = [
        step_command(s, tmp_path, {}, 1, loaded.quick_train, quick=True) for s in (own, both)
    ]
    assert "data.subset_size=5" not in commands[0] and "trainer.max_epochs=2" in commands[0]
    assert commands[1][-2:] == ["data.subset_size=5", "trainer.max_epochs=2"]


def test_merge_overrides_replaces_the_same_key_whatever_its_prefix() -> None:
    merged = merge_overrides(
        ["-m", "experiment=x", "trainer.max_epochs=3", "+a=1"],
        ["trainer.max_epochs=1", "++a=2"],
    )
    assert merged == ["-m", "experiment=x", "trainer.max_epochs=1", "++a=2"]


def test_failure_reason_prefers_the_error_line() -> None:
    log = "cmd\nerror: model='resnet' is not a config\n"
    assert failure_reason(log) == "model='resnet' is not a config"
    hydra = "Traceback\nValueError: boom\nSet the environment variable HYDRA_FULL_ERROR=1 for..."
    assert failure_reason(hydra) == "ValueError: boom"


def write_run(
    path: Path, overrides: list[str], metrics: dict | None, failed: str = "", epochs: int = 2
) -> None:
    """A run dir as train leaves it: .hydra/, metrics.json, csv/metrics.csv, failed.txt."""
    (path / ".hydra").mkdir(parents=True)
    (path / ".hydra" / "overrides.yaml").write_text(yaml.safe_dump(overrides))
    (path / ".hydra" / "config.yaml").write_text("seed: 42\n")
    if metrics is not None:
        (path / "metrics.json").write_text(json.dumps(metrics))
    if failed:
        (path / "failed.txt").write_text(failed + "\n")
    (path / "csv").mkdir()
    rows = ["epoch,step,train/loss_epoch,train/acc,val/loss,val/acc"]
    rows += [
        f"{e},{e},{1 / (e + 1)},{0.8 + e / 20},{1 / (e + 2)},{0.8 + e / 30}" for e in range(epochs)
    ]
    (path / "csv" / "metrics.csv").write_text("\n".join(rows) + "\n")


@pytest.fixture(scope="module")
def sweep(tmp_path_factory: pytest.TempPathFactory) -> StepResult:
    """A collected sweep in <out>/E02_widths/train: two finished members, one failed."""
    directory = tmp_path_factory.mktemp("out") / "E02_widths" / "train"
    write_run(directory / "0", ["width=8"], {"test/acc": 0.90, "val/acc_best": 0.91, "params": 100})
    write_run(
        directory / "1", ["width=64"], {"test/acc": 0.98, "val/acc_best": 0.975, "params": 900}
    )
    write_run(directory / "2", ["width=1024"], None, failed="loss became nan at step 3")
    step = Step("train", "train", ("-m", "width=8,64,1024"))
    return collect_step(StepResult(step, ["python", "-m", "x"], directory, returncode=1), Path())


def entry_with(*targets: Target, entry_id: str = "E02") -> Entry:
    return Entry(entry_id, "Width sweep", (Step("train", "train", ()),), targets, name="widths")


def target(**spec) -> Target:
    return parse_target(spec)


def test_collecting_a_sweep_reports_it_and_names_the_failed_member(sweep: StepResult) -> None:
    step = sweep
    assert [run.name for run in step.runs] == ["0", "1", "2"]
    assert step.problem == "1 of 3 runs failed (run 2: loss became nan at step 3)"
    assert "| 1 | 64 |" in step.table
    assert {p.name for p in step.figures} >= {"learning_curves.png", "accuracy_vs_width.png"}
    assert (step.directory / "report.md").is_file()


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


def test_a_step_of_another_module_is_judged_from_its_metrics_json(tmp_path: Path) -> None:
    (tmp_path / "scratch").mkdir()
    (tmp_path / "scratch" / "metrics.json").write_text(json.dumps({"test/acc": 0.93}))
    (tmp_path / "scratch" / "curves.png").write_bytes(b"png")
    step = Step("scratch", "scratch", ("softmax", "--out", "{dir}"))
    command = step_command(step, tmp_path / "scratch", {}, threads=1)
    assert command[2:] == ["mnist_lab.scratch", "softmax", "--out", str(tmp_path / "scratch")]
    collected = collect_step(StepResult(step, command, tmp_path / "scratch", returncode=0), Path())
    assert [p.name for p in collected.figures] == ["curves.png"]
    result = EntryResult(Entry("E20", "Scratch", (step,)), tmp_path, [collected])
    verdict = judge(target(metric="test/acc", at_least=0.9), {"E20": result}, "E20")
    assert (verdict.measured, verdict.status) == (0.93, "met")


def test_index_shows_commands_targets_tables_and_figures_with_relative_links(
    sweep: StepResult,
) -> None:
    out = sweep.directory.parent.parent
    goal = target(metric="test/acc", where={"width": "64"}, at_least=0.975, what="wide enough")
    other = target(metric="test/acc", entry="E03", above=0.5, what="needs E03")
    entry = entry_with(goal, other)
    result = EntryResult(entry, out / entry.slug, [sweep], 75)
    missing = Entry("E03", "Not run", ())
    index = render_index(out, [entry, missing], {"E02": result}, {"commit": "abc"})
    assert "- commit: abc" in index
    assert "| E02 | [Width sweep](#e02_widths) | ok, but train: 1 of 3 runs failed" in index
    assert "| 1 min 15 s | 1 of 2 met, 1 missing |" in index
    assert "| E03 | [Not run](#e03) | not run yet | - | - |" in index
    assert "| wide enough (`test/acc [width=64] >= 0.975`) | " in index
    assert "| 0.9800 | **met** |" in index
    assert "missing: E03 was not run" in index
    assert "Some targets read the runs of [E03](#e03)." in index
    assert "![learning_curves.png](E02_widths/train/learning_curves.png)" in index
    assert "[log](E02_widths/train.log)" in index
    assert "| 1 | 64 |" in index  # the report's table


def test_a_failed_step_marks_the_entry_and_skips_the_steps_after_it(tmp_path: Path) -> None:
    steps = (Step("first", "train", ("model=resnet",)), Step("second", "train", ()))
    result = run_entry(Entry("E99", "Broken", steps, name="broken"), tmp_path, threads=1)
    assert [s.step.name for s in result.steps] == ["first"]
    assert result.status.startswith("failed: first: model='resnet' is not a config in conf/model/")
    assert (tmp_path / "E99_broken" / "first.log").is_file()


HEAVY_IMPORTS_AFTER = """
import sys
from mnist_lab.reproduce import main
try:
    main(sys.argv[1:])
except SystemExit:
    pass
heavy = sorted(m for m in ("torch", "lightning", "torchmetrics") if m in sys.modules)
print("HEAVY:", ",".join(heavy) or "none")
"""


@pytest.mark.parametrize("arguments", [["--help"], ["--dry-run"], ["--dry-run", "--quick"]])
def test_help_and_dry_run_never_import_torch_or_lightning(tmp_path: Path, arguments) -> None:
    result = run_cli("", *arguments, log_dir=tmp_path, code=HEAVY_IMPORTS_AFTER)
    assert result.returncode == 0, result.stderr
    assert "HEAVY: none" in result.stdout
    assert not (tmp_path / "reproduce").exists()


def test_dry_run_prints_every_command_with_its_folder(tmp_path: Path, capsys) -> None:
    assert main(["--dry-run", "--only", "e13", "--out", str(tmp_path / "r")]) == 0
    printed = capsys.readouterr().out
    assert "hparams_search=fashion_mlp hydra.sweeper.n_trials=10" in printed
    assert f"hydra.run.dir={tmp_path / 'r' / 'E13_fashion_mlp' / 'retrain'}" in printed
    assert "planned:" in printed
    assert not (tmp_path / "r").exists()


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        (["--only", "E06,E99"], "error: --only 'E06,E99' names no experiment E99; choose from E01"),
        (["--jobs", "0"], "--jobs: '0' is not accepted; expected an integer >= 1"),
    ],
)
def test_bad_arguments_stop_with_one_line_and_status_2(
    tmp_path: Path, arguments: list[str], message: str
) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "mnist_lab.reproduce", *arguments, "--dry-run"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 2
    assert message in result.stderr


def test_quick_run_of_one_experiment_end_to_end(
    tmp_path: Path, tiny_data_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MNIST_LAB_DATA_DIR", str(tiny_data_dir))
    monkeypatch.setenv("MNIST_LAB_LOG_DIR", str(tmp_path / "outputs"))
    out = tmp_path / "reproduce"
    assert main(["--quick", "--only", "E12", "--out", str(out)]) == 0
    index = (out / "index.md").read_text()
    assert "| E12 | [Dying ReLU on data sorted by label](#e12_dying_relu) | ok |" in index
    assert "quick: not judged" in index and "**met**" not in index
    sweep = out / "E12_dying_relu" / "train"
    for member in ("0", "1"):
        assert json.loads((sweep / member / "metrics.json").read_text())["threads"] >= 1
    assert (sweep / "dead_units.png").stat().st_size > 10_000
    assert "![dead_units.png](E12_dying_relu/train/dead_units.png)" in index
    assert main(["--quick", "--only", "E12", "--out", str(out)]) == 2  # never overwrites
