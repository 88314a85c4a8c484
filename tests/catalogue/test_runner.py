"""The runner: every step's command, overrides merged, steps run and collected, failures named."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest
import yaml
from hydra import compose, initialize_config_dir

from mnist_lab.catalogue.judge import judge
from mnist_lab.catalogue.runner import (
    EntryResult,
    Plan,
    StepResult,
    collect_step,
    failure_reason,
    merge_overrides,
    run_entry,
    step_command,
)
from mnist_lab.catalogue.schema import Entry, Step, load_catalogue
from mnist_lab.runtime.rules import check_config
from tests.helpers import CONF_DIR

from .conftest import target, write_run

CATALOGUE = load_catalogue()
TRAIN_STEPS = [
    pytest.param(entry, step, id=f"{entry.id}-{step.name}")
    for entry in CATALOGUE.entries.values()
    for step in entry.steps
    if step.module == "train"
]
SCRATCH_STEPS = [
    pytest.param(entry, step, id=f"{entry.id}-{step.name}")
    for entry in CATALOGUE.entries.values()
    for step in entry.steps
    if step.module == "scratch"
]


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
    earlier = {other.name: tmp_path / other.name for other in entry.steps}  # `{search}` etc.
    command = step_command(step, tmp_path / "dir", earlier, 1, CATALOGUE.quick_train, quick)
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


@pytest.mark.parametrize("quick", [False, True], ids=["full", "quick"])
@pytest.mark.parametrize(("entry", "step"), SCRATCH_STEPS)
def test_every_numpy_step_gets_its_run_dir_and_one_thread(
    entry: Entry, step: Step, quick: bool, tmp_path: Path
) -> None:
    """The NumPy classifiers are a Hydra app too: their steps are run and reported like train's."""
    command = step_command(step, tmp_path / "dir", {}, 1, CATALOGUE.quick_train, quick)
    assert command[:3] == [sys.executable, "-m", "mnist_lab.scratch"]
    flag = "hydra.sweep.dir" if step.multirun else "hydra.run.dir"
    assert command.count(f"{flag}={tmp_path / 'dir'}") == 1
    with initialize_config_dir(str(CONF_DIR / "scratch"), version_base="1.3"):
        cfg = compose("scratch", overrides=composable(command[3:]))
    check_config(cfg, "scratch")
    assert cfg.threads == 1 and cfg.progress is False
    assert not [a for a in command if a.startswith(("trainer.", "++trainer."))]
    if quick:
        assert cfg.max_epochs == 1


def test_full_budgets_keep_what_the_targets_rest_on(tmp_path: Path) -> None:
    def composed(entry_id: str, step_index: int = 0):
        steps = CATALOGUE.entries[entry_id].steps
        earlier = {other.name: tmp_path / other.name for other in steps}
        command = step_command(steps[step_index], tmp_path, earlier, 1)
        with initialize_config_dir(str(CONF_DIR), version_base="1.3"):
            return compose("train", overrides=composable(command[3:]))

    cnn = composed("E07")  # the seed fixes 10 epochs at batch 32
    assert (cnn.trainer.max_epochs, cnn.data.batch_size, cnn.data.subset_size) == (10, 32, None)
    assert composed("E08").data.subset_size == 10000
    assert composed("E13", 1).trainer.max_epochs == 10  # the retrain is not shrunk
    # E14's candidates and its final runs train as long as E13's retrain: a like-for-like test.
    assert composed("E14", 0).trainer.max_epochs == composed("E14", 1).trainer.max_epochs == 10
    assert composed("E18").trainer.max_epochs == 30


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


def test_collecting_a_sweep_reports_it_and_names_the_failed_member(sweep: StepResult) -> None:
    step = sweep
    assert [run.name for run in step.runs] == ["0", "1", "2"]
    assert step.problem == "1 of 3 runs failed (run 2: loss became nan at step 3)"
    assert "| 1 | 64 |" in step.table
    assert {p.name for p in step.figures} >= {"learning_curves.png", "accuracy_vs_width.png"}
    assert (step.directory / "report.md").is_file()


def test_a_step_of_another_module_is_judged_from_its_metrics_json(tmp_path: Path) -> None:
    (tmp_path / "toy").mkdir()
    (tmp_path / "toy" / "metrics.json").write_text(json.dumps({"test/acc": 0.93}))
    (tmp_path / "toy" / "curves.png").write_bytes(b"png")
    step = Step("toy", "scratch.toy", ("softmax", "--out", "{dir}"))
    command = step_command(step, tmp_path / "toy", {}, threads=1)
    assert command[2:] == ["mnist_lab.scratch.toy", "softmax", "--out", str(tmp_path / "toy")]
    collected = collect_step(StepResult(step, command, tmp_path / "toy", returncode=0), Path())
    assert [p.name for p in collected.figures] == ["curves.png"]
    result = EntryResult(Entry("E21", "Toy", (step,)), tmp_path, [collected])
    verdict = judge(target(metric="test/acc", at_least=0.9), {"E21": result}, "E21")
    assert (verdict.measured, verdict.status) == (0.93, "met")


