"""Every bad input and the one line it gets, in one place.

Config rows run in-process through the same checks the command line runs before Hydra starts
(`check_group_choices`, `check_overrides`); data rows load a corrupted copy of the tiny dataset
as a run would. A handful of each then go through the real CLI: exit status 2, exactly one
`error:` line, no traceback, no run directory, and no torch import for config errors.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from mnist_lab import LabError
from mnist_lab.data.datasets import FILE_STEMS, ensure_files
from mnist_lab.data.idx import write_idx
from mnist_lab.runtime.cli import check_group_choices, check_overrides
from tests.helpers import CONF_DIR, compose_config
from tests.helpers.cli import start_cli
from tests.helpers.data import load_data

GROUPS = "choose one of"


def options(group: str) -> str:
    """The options of a config group as the error lists them: its yaml files, sorted."""
    return ", ".join(sorted(p.stem for p in (CONF_DIR / group).glob("*.yaml")))


CONFIG_CASES = [
    # (command-line arguments, the line printed after `error: `)
    (["foo=1"], "foo=1 names no key of the config; add a new key with +foo=1"),
    (
        ["model.net.hiden_dims=[3]"],
        "model.net.hiden_dims=[3] names no key of the config; did you mean model.net.hidden_dims?",
    ),
    (
        ["model=cnn", "model.net.chanels=[8]"],
        "model.net.chanels=[8] names no key of the config; did you mean model.net.channels?",
    ),
    (
        ["-m", "model.optimizer.lrr=0.1,0.01"],
        "model.optimizer.lrr=0.1 names no key of the config; did you mean model.optimizer.lr?",
    ),
    (["~model.foo"], "~model.foo names no key of the config; there is nothing to delete"),
    (
        ["model=resnet"],
        f"model='resnet' is not a config in conf/model/; {GROUPS} {options('model')}",
    ),
    (
        ["data=cifar10"],
        f"data='cifar10' is not a config in conf/data/; {GROUPS} {options('data')}",
    ),
    (["model=mlp,transformer"], "model='transformer' is not a config in conf/model/; "),
    (["data.batch_size=abc"], "data.batch_size='abc' is not accepted; expected an integer >= 1"),
    (["data.batch_size=0"], "data.batch_size=0 is not accepted; expected an integer >= 1"),
    (["data.batch_size=-32"], "data.batch_size=-32 is not accepted; expected an integer >= 1"),
    (["trainer.max_epochs=0"], "trainer.max_epochs=0 is not accepted; expected an integer >= 1"),
    (
        ["trainer.max_epochs=1.5"],
        "trainer.max_epochs=1.5 is not accepted; expected an integer >= 1",
    ),
    (["model.optimizer.lr=-0.1"], "model.optimizer.lr=-0.1 is not accepted; expected a number > 0"),
    (["model.optimizer.lr=0"], "model.optimizer.lr=0 is not accepted; expected a number > 0"),
    (
        ["model.optimizer.weight_decay=-1"],
        "model.optimizer.weight_decay=-1 is not accepted; expected a number >= 0",
    ),
    (["model.l1=-0.5"], "model.l1=-0.5 is not accepted; expected a number >= 0"),
    (
        ["model.net.dropout_p=1.5"],
        "model.net.dropout_p=1.5 is not accepted; expected a number in [0, 1]",
    ),
    (
        ["model=cnn", "model.net.dropout_p=-0.1"],
        "model.net.dropout_p=-0.1 is not accepted; expected a number in [0, 1]",
    ),
    (
        ["model.channels_last=fast"],
        "model.channels_last='fast' is not accepted; expected true or false",
    ),
    (
        ["model.net.hidden_dims=[200,0]"],
        "model.net.hidden_dims=[200, 0] is not accepted; expected a list of integers >= 1 "
        "(may be empty)",
    ),
    (
        ["model.net.activation=swish"],
        "model.net.activation='swish' is not accepted; expected one of relu, tanh, sigmoid, "
        "leaky_relu, elu, prelu",
    ),
    (
        ["model.net.init=ones"],
        "model.net.init='ones' is not accepted; expected one of default, zeros, normal, xavier, he",
    ),
    (
        ["model.optimizer.name=lbfgs"],
        "model.optimizer.name='lbfgs' is not accepted; expected one of sgd, adam, adamw, rmsprop",
    ),
    (
        ["model.scheduler.name=warmup"],
        "model.scheduler.name='warmup' is not accepted; expected one of none, cosine, onecycle, "
        "step",
    ),
    (
        ["data.val_fraction=0"],
        "data.val_fraction=0 is not accepted; expected a number strictly between 0 and 1",
    ),
    (
        ["data.order=random"],
        "data.order='random' is not accepted; expected one of shuffled, by_label, fixed",
    ),
    (
        ["data.subset_size=0"],
        "data.subset_size=0 is not accepted; expected null or an integer >= 1",
    ),
    (
        ["trainer.accelerator=quantum"],
        "trainer.accelerator='quantum' is not accepted; expected one of cpu, gpu, cuda, mps, tpu, "
        "auto",
    ),
    (["seed=abc"], "seed='abc' is not accepted; expected an integer"),
    (
        ["experiment=budget_100", "model.net.hidden_dims=[60,41]"],
        "model.net.hidden_dims=[60, 41] has 101 hidden units; this experiment allows at most "
        "constraints.max_hidden_units=100",
    ),
    (
        ["experiment=budget_200", "model.net.hidden_dims=[200]"],
        "model.net.hidden_dims=[200] has 1 hidden layers; this experiment needs at least "
        "constraints.min_hidden_layers=2",
    ),
    (
        ["experiment=budget_1000", "model.net.hidden_dims=[500,500]"],
        "model.net.hidden_dims=[500, 500] has 2 hidden layers; this experiment needs at least "
        "constraints.min_hidden_layers=3",
    ),
    (
        ["model.optimizer.lr=0.1,abc("],
        "cannot read the override 'model.optimizer.lr=0.1,abc(': mismatched input '<EOF>' "
        "expecting",
    ),
]


def _id(arguments: list[str]) -> str:
    return " ".join(arguments)


@pytest.mark.parametrize(
    ("arguments", "message"), CONFIG_CASES, ids=[_id(a) for a, _ in CONFIG_CASES]
)
def test_bad_config_is_refused_in_one_line(arguments: list[str], message: str) -> None:
    with pytest.raises(LabError) as caught:
        check_group_choices(arguments)
        check_overrides(arguments, "train")
    assert str(caught.value).startswith(message)
    assert "\n" not in str(caught.value)


def test_good_overrides_and_sweeps_pass_the_same_checks() -> None:
    check_overrides(["model=cnn", "model.net.channels=[8]", "+model.scheduler.gamma=0.5"], "train")
    check_overrides(["-m", "model.optimizer.lr=interval(1e-4,1)", "seed=range(1,3)"], "train")
    # A multirun's values are checked member by member, so one bad member fails alone.
    check_overrides(["-m", "model.optimizer.lr=-1,0.1"], "train")


# Data rows: how to break a copy of the tiny MNIST folder, and the start of the line it gets.
def _truncate(raw: Path) -> None:
    path = raw / "train-images-idx3-ubyte"
    path.write_bytes(path.read_bytes()[:-100])


def _short_header(raw: Path) -> None:
    (raw / "train-images-idx3-ubyte").write_bytes(bytes([0, 0, 8, 3, 0, 0]))


def _labels_as_images(raw: Path) -> None:
    shutil.copy(raw / "train-labels-idx1-ubyte", raw / "train-images-idx3-ubyte")


def _text_file(raw: Path) -> None:
    (raw / "t10k-labels-idx1-ubyte").write_text("these are not the labels you are looking for")


def _trailing_bytes(raw: Path) -> None:
    with open(raw / "t10k-labels-idx1-ubyte", "ab") as file:
        file.write(b"\0\0")


def _corrupt_gzip(raw: Path) -> None:
    (raw / "t10k-images-idx3-ubyte").unlink()
    (raw / "t10k-images-idx3-ubyte.gz").write_bytes(b"\x1f\x8b\x08\x00garbage")


def _fewer_labels(raw: Path) -> None:
    write_idx(raw / "train-labels-idx1-ubyte", np.zeros(599, dtype=np.uint8))


def _label_out_of_range(raw: Path) -> None:
    write_idx(raw / "t10k-labels-idx1-ubyte", np.full(200, 12, dtype=np.uint8))


def _missing_file(raw: Path) -> None:
    (raw / "t10k-labels-idx1-ubyte").unlink()


def _no_data_dir(raw: Path) -> None:
    shutil.rmtree(raw.parent.parent)


def _raw_is_a_file(raw: Path) -> None:
    shutil.rmtree(raw)
    raw.write_text("")


DATA_CASES: list[tuple[str, Callable[[Path], None], str]] = [
    (
        "truncated images",
        _truncate,
        "{raw}/train-images-idx3-ubyte is truncated: header says shape (600, 28, 28) (470416 "
        "bytes), file has 470316 bytes",
    ),
    (
        "header cut short",
        _short_header,
        "{raw}/train-images-idx3-ubyte is truncated inside its header (6 bytes)",
    ),
    (
        "wrong magic number",
        _labels_as_images,
        "{raw}/train-images-idx3-ubyte has magic number 0x00000801, expected 0x00000803",
    ),
    (
        "not an IDX file",
        _text_file,
        "{raw}/t10k-labels-idx1-ubyte has magic number 0x74686573, not an IDX file of unsigned "
        "bytes (expected 0x00000801)",
    ),
    (
        "bytes after the data",
        _trailing_bytes,
        "{raw}/t10k-labels-idx1-ubyte is longer than its header says: header says shape (200,) "
        "(208 bytes), file has 210 bytes",
    ),
    ("corrupt gzip", _corrupt_gzip, "cannot read {raw}/t10k-images-idx3-ubyte.gz: "),
    (
        "image/label count mismatch",
        _fewer_labels,
        "{raw}/train-images-idx3-ubyte holds 600 images but {raw}/train-labels-idx1-ubyte holds "
        "599 labels",
    ),
    (
        "label out of range",
        _label_out_of_range,
        "{raw}/t10k-labels-idx1-ubyte has label 12, but mnist has only 10 classes",
    ),
    (
        "a file missing",
        _missing_file,
        "mnist files missing from {raw}: t10k-labels-idx1-ubyte (plain or .gz); set "
        "MNIST_LAB_DATA_DIR or data.data_dir to a folder whose MNIST/raw/ holds them, or set "
        "data.download=true and run with network access to download them",
    ),
    (
        "data dir does not exist",
        _no_data_dir,
        "mnist files missing from {raw}: train-images-idx3-ubyte, train-labels-idx1-ubyte, "
        "t10k-images-idx3-ubyte, t10k-labels-idx1-ubyte (plain or .gz); set MNIST_LAB_DATA_DIR",
    ),
    ("raw folder is a file", _raw_is_a_file, "data directory {raw} is not a directory"),
]


@pytest.mark.parametrize(("name", "corrupt", "message"), DATA_CASES, ids=[c[0] for c in DATA_CASES])
def test_bad_data_is_refused_in_one_line(
    broken_copy: Path, name: str, corrupt: Callable[[Path], None], message: str
) -> None:
    corrupt(broken_copy)
    with pytest.raises(LabError) as caught:
        load_data(broken_copy.parent.parent)
    assert str(caught.value).startswith(message.format(raw=broken_copy))
    assert "\n" not in str(caught.value)


def test_batch_larger_than_the_training_set(broken_copy: Path) -> None:
    with pytest.raises(LabError) as caught:
        load_data(broken_copy.parent.parent, batch_size=1000)
    assert str(caught.value) == (
        "data.batch_size=1000 is larger than the training set (540 samples); use at most 540"
    )


def test_unreadable_data_dir(broken_copy: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    if os.geteuid() == 0:
        # root reads through chmod 000, so the permission check is simulated for that folder.
        real_access = os.access
        monkeypatch.setattr(
            os, "access", lambda path, mode: Path(path) != broken_copy and real_access(path, mode)
        )
    broken_copy.chmod(0)
    try:
        with pytest.raises(LabError) as caught:
            load_data(broken_copy.parent.parent)
    finally:
        broken_copy.chmod(0o755)
    assert str(caught.value) == (
        f"data directory {broken_copy} is not readable (permission denied); give this user read "
        f"access or point data.data_dir / MNIST_LAB_DATA_DIR elsewhere"
    )


def test_unusable_accelerator(tmp_path: Path) -> None:
    torch = pytest.importorskip("torch")
    if torch.cuda.is_available():
        pytest.skip("a GPU is present")
    from mnist_lab.runtime.assemble import build_trainer

    cfg = compose_config("train", ["trainer.accelerator=gpu"], tmp_path)
    with pytest.raises(LabError, match=r"^trainer.accelerator='gpu' cannot be used here: "):
        build_trainer(cfg, [], False)


@pytest.mark.parametrize("mirror", ["checksum mismatch", "connection dropped"])
def test_failed_download_is_one_line_and_leaves_no_file(
    tmp_path: Path, local_mirror, mirror: str
) -> None:
    if mirror == "checksum mismatch":
        spec = replace(local_mirror, gz_md5={stem: "0" * 32 for stem in FILE_STEMS})
        reason = "MD5 checksum mismatch, download deleted"
    else:
        spec = replace(local_mirror, mirrors=(f"{local_mirror.mirrors[0]}drop/",))
        reason = "connection broken during the transfer"
    with pytest.raises(LabError) as caught:
        ensure_files(spec, tmp_path / "fresh", allow_download=True)
    message = str(caught.value)
    raw = tmp_path / "fresh" / "MNIST" / "raw"
    host = spec.mirrors[0].split("/")[2]
    assert message.startswith(f"mnist files missing from {raw}: train-images-idx3-ubyte, ")
    assert message.endswith(f"(the download failed: {host}: {reason})")
    assert "\n" not in message
    assert not (tmp_path / "fresh").exists(), "a partial file or an empty folder was kept"


# Through the real command line: (module, arguments, data breakage or None, line on stderr).
CLI_CASES = [
    ("train", ["foo=1"], None, "error: foo=1 names no key of the config; add a new key"),
    ("train", ["model.optimizer.lr=-1"], None, "error: model.optimizer.lr=-1 is not accepted"),
    ("train", ["model=resnet"], None, "error: model='resnet' is not a config in conf/model/"),
    ("train", ["ckpt_path=last"], None, "error: ckpt_path=last: no run in "),
    # Files and folders that are not what they are given as, refused before Hydra starts.
    (
        "train",
        ["ckpt_path=pyproject.toml"],
        None,
        "error: ckpt_path='pyproject.toml' is not a checkpoint (not a file saved by torch.save)",
    ),
    ("train", ["ckpt_path=no.ckpt"], None, "error: ckpt_path='no.ckpt' does not exist; give a"),
    (
        "train",
        ["paths.log_dir=/proc/mnist_lab"],
        None,
        "error: paths.log_dir /proc/mnist_lab cannot be written: cannot use /proc/mnist_lab: ",
    ),
    (
        "train",
        ["paths.log_dir=pyproject.toml"],
        None,
        "error: paths.log_dir pyproject.toml is a file, not a folder; give a folder",
    ),
    (
        "evaluate",
        ["ckpt_path=/no/such/run"],
        None,
        "error: ckpt_path='/no/such/run' does not exist; give a run directory "
        "(outputs/train/runs/...) or a .ckpt file",
    ),
    # Data errors surface after torch is imported (5 s of CPU per process): one row stands for
    # the rest, which share its code path and are checked in-process above.
    ("train", [], _truncate, "error: {raw}/train-images-idx3-ubyte is truncated"),
]

HEAVY_IMPORTS_AT_EXIT = """
import atexit, runpy, sys
def report():
    heavy = [m for m in ("torch", "lightning") if m in sys.modules]
    print("HEAVY:", ",".join(heavy) or "none")
