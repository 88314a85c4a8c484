"""The one error path and the files it guards, unit by unit (no training).

Checkpoints that are not what they claim, damaged run-dir files, folders that cannot be
written, an in-place resume that fails, a loss that explodes, a run dir held by another
process: each names the file or value and what is wrong in one line.
"""

from __future__ import annotations

import errno
import os
import subprocess
import sys
import zipfile
from pathlib import Path
from types import SimpleNamespace

import pytest
import torch

from mnist_lab import LabError
from mnist_lab.callbacks import BoundedLoss
from mnist_lab.data.datasets import DATASET_SPECS, load_split
from mnist_lab.nets.mlp import MLP
from mnist_lab.report import main as report_main
from mnist_lab.runtime.atomic import atomic_write
from mnist_lab.runtime.checkpoints import check_fits, read_checkpoint
from mnist_lab.runtime.cli import (
    SweepMemberFailed,
    check_writable,
    exit_status,
    os_error_text,
    sweep_summary,
)
from mnist_lab.runtime.resume import end_attempt, resume_arguments
from mnist_lab.runtime.rundir import RunDir, UnreadableFile, checkpoint_problem
from tests.helpers import ROOT
from tests.helpers.data import write_dataset
from tests.helpers.run_dirs import write_run, write_sweep


def error_lines(text: str) -> list[str]:
    return [line for line in text.splitlines() if line.startswith("error:")]


def test_every_error_is_one_line_with_its_exit_status(tmp_path: Path, capsys) -> None:
    cases = [
        (LabError("data.batch_size=0 is not accepted"), 2, "data.batch_size=0 is not accepted"),
        (
            PermissionError(errno.EACCES, "Permission denied", "/srv/outputs"),
            2,
            "cannot use /srv/outputs: Permission denied",
        ),
        (MemoryError(), 2, "out of memory; try a smaller model or data.batch_size"),
        (KeyboardInterrupt(), 130, "interrupted by SIGINT (Ctrl-C)"),
    ]
    for error, status, line in cases:
        assert exit_status(error) == status
        assert error_lines(capsys.readouterr().err) == [f"error: {line}"]

    try:
        {}["missing"]
    except KeyError as error:
        assert exit_status(error, traceback_dir=tmp_path) == 1
    (line,) = error_lines(capsys.readouterr().err)
    saved = tmp_path / "traceback.txt"
    assert line == (
        f"error: internal error (KeyError: 'missing'); the full traceback is in {saved}; "
        f"HYDRA_FULL_ERROR=1 prints it here"
    )
    assert saved.read_text().startswith("Traceback (most recent call last)")
    assert "KeyError: 'missing'" in saved.read_text()


def test_an_internal_error_outside_a_run_saves_its_traceback_in_a_temporary_file(capsys) -> None:
    assert exit_status(ZeroDivisionError("division by zero")) == 1
    (line,) = error_lines(capsys.readouterr().err)
    saved = Path(line.split("the full traceback is in ")[1].split(";")[0])
    assert saved.name.endswith("traceback.txt") and "ZeroDivisionError" in saved.read_text()
    saved.unlink()


def test_a_full_disk_names_the_file_and_leaves_no_partial_one(tmp_path: Path) -> None:
    target = tmp_path / "checkpoints" / "last.ckpt"

    def fill_the_disk(file) -> None:
        file.write(b"half a checkpoint")
        raise OSError(errno.ENOSPC, "No space left on device")

    with pytest.raises(OSError) as caught:
        atomic_write(target, fill_the_disk)
    assert os_error_text(caught.value) == f"cannot use {target}: No space left on device"
    assert list(target.parent.iterdir()) == []  # neither the file nor its temporary


def torch_file(path: Path, payload: object) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    torch.save(payload, path)
    return path