def test_a_failed_step_marks_the_entry_and_skips_the_steps_after_it(tmp_path: Path) -> None:
    steps = (Step("first", "train", ("model=resnet",)), Step("second", "train", ()))
    result = run_entry(Entry("E99", "Broken", steps, name="broken"), Plan(tmp_path, threads=1))
    assert [s.step.name for s in result.steps] == ["first"]
    assert result.status.startswith("failed: first: model='resnet' is not a config in conf/model/")
    assert (tmp_path / "E99_broken" / "first.log").is_file()


def test_an_entry_after_others_reads_their_step_folders(tmp_path: Path) -> None:
    e28 = CATALOGUE.entries["E28"]
    plan = Plan(tmp_path, threads=1, entries=CATALOGUE.entries)
    [(_, directory, command)] = plan.commands(e28)
    slugs = {other: CATALOGUE.entries[other].slug for other in e28.after}
    assert command[2:] == [
        "mnist_lab.report",
        str(tmp_path / slugs["E03"] / "train"),
        "--versus",
        str(tmp_path / slugs["E02"] / "train"),
        "--out",
        str(directory),
        "--without",
        "model.optimizer.weight_decay=0",
    ]


@pytest.mark.parametrize(
    ("after", "message"),
    [(["E99"], "after: 'E99' is not an entry"), (["E02"], "after: 'E02' is not an entry")],
)
def test_after_must_name_entries_without_an_after_of_their_own(
    tmp_path: Path, after: list[str], message: str
) -> None:
    entries = [
        {"id": "E01", "steps": {"train": "train"}},
        {"id": "E02", "steps": {"train": "train"}, "after": ["E01"]},
        {"id": "E03", "steps": {"compare": "report {E02/train}"}, "after": after},
    ]
    path = tmp_path / "catalogue.yaml"
    path.write_text(yaml.safe_dump({"experiments": entries}))
    with pytest.raises(Exception, match=f"E03: {message}.*choose from E01"):
        load_catalogue(path)


def test_a_step_of_another_module_shows_its_report_md_in_the_index(tmp_path: Path) -> None:
    (tmp_path / "compare").mkdir()
    (tmp_path / "compare" / "report.md").write_text("Yes, as far as n=3 seeds tell: ...\n")
    step = Step("compare", "report", ("a", "--versus", "b"))
    collected = collect_step(StepResult(step, [], tmp_path / "compare", returncode=0), Path())
    assert collected.table.startswith("Yes, as far as n=3 seeds tell")
    assert collected.runs == []


def test_a_step_over_seeds_shows_the_groups_and_folds_every_run_away(tmp_path: Path) -> None:
    directory = tmp_path / "E03_l2" / "train"
    for index, (decay, seed) in enumerate([(d, s) for d in ("0", "1e-4") for s in (1, 2, 3)]):
        metrics = {"test/acc": 0.97 + 0.001 * index, "val/acc_best": 0.975, "params": 10}
        write_run(directory / str(index), [f"wd={decay}", f"seed={seed}"], metrics)
    step = Step("train", "train", ("-m",))
    collected = collect_step(StepResult(step, [], directory, returncode=0), Path())
    groups, _, folded = collected.table.partition("<details><summary>every run (6)</summary>")
    assert "(n=3)" in groups and "| 1e-4 |" in groups
    assert folded.count("\n| ") >= 6 and folded.rstrip().endswith("</details>")


def test_a_sweep_shows_its_first_finished_runs_own_figures(tmp_path: Path) -> None:
    directory = tmp_path / "E17_code" / "train"
    for index in range(3):
        # member 0 stopped before its test; 1 is the first run that finished
        finished = {"test/loss": 0.05} if index else None
        write_run(directory / str(index), [f"seed={index + 1}"], finished, "" if index else "nan")
        (directory / str(index) / "code_vs_pca.png").write_bytes(b"png")
    step = Step("train", "train", ("-m",), first_run_figures=("code_vs_pca.png", "absent.png"))
    collected = collect_step(StepResult(step, [], directory, returncode=0), Path())
    assert directory / "1" / "code_vs_pca.png" in collected.figures
    assert not any(figure.parent.name in ("0", "2") for figure in collected.figures)
    assert not any(figure.name == "absent.png" for figure in collected.figures)


def test_a_single_runs_per_class_table_is_shown_beside_its_report(tmp_path: Path) -> None:
    run = tmp_path / "E29_errors" / "mnist"
    write_run(run, ["ckpt_path=x"], {"test/acc": 0.99})
    (run / "per_class.md").write_text("Per-class results\n\n| class | recall |\n|---|---:|\n")
    sweep = tmp_path / "E01" / "train"
    for index in range(2):
        write_run(sweep / str(index), [f"seed={index}"], {"test/acc": 0.99})
        (sweep / str(index) / "per_class.md").write_text("Per-class results\n")
    step = Step("mnist", "evaluate", ())
    single = collect_step(StepResult(step, [], run, returncode=0), Path())
    assert single.table.rstrip().endswith("| class | recall |\n|---|---:|")
    several = collect_step(StepResult(Step("train", "train", ("-m",)), [], sweep, 0), Path())
    assert "Per-class results" not in several.table  # a sweep's members keep theirs