atexit.register(report)
sys.argv = [sys.argv[1], *sys.argv[2:]]
runpy.run_module(sys.argv[0], run_name="__main__")
"""


def test_the_cli_prints_one_line_exits_2_and_leaves_no_run(
    tmp_path: Path, tiny_data_dir: Path
) -> None:
    """All rows run at once (each is a process of its own), then each is checked."""
    started = []
    for index, (module, arguments, corrupt, line) in enumerate(CLI_CASES):
        data = tmp_path / f"data{index}"
        shutil.copytree(tiny_data_dir / "MNIST", data / "MNIST")
        if corrupt is not None:
            corrupt(data / "MNIST" / "raw")
        outputs = tmp_path / f"outputs{index}"
        command = ["-c", HEAVY_IMPORTS_AT_EXIT, f"mnist_lab.{module}", *arguments]
        if module == "train":
            command.append("data.download=false")
        process = start_cli(command, outputs, data)
        started.append((process, outputs, line.format(raw=data / "MNIST" / "raw"), corrupt))
    for process, outputs, line, corrupt in started:
        stdout, stderr = process.communicate(timeout=300)
        assert process.returncode == 2, stderr[-3000:]
        errors = [text for text in stderr.splitlines() if text.startswith("error:")]
        assert len(errors) == 1 and errors[0].startswith(line), stderr[-3000:]
        assert "Traceback" not in stderr
        assert not outputs.exists(), "a run dir, or the folders made for it, were left"
        if corrupt is None:  # config errors stop before torch is imported
            assert "HEAVY: none" in stdout


OFFLINE = """
import runpy, socket, sys
def no_network(*args, **kwargs):
    raise socket.gaierror(socket.EAI_AGAIN, "Temporary failure in name resolution")
socket.getaddrinfo = no_network
sys.argv = ["mnist_lab.train", *sys.argv[1:]]
runpy.run_module("mnist_lab.train", run_name="__main__")
"""


def test_an_offline_first_run_says_what_to_do_and_leaves_nothing(tmp_path: Path) -> None:
    """A new user's first `python -m mnist_lab.train`: no data dir set, no network."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("MNIST_LAB_")}
    result = subprocess.run(
        [sys.executable, "-c", OFFLINE, "threads=1"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 2, result.stderr[-3000:]
    lines = result.stderr.splitlines()
    raw = tmp_path / "data" / "MNIST" / "raw"
    assert lines[0] == f"downloading 4 mnist file(s) into {raw}"
    assert lines[1:] == [
        f"error: mnist files missing from {raw}: {', '.join(FILE_STEMS)} (plain or .gz); set "
        "MNIST_LAB_DATA_DIR or data.data_dir to a folder whose MNIST/raw/ holds them, or run "
        "again with network access to download them (the download failed: "
        "ossci-datasets.s3.amazonaws.com, yann.lecun.com: host not found, no network?)"
    ]
    assert list(tmp_path.iterdir()) == [], "no data folder and no outputs/ may be left"