def test_checkpoint_files_say_what_they_are(tmp_path: Path) -> None:
    good = torch_file(tmp_path / "good.ckpt", {"state_dict": {"w": torch.ones(2)}})
    truncated = tmp_path / "truncated.ckpt"
    truncated.write_bytes(good.read_bytes()[:300])
    text = tmp_path / "notes.ckpt"
    text.write_text("a checkpoint, honest\n")
    random = tmp_path / "random.ckpt"
    random.write_bytes(os.urandom(3000))
    empty = tmp_path / "empty.ckpt"
    empty.touch()
    other_zip = tmp_path / "other.ckpt"
    with zipfile.ZipFile(other_zip, "w") as archive:
        archive.writestr("readme.txt", "hello")
    assert checkpoint_problem(good) is None
    assert checkpoint_problem(tmp_path / "missing.ckpt") == "does not exist"
    assert checkpoint_problem(tmp_path) == "is not a file"
    assert checkpoint_problem(empty) == "is empty (0 bytes)"
    for path in (text, random):
        assert checkpoint_problem(path) == "is not a checkpoint (not a file saved by torch.save)"
    assert checkpoint_problem(truncated) == (
        "is truncated or damaged (its zip directory is unreadable)"
    )
    assert checkpoint_problem(other_zip) == "is a zip file but not a checkpoint (no data.pkl)"

    assert read_checkpoint(good)["state_dict"]["w"].tolist() == [1.0, 1.0]
    with pytest.raises(LabError, match=r"^ckpt_path='.*random.ckpt' is not a checkpoint \("):
        read_checkpoint(random)
    plain = torch_file(tmp_path / "plain.ckpt", {"weights": torch.ones(2)})
    with pytest.raises(LabError, match=r"is a torch file but not a Lightning checkpoint"):
        read_checkpoint(plain)


class Recipe(torch.nn.Module):
    """Test stand-in for a LightningModule: a recipe holding its net as `.net`."""

    def __init__(self, hidden_dims: list[int]) -> None:
        super().__init__()
        self.net = MLP(hidden_dims=hidden_dims)


def test_a_checkpoint_of_another_model_or_other_sizes_is_refused(tmp_path: Path) -> None:
    ours = Recipe([16])
    fitting = {"hyper_parameters": {"net": {"_target_": "mnist_lab.nets.mlp.MLP"}}}
    check_fits({**fitting, "state_dict": ours.state_dict()}, ours, "run.ckpt")

    gan = {"hyper_parameters": {"net": {"_target_": "mnist_lab.nets.gan.DenseGAN"}}}
    with pytest.raises(LabError) as caught:
        check_fits({**gan, "state_dict": {}}, ours, "gan.ckpt")
    assert str(caught.value) == (
        "ckpt_path='gan.ckpt' is a checkpoint of model DenseGAN; this config builds model MLP"
    )
    wider = Recipe([32]).state_dict()
    with pytest.raises(LabError) as caught:
        check_fits({**fitting, "state_dict": wider}, ours, "wide.ckpt")
    key = next(k for k in wider if k.endswith("weight"))
    assert str(caught.value).startswith(
        f"ckpt_path='wide.ckpt' is a checkpoint of a MLP of other sizes: {key} is "
        f"{list(wider[key].shape)} there, {list(ours.state_dict()[key].shape)} in this config"
    )


def finished_run(path: Path) -> Path:
    write_run(path, ["seed=1"], [0.9], [8], params=100, test_acc=0.9)
    torch_file(path / "checkpoints" / "last.ckpt", {"epoch": 0})
    torch_file(path / "checkpoints" / "best.ckpt", {"epoch": 0})
    return path


DAMAGES = [
    # (file, what is written into it, the start of the one line that names it)
    ("metrics.json", "[1, 2]", "metrics.json holds a list, not an object"),
    ("metrics.json", '{"val/acc": null}', "metrics.json: val/acc is null, not a number"),
    ("metrics.json", '{"params": 10, "val/ac', "metrics.json is not JSON"),
    (".hydra/config.yaml", "model: [unclosed\n", ".hydra/config.yaml is not YAML at line 2"),
    (".hydra/config.yaml", "- a list\n", ".hydra/config.yaml is not a config (a YAML mapping)"),
    (".hydra/overrides.yaml", "[: bad", ".hydra/overrides.yaml is not YAML at line 1"),
    (".hydra/overrides.yaml", "seed: 3\n", ".hydra/overrides.yaml is not a list of key=value"),
    ("checkpoints/last.ckpt", "text", "checkpoints/last.ckpt is not a checkpoint"),
]


@pytest.mark.parametrize(("name", "content", "line"), DAMAGES)
def test_a_damaged_run_file_is_named_by_report_and_resume(
    tmp_path: Path, name: str, content: str, line: str, capsys
) -> None:
    run = finished_run(tmp_path / "train" / "runs" / "2026-01-01_10-00-00-000001")
    (run / name).write_text(content)
    if not name.endswith(".ckpt"):
        read = RunDir(run).read()
        assert read.status == "unreadable" and line in read.reason
        assert report_main([str(run)]) == 0
        output = capsys.readouterr()
        assert output.err.splitlines() == [f"warning: skipped {run}: {read.reason}"]
        assert f"unreadable: {read.reason}" in (run / "report.md").read_text()
        (run / "report.md").unlink(), (run / "report.csv").unlink()
        for figure in run.glob("*.png"):
            figure.unlink()
    before = {p: p.read_bytes() for p in run.rglob("*") if p.is_file()}
    with pytest.raises(UnreadableFile) as caught:
        resume_arguments([f"ckpt_path={run}", "trainer.max_epochs=9"])
    assert line in str(caught.value) and "\n" not in str(caught.value)
    assert {p: p.read_bytes() for p in run.rglob("*") if p.is_file()} == before


def test_resuming_a_finished_run_says_so_and_changes_nothing(tmp_path: Path, capsys) -> None:
    run = finished_run(tmp_path / "run")
    before = {p: p.read_bytes() for p in run.rglob("*") if p.is_file()}
    for extra in ([], ["model=cnn"], ["trainer.max_epochs=3"]):  # the run has 3 epochs
        with pytest.raises(SystemExit) as stopped:
            resume_arguments([f"ckpt_path={run}", *extra])
        assert stopped.value.code == 0
        assert capsys.readouterr().out == (
            f"{run} is finished (test/acc 0.9000); nothing was run and nothing changed. To "
            f"train it on, add trainer.max_epochs=N with N > 3\n"
        )
    assert {p: p.read_bytes() for p in run.rglob("*") if p.is_file()} == before


def test_a_failed_attempt_on_a_finished_run_puts_back_every_byte(tmp_path: Path) -> None:
    run = finished_run(tmp_path / "run")
    before = {p: p.read_bytes() for p in run.rglob("*") if p.is_file()}
    arguments = resume_arguments([f"ckpt_path={run}", "trainer.max_epochs=5"])
    assert arguments[-2:] == [f"ckpt_path='{run}/checkpoints/last.ckpt'", f"hydra.run.dir='{run}'"]
    # What Hydra and a failing task would do to it: rewrite, append, add.
    (run / ".hydra" / "overrides.yaml").write_text("- trainer.max_epochs=5\n")
    (run / "csv" / "metrics.csv").write_text("epoch\n")
    (run / "failed.txt").write_text("it failed\n")
    torch_file(run / "checkpoints" / "last.ckpt", {"epoch": 4})
    assert end_attempt(failed=True) is True
    assert {p: p.read_bytes() for p in run.rglob("*") if p.is_file()} == before
    assert end_attempt(failed=True) is False  # nothing under way any more


def test_an_unfinished_run_keeps_the_epochs_a_failed_attempt_trained(tmp_path: Path) -> None:
    run = finished_run(tmp_path / "run")
    (run / "metrics.json").unlink()  # killed: no final numbers
    resume_arguments([f"ckpt_path={run}"])
    torch_file(run / "checkpoints" / "last.ckpt", {"epoch": 2})  # trained on, then failed
    assert end_attempt(failed=True) is False
    assert torch.load(run / "checkpoints" / "last.ckpt")["epoch"] == 2


def test_a_kill_during_the_first_save_resumes_from_what_is_whole(tmp_path: Path, capsys) -> None:
    run = finished_run(tmp_path / "run")
    (run / "metrics.json").unlink()
    (run / "checkpoints" / "last.ckpt").rename(run / "checkpoints" / ".last.ckpt.x1y2.tmp")
    arguments = resume_arguments([f"ckpt_path={run}"])
    end_attempt(failed=False)
    assert f"ckpt_path='{run}/checkpoints/best.ckpt'" in arguments
    assert f"resuming {run} from checkpoints/best.ckpt" in capsys.readouterr().out
    assert sorted(p.name for p in (run / "checkpoints").iterdir()) == ["best.ckpt"]

    (run / "checkpoints" / "best.ckpt").unlink()  # killed before any checkpoint
    arguments = resume_arguments([f"ckpt_path={run}"])
    end_attempt(failed=False)
    assert "ckpt_path=null" in arguments and arguments[0] == "seed=1"
    assert f"resuming {run} from the start: it saved no complete checkpoint" in (
        capsys.readouterr().out
    )
    assert sorted(p.name for p in run.iterdir()) == [".hydra"]  # the old attempt's files go


HOLD_LOCK = """
import sys, time
from mnist_lab.runtime.rundir import RunDir
RunDir(sys.argv[1]).lock()
print("locked", flush=True)
time.sleep(60)
"""


def test_a_second_process_on_a_run_dir_is_refused(tmp_path: Path) -> None:
    run = finished_run(tmp_path / "run")
    (run / "metrics.json").unlink()
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLD_LOCK, str(run)], cwd=ROOT, stdout=subprocess.PIPE, text=True
    )
    try:
        assert holder.stdout.readline() == "locked\n"
        with pytest.raises(LabError) as caught:
            resume_arguments([f"ckpt_path={run}"])
        assert str(caught.value) == (
            f"{run} is in use by another process (a run or resume of it is still going); wait "
            f"for it to end, or stop it first"
        )
    finally:
        holder.kill()
        holder.wait()
    RunDir(run).lock()  # free again once that process ended; held twice by one process is fine
    RunDir(run).lock()


def test_output_folders_that_cannot_be_written_are_named(tmp_path: Path) -> None:
    a_file = tmp_path / "a_file"
    a_file.write_text("")
    with pytest.raises(LabError, match=rf"^--out {a_file} is a file, not a folder; give a folder$"):
        check_writable(a_file, "--out")
    with pytest.raises(LabError) as caught:
        check_writable(a_file / "below", "paths.log_dir")
    assert str(caught.value) == (
        f"paths.log_dir {a_file}/below cannot be written: cannot use {a_file}/below: Not a "
        f"directory"
    )
    with pytest.raises(LabError, match=r"^paths.log_dir /proc/mnist_lab/x cannot be written: "):
        check_writable("/proc/mnist_lab/x", "paths.log_dir")
    check_writable(tmp_path / "new" / "deeper", "--out")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a_file"]  # made only to try


def test_a_loss_that_explodes_while_finite_stops_like_nan() -> None:
    guard = BoundedLoss(check_every_n_steps=20)
    net = torch.nn.Linear(2, 2)
    optimizer = torch.optim.Adam(net.parameters(), lr=1e8)
    trainer = SimpleNamespace(optimizers=[optimizer], global_step=0, current_epoch=0)
    guard.on_train_batch_start(trainer, net, None, batch_idx=0)
    guard.on_train_batch_end(trainer, net, torch.tensor(2.3), None, batch_idx=0)
    guard.on_train_batch_end(trainer, net, torch.tensor(5e4), None, batch_idx=7)  # not checked
    guard.on_train_batch_end(trainer, net, torch.tensor(2e4), None, batch_idx=20)  # < 10^4 * 2.3
    trainer.global_step = 40
    with pytest.raises(LabError) as caught:
        guard.on_train_batch_end(trainer, net, torch.tensor(4.67e25), None, batch_idx=40)
    assert str(caught.value).startswith(
        "training loss became 4.67e+25 (over 10000 times its first value 2.3) at step 40 "
        "(epoch 0) with learning rate 1e+08;"
    )
    # Between two checks: the save refuses an exploded model too.
    guard.on_train_batch_end(trainer, net, torch.tensor(1e9), None, batch_idx=41)
    with pytest.raises(LabError, match=r"^training loss became 1e\+09 \(over 10000 times"):
        guard.on_save_checkpoint(trainer, net, {})


def test_a_sweep_with_failed_members_ends_in_one_summary_line(tmp_path: Path) -> None:
    sweep = write_sweep(tmp_path)
    line = sweep_summary(SweepMemberFailed(str(sweep), "loss became NaN at epoch 2"))
    assert line == (
        f"1 of 3 sweep members failed (2); their reasons are in <member>/failed.txt under "
        f"{sweep}, and python -m mnist_lab.report {sweep} lists them"
    )
    gone = SweepMemberFailed(str(tmp_path / "gone"), "loss became NaN at epoch 2")
    assert sweep_summary(gone) == "a sweep member failed: loss became NaN at epoch 2"


def test_odd_data_counts_warn_once_and_an_empty_split_is_refused(tmp_path: Path, capsys) -> None:
    spec = DATASET_SPECS["mnist"]
    write_dataset(tmp_path, spec.folder, 30, 0, seed=1, gz=False)
    raw = tmp_path / spec.folder / "raw"
    for _ in range(2):
        images, _ = load_split(spec, tmp_path, "train")
    assert len(images) == 30
    assert capsys.readouterr().err.splitlines() == [
        f"warning: {raw}/train-images-idx3-ubyte holds 30 images; the official mnist train set "
        f"has 60000 (files swapped, or not the official ones?)"
    ]
    with pytest.raises(LabError) as caught:
        load_split(spec, tmp_path, "test")
    assert str(caught.value) == (
        f"{raw}/t10k-images-idx3-ubyte holds no images: the mnist test split is empty"
    )
