"""Hostile config values and inputs (issue 15, classes 1, 2, 7, 8 and 9): every leaf key of
every composed config has a rule; shapes, sizes, data files and the NumPy half's divergence
each get one line.

Unit tests call the checks directly; a handful of rows then go through the real command line
together (each a process of its own): exit status 2, one `error:` line, no traceback, no run.
"""

from __future__ import annotations

import gzip
from pathlib import Path

import numpy as np
import pytest

from mnist_lab import LabError
from mnist_lab.data.idx import write_idx
from mnist_lab.runtime import rules
from mnist_lab.runtime.cli import check_flags, check_overrides
from mnist_lab.runtime.rules import ConfigError, check_config
from tests.helpers import CONF_DIR, compose_config
from tests.helpers.cli import start_cli
from tests.helpers.data import load_data

SCRATCH_DIR = CONF_DIR / "scratch"


def _stems(folder: Path) -> list[str]:
    return sorted(p.stem for p in folder.glob("*.yaml"))


def _compositions() -> list[tuple[str, Path, list[str]]]:
    """(app, config folder, overrides): every option of the groups each app composes, but the
    train models, data and experiments (tests/runtime/test_rules.py composes those)."""
    train = [
        [f"{group}={option}"]
        for group in ("hparams_search", "trainer", "logger", "callbacks", "debug")
        for option in _stems(CONF_DIR / group)
    ]
    # the regularisers are arms of one experiment, chosen within it
    train += [
        ["experiment=cnn_regularisers", f"regularisers={arm}"]
        for arm in _stems(CONF_DIR / "regularisers")
    ]
    return [
        *(("train", CONF_DIR, overrides) for overrides in train),
        ("evaluate", CONF_DIR, ["ckpt_path=outputs/train/runs/x"]),
        *(("visualize", CONF_DIR, [f"data={d}"]) for d in ("mnist", "fashion_mnist")),
        *(("scratch", SCRATCH_DIR, [f"model={m}"]) for m in _stems(SCRATCH_DIR / "model")),
        *(
            ("scratch", SCRATCH_DIR, [f"experiment={e}"])
            for e in _stems(SCRATCH_DIR / "experiment")
        ),
        ("toy", SCRATCH_DIR, []),
    ]


def _compose(app: str, conf_dir: Path, overrides: list[str], tmp_path: Path):
    from hydra import compose, initialize_config_dir

    with initialize_config_dir(str(conf_dir), version_base="1.3"):
        cfg = compose(app, overrides=overrides)
    cfg.paths.output_dir = str(tmp_path)
    return cfg


def test_every_leaf_key_of_every_composed_config_has_a_rule(tmp_path: Path) -> None:
    """What "every value has a type and a range" means: a key added to a yaml without a rule
    in runtime/rules.py fails here, naming it. Every shipped config passes its rules."""
    unruled = set()
    for app, conf_dir, overrides in _compositions():
        cfg = _compose(app, conf_dir, overrides, tmp_path)
        check_config(cfg, app)
        unruled.update(f"{app}: {key}" for key in rules.unruled_keys(cfg, app))
    assert sorted(unruled) == []


# (app, overrides, the line after `error: `): classes 1 and 2, each refused before anything runs
CONFIG_CASES = [
    # network shapes that cannot work
    (
        "train",
        ["model=cnn", "model.net.channels=[8,8,8,8,8,8]"],
        "model.net.channels=[8, 8, 8, 8, 8, 8]: 6 blocks, each ending in a 2x2 pool, shrink 28x28 "
        "to 0x0; at most 4 fit (fewer blocks, or model.net.pool=null)",
    ),
    (
        "train",
        ["model=cnn", "model.net.pool=3", "model.net.channels=[8,8,8,8]"],
        "model.net.channels=[8, 8, 8, 8]: 4 blocks, each ending in a 3x3 pool, shrink 28x28 to "
        "0x0; at most 3 fit",
    ),
    (
        "train",
        ["model=cnn", "model.net.kernel_size=40"],
        "model.net.kernel_size=40 with model.net.padding=1 shrinks the 28x28 images to nothing in "
        "block 1 of model.net.channels=[32, 64]",
    ),
    (
        "train",
        [
            "model=cnn",
            "model.net.kernel_size=9",
            "model.net.padding=0",
            "model.net.pool=null",
            "model.net.channels=[8,8,8,8]",
        ],
        "model.net.kernel_size=9 with model.net.padding=0 shrinks the 28x28 images to nothing in "
        "block 4 of model.net.channels=[8, 8, 8, 8]",
    ),
    (
        "train",
        ["model=cnn", "model.net.kernel_size=0"],
        "model.net.kernel_size=0 is not accepted; expected an integer >= 1",
    ),
    (
        "train",
        ["model=cnn", "model.net.padding=-1"],
        "model.net.padding=-1 is not accepted; expected an integer >= 0",
    ),
    (
        "train",
        ["model=cnn", "model.net.channels=[8,[]]"],
        "model.net.channels=[8, []] is not accepted; expected a list of blocks",
    ),
    (
        "train",
        ["model=dcgan", "model.net.channels=[8]"],
        "model.net.channels=[8] is not accepted; expected an integer >= 1",
    ),
    (
        "train",
        ["model=autoencoder", "model.net.code_size=-2"],
        "model.net.code_size=-2 is not accepted; expected an integer >= 1",
    ),
    (
        "train",
        ["model=gan", "model.net.latent_dim=0"],
        "model.net.latent_dim=0 is not accepted; expected an integer >= 1",
    ),
    (
        "train",
        ["model.net.init=normal", "model.net.init_std=-1"],
        "model.net.init_std=-1 is not accepted; expected a number >= 0",
    ),
    # values of the wrong type or out of range
    (
        "train",
        ["data.normalize=maybe"],
        "data.normalize='maybe' is not accepted; expected true or false",
    ),
    (
        "train",
        ["model.net.batch_norm=3"],
        "model.net.batch_norm=3 is not accepted; expected true or false",
    ),
    (
        "train",
        ["data.download=1"],
        "data.download=1 is not accepted; expected true or false",
    ),
    (
        "train",
        ["trainer.check_val_every_n_epoch=0"],
        "trainer.check_val_every_n_epoch=0 is not accepted; expected null or an integer >= 1",
    ),
    (
        "train",
        ["trainer.precision=13"],
        "trainer.precision=13 is not accepted; expected one of 64, 32, 16, bf16,",
    ),
    (
        "train",
        ["trainer.precision=half"],
        "trainer.precision='half' is not accepted; expected one of",
    ),
    (
        "train",
        ["trainer.devices=0"],
        "trainer.devices=0 is not accepted; expected an integer >= 1, -1",
    ),
    (
        "train",
        ["trainer.deterministic=sometimes"],
        "trainer.deterministic='sometimes' is not accepted; expected true, false or warn",
    ),
    (
        "train",
        ["seed=-5"],
        "seed=-5 is not accepted; expected an integer from 0 to 4294967295",
    ),
    (
        "train",
        ["seed=4294967296"],
        "seed=4294967296 is not accepted; expected an integer from 0 to 4294967295",
    ),
    (
        "train",
        ["data.split_seed=1.5"],
        "data.split_seed=1.5 is not accepted; expected an integer from 0 to",
    ),
    (
        "train",
        ["model.optimizer.lr=inf"],
        "model.optimizer.lr=inf is not accepted; expected a number > 0",
    ),
    (
        "train",
        ["model.optimizer.weight_decay=nan"],
        "model.optimizer.weight_decay=nan is not accepted; expected a number >= 0",
    ),
    (
        "train",
        ["model=gan", "model.optimizer.betas=[0.5,1.5]"],
        "model.optimizer.betas=[0.5, 1.5] is not accepted; expected two numbers in [0, 1)",
    ),
    (
        "train",
        ["callbacks.model_checkpoint.save_top_k=-2"],
        "callbacks.model_checkpoint.save_top_k=-2 is not accepted; expected an integer >= -1",
    ),
    (
        "train",
        ["logger.tensorboard.default_hp_metric=yes"],
        "logger.tensorboard.default_hp_metric='yes' is not accepted; expected true or false",
    ),
    (
        "train",
        ["test=3"],
        "test=3 is not accepted; expected true or false",
    ),
    (
        "train",
        ["monitor_mode=biggest"],
        "monitor_mode='biggest' is not accepted; expected one of min, max",
    ),
    (
        "train",
        ["model.scheduler.name=step"],
        "model.scheduler.name=step needs model.scheduler.step_size; add it with "
        "+model.scheduler.step_size=N",
    ),
    (
        "train",
        ["model.scheduler.name=cosine", "+model.scheduler.gamma=0.5"],
        "model.scheduler.gamma is not a setting of the cosine schedule; it takes eta_min",
    ),
    (
        "train",
        ["model.scheduler.name=step", "+model.scheduler.step_size=0"],
        "model.scheduler.step_size=0 is not accepted; expected an integer >= 1",
    ),
    (
        "train",
        ["model.optimizer.lr=${oops}"],
        "model.optimizer.lr: Interpolation key 'oops' not found",
    ),
    (
        "train",
        ["data.batch_size=${model.optimizer}"],
        "data.batch_size={'name': 'adam', 'lr': 0.001,",
    ),
    # interpolation errors
    (
        "train",
        ["data=toy2d", "data.n_samples=100000000"],
        "data.n_samples=100000000 is not accepted; expected an integer from 1 to 1,000,000",
    ),
    (
        "train",
        ["experiment=autoencoder_2d", "callbacks.code_embedding.num_points=10000000"],
        "callbacks.code_embedding.num_points=10000000 is not accepted; expected an integer from 1 "
        "to 10,000",
    ),
    # runaway options
    (
        "visualize",
        ["per_class=100000"],
        "per_class=100000 is not accepted; expected an integer from 1 to 100",
    ),
    (
        "visualize",
        ["data.normalize=maybe"],
        "data.normalize='maybe' is not accepted; expected true or false",
    ),
    (
        "scratch",
        ["model.hidden_dims=[100000000000]"],
        "model.hidden_dims: the network has 79,500,000,000,010 parameters, 2,544,000.0 GB to train",
    ),
    (
        "scratch",
        ["progress=sometimes"],
        "progress='sometimes' is not accepted; expected true or false",
    ),
    (
        "scratch",
        ["seed=-1"],
        "seed=-1 is not accepted; expected an integer from 0 to 4294967295",
    ),
    (
        "toy",
        ["toy.n_train=1000000000"],
        "toy.n_train=1000000000 is not accepted; expected an integer from 1 to 1,000,000",
    ),
    (
        "toy",
        ["toy.lr=inf"],
        "toy.lr=inf is not accepted; expected a number > 0",
    ),
]


@pytest.mark.parametrize(
    ("app", "overrides", "message"), CONFIG_CASES, ids=[" ".join(c[1]) for c in CONFIG_CASES]
)
def test_hostile_value_is_refused_in_one_line(app: str, overrides: list[str], message: str) -> None:
    conf_dir = SCRATCH_DIR if app in ("scratch", "toy") else CONF_DIR
    with pytest.raises(ConfigError) as caught:
        check_overrides(overrides, app, conf_dir)
    assert str(caught.value).startswith(message)
    assert "\n" not in str(caught.value)


def test_the_cnn_shape_arithmetic_matches_torch(tmp_path: Path) -> None:
    """The shape rule computes what the convolutions and pools do; torch agrees either side of
    the edge (shapes that fit and shapes that do not)."""
    torch = pytest.importorskip("torch")
    from mnist_lab.nets.cnn import CNN

    outcomes = set()
    for kernel, padding, blocks in [
        (3, 1, 4),
        (3, 1, 5),
        (3, 0, 3),
        (5, 0, 3),
        (7, 0, 4),
        (9, 4, 4),
    ]:
        overrides = ["model=cnn", f"model.net.kernel_size={kernel}", f"model.net.padding={padding}"]
        overrides.append(f"model.net.channels=[{','.join(['4'] * blocks)}]")
        cfg = compose_config("train", overrides, tmp_path)
        try:
            check_config(cfg)
            refused = False
        except ConfigError:
            refused = True
        try:
            with torch.device("meta"):
                CNN(channels=[4] * blocks, kernel_size=kernel, padding=padding, hidden_dims=[8])
            broken = False
        except (RuntimeError, ValueError):
            broken = True
        assert refused == broken, (kernel, padding, blocks)
        outcomes.add(refused)
    assert outcomes == {True, False}


def test_empty_sweep_is_refused() -> None:
    with pytest.raises(
        LabError, match=r"^seed=range\(3,3\) sweeps over no values; give at least one$"
    ):
        check_overrides(["-m", "seed=range(3,3)"], "train")


@pytest.mark.parametrize("flag", ["--foo", "-x", "--cfg=nonsense-flag-name"])
def test_unknown_flag_is_refused_in_the_labs_format(flag: str) -> None:
    if flag.startswith("--cfg"):
        check_flags([flag])  # a known flag with its value, for Hydra to judge
        return
    with pytest.raises(LabError, match=f"^{flag} is not an option; the options are --help"):
        check_flags(["model=cnn", flag])


# Class 1 beyond the arithmetic: every net is built on the meta device with the data's shape.
@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        (
            ["model=lenet", "data=toy2d"],
            "model.net (LeNet5) on inputs of shape (2,) cannot be built: ",
        ),
        (["model=cnn", "data=toy2d"], "model.net (CNN) on inputs of shape (2,) "),
        (
            ["model=cnn", "model.net.pool=null", "model.net.hidden_dims=[100000]"],
            "model.net: the network has 5,",
        ),
        (
            ["model.net.hidden_dims=[1000000]"],
            "model.net: the network has 795,000,010 parameters, 12.7 GB to train (weights, "
            "gradients and optimizer state), but only 8.0 GB of memory is available",
        ),
        (
            ["experiment=cnn_under_1m", "model.net.hidden_dims=[1024]"],
            "the network has 3,241,450 parameters; this experiment allows at most "
            "constraints.max_params=999,999",
        ),
    ],
)
def test_a_network_that_cannot_work_is_refused_before_data_loads(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, overrides: list[str], message: str
) -> None:
    pytest.importorskip("torch")
    from hydra.utils import instantiate

    monkeypatch.setattr(rules, "available_memory", lambda: 8 * 10**9)
    cfg = compose_config("train", overrides, tmp_path)
    datamodule = instantiate(cfg.data)  # a data module only reads files in prepare_data/setup
    with pytest.raises(ConfigError) as caught:
        rules.check_network(
            cfg.model.net, datamodule.input_shape, datamodule.num_classes, cfg.get("constraints")
        )
    assert str(caught.value).startswith(message) and "\n" not in str(caught.value)


@pytest.mark.parametrize("model", _stems(CONF_DIR / "model"))
def test_every_model_passes_the_network_check_on_mnist(tmp_path: Path, model: str) -> None:
    pytest.importorskip("torch")
    cfg = compose_config("train", [f"model={model}"], tmp_path)
    rules.check_network(cfg.model.net, rules.IMAGE_SHAPE, 10, None)


def test_memory_is_read_from_the_system() -> None:
    available = rules.available_memory()
    assert available is not None and 10**8 < available < 2**50


# Class 7: data files of the wrong shape or size, and a data dir that cannot hold data
def test_images_of_another_size_are_refused(broken_copy: Path) -> None:
    write_idx(broken_copy / "train-images-idx3-ubyte", np.zeros((600, 32, 32), dtype=np.uint8))
    with pytest.raises(LabError) as caught:
        load_data(broken_copy.parent.parent)
    assert str(caught.value) == (
        f"{broken_copy}/train-images-idx3-ubyte holds items of 32x32, expected 28x28 "
        f"(shape (600, 32, 32))"
    )


def test_labels_with_a_second_dimension_are_refused(broken_copy: Path) -> None:
    path = broken_copy / "t10k-labels-idx1-ubyte"
    path.write_bytes(bytes([0, 0, 8, 2, 0, 0, 0, 100, 0, 0, 0, 2]) + bytes(200))
    with pytest.raises(LabError, match="has magic number 0x00000802, expected 0x00000801"):
        load_data(broken_copy.parent.parent)


@pytest.mark.parametrize("header", ["valid", "zeros"])
def test_a_huge_sparse_file_is_refused_without_reading_it(broken_copy: Path, header: str) -> None:
    path = broken_copy / "train-images-idx3-ubyte"
    start = path.read_bytes()[:16] if header == "valid" else b""
    with open(path, "wb") as file:
        file.write(start)
        file.truncate(64 * 2**30)  # 64 GiB of holes: reading it would exhaust the memory
    with pytest.raises(LabError) as caught:
        load_data(broken_copy.parent.parent)
    expected = (
        f"{path} is longer than its header says: header says shape (600, 28, 28) (470416 bytes), "
        f"file has {64 * 2**30} bytes"
        if header == "valid"
        else f"{path} has magic number 0x00000000, not an IDX file of unsigned bytes"
    )
    assert str(caught.value).startswith(expected)


def test_a_gzipped_file_longer_than_its_header_is_counted(broken_copy: Path) -> None:
    path = broken_copy / "t10k-labels-idx1-ubyte"
    longer = gzip.compress(path.read_bytes() + b"xy")
    (broken_copy / "t10k-labels-idx1-ubyte.gz").write_bytes(longer)
    path.unlink()
    with pytest.raises(LabError) as caught:
        load_data(broken_copy.parent.parent)
    assert str(caught.value) == (
        f"{path}.gz is longer than its header says: header says shape (200,) (208 bytes), file "
        f"has 210 bytes"
    )


@pytest.mark.parametrize("where", ["/dev/null", "a file", "under a file"])
def test_a_data_dir_that_is_not_a_folder_is_refused_before_any_download(
    tmp_path: Path, local_mirror, where: str
) -> None:
    from mnist_lab.data.datasets import ensure_files

    afile = tmp_path / "afile"
    afile.write_text("")
    data_dir = {"/dev/null": Path("/dev/null"), "a file": afile, "under a file": afile / "sub"}
    with pytest.raises(LabError) as caught:
        ensure_files(local_mirror, data_dir[where], allow_download=True)
    shown = Path("/dev/null") if where == "/dev/null" else afile
    assert str(caught.value) == f"data directory {shown} is not a directory"


@pytest.mark.parametrize(
    ("fraction", "message"),
    [
        (1e-6, "data.val_fraction=1e-06 of 600 training images leaves no validation images; "),
        (0.9999, "data.val_fraction=0.9999 of 600 training images leaves no training images; "),
    ],
)
def test_a_validation_fraction_that_empties_a_part_is_refused(
    broken_copy: Path, fraction: float, message: str
) -> None:
    with pytest.raises(LabError) as caught:
        load_data(broken_copy.parent.parent, val_fraction=fraction)
    assert str(caught.value).startswith(message + "use a fraction from 0.0017 to 0.998333")


def test_the_numpy_split_refuses_an_empty_validation_part() -> None:
    from mnist_lab.scratch.data import train_val_split

    with pytest.raises(LabError, match=r"^data.val_fraction=0.001 of 100 training images leaves"):
        train_val_split(np.zeros((100, 4)), np.zeros(100), 0.001)


# Class 8 and item 9: divergence stops both halves with what is known
def test_numpy_training_that_diverges_stops_with_one_line() -> None:
    from mnist_lab.scratch.models import build_model
    from mnist_lab.scratch.sgd import SGD, fit

    rng = np.random.default_rng(0)
    x, y = rng.normal(size=(64, 8)), rng.integers(0, 3, 64)
    model = build_model(
        "two_layer", input_size=8, num_classes=3, seed=0, hidden_dims=[4], init_std=1.0
    )
    with np.errstate(all="ignore"), pytest.raises(LabError) as caught:
        fit(model, SGD(1e308), (x, y), (x, y), max_epochs=5, batch_size=16, seed=0, progress=False)
    message = str(caught.value)
    assert (
        message.startswith("training loss became ")
        and " (epoch 1) with learning rate 1e+308" in message
    )
    assert message.endswith("the inputs were finite; try a smaller optimizer.lr")


def test_numpy_inputs_that_are_not_finite_are_named_not_the_learning_rate() -> None:
    from mnist_lab.scratch.sgd import non_finite_loss

    x = np.array([[1.0, np.inf]])
    message = str(non_finite_loss(float("nan"), 3, 1, 1e-3, x))
    assert message == (
        "training loss became nan at step 3 (epoch 1) with learning rate 0.001; the batch's "
        "inputs hold nan or inf values: the data, not the learning rate"
    )


def test_a_nan_from_the_data_does_not_blame_the_learning_rate() -> None:
    torch = pytest.importorskip("torch")
    from types import SimpleNamespace

    from mnist_lab.callbacks import FiniteLoss

    guard = FiniteLoss(check_every_n_steps=1)
    net = torch.nn.Linear(2, 2)
    trainer = SimpleNamespace(
        optimizers=[torch.optim.SGD(net.parameters(), lr=1e-3)], global_step=5, current_epoch=0
    )
    finite = (torch.ones(4, 2), torch.zeros(4))
    guard.on_train_batch_start(trainer, net, finite, batch_idx=0)
    guard.on_train_batch_end(trainer, net, torch.tensor(1.0), finite, batch_idx=0)
    broken = (torch.tensor([[1.0, float("inf")]] * 4), torch.zeros(4))
    guard.on_train_batch_start(trainer, net, broken, batch_idx=1)
    with pytest.raises(LabError) as caught:
        guard.on_train_batch_end(trainer, net, torch.tensor(float("nan")), broken, batch_idx=1)
    assert str(caught.value) == (
        "training loss became nan at step 5 (epoch 0) with learning rate 0.001; the training "
        "inputs hold nan or inf values: the data, not the learning rate, is the cause; the "
        "checkpoints of earlier epochs are kept"
    )


def test_a_nan_in_the_training_split_is_named_though_the_batch_at_the_stop_is_finite() -> None:
    torch = pytest.importorskip("torch")
    from types import SimpleNamespace

    from mnist_lab.callbacks import FiniteLoss

    guard = FiniteLoss(check_every_n_steps=1)
    net = torch.nn.Linear(2, 2)
    images = torch.ones(8, 2)
    images[1, 0] = float("nan")  # a batch trained earlier; the loss shows it only later
    trainer = SimpleNamespace(
        optimizers=[torch.optim.SGD(net.parameters(), lr=1e-3)],
        global_step=5,
        current_epoch=0,
        datamodule=SimpleNamespace(splits={"train": (images, torch.zeros(8))}),
    )
    finite = (images[4:], torch.zeros(4))
    guard.on_train_batch_start(trainer, net, finite, batch_idx=1)
    with pytest.raises(LabError, match="the training inputs hold nan or inf values"):
        guard.on_train_batch_end(trainer, net, torch.tensor(float("nan")), finite, batch_idx=1)
    images[1, 0] = 0.0
    with pytest.raises(LabError, match="try a smaller model.optimizer.lr"):
        guard.on_train_batch_end(trainer, net, torch.tensor(float("nan")), finite, batch_idx=1)


# Through the real command line, all rows at once: (module, arguments, start of the error line)
CLI_CASES = [
    ("train", ["model=cnn", "model.net.channels=[8,8,8,8,8,8]"], "model.net.channels=[8, 8, 8"),
    ("train", ["data.normalize=maybe"], "data.normalize='maybe' is not accepted"),
    ("train", ["-m", "seed=range(3,3)"], "seed=range(3,3) sweeps over no values"),
    ("train", ["model.optimizer.lr=${oops}"], "model.optimizer.lr: Interpolation key 'oops'"),
    ("train", ["--foo"], "--foo is not an option; the options are --help"),
    ("evaluate", ["--foo"], "--foo is not an option"),
    ("visualize", ["per_class=100000"], "per_class=100000 is not accepted"),
    ("scratch", ["foo=1"], "foo=1 names no key of the config; add a new key with +foo=1"),
    ("scratch", ["model.hidden_dims=[100000000000]"], "model.hidden_dims: the network has"),
    ("scratch.toy", ["toy.lr=-1"], "toy.lr=-1 is not accepted"),
    # after torch is imported (seconds of CPU): one row for the meta-device check
    ("train", ["model.net.hidden_dims=[100000000000]"], "model.net: the network has"),
]


def test_the_cli_refuses_hostile_input_in_one_line_and_leaves_no_run(
    tmp_path: Path, tiny_data_dir: Path
) -> None:
    started = []
    for index, (module, arguments, line) in enumerate(CLI_CASES):
        outputs = tmp_path / f"outputs{index}"
        process = start_cli(["-m", f"mnist_lab.{module}", *arguments], outputs, tiny_data_dir)
        started.append((process, outputs, line))
    for process, outputs, line in started:
        _, stderr = process.communicate(timeout=300)
        assert process.returncode == 2, stderr[-3000:]
        errors = [text for text in stderr.splitlines() if text.startswith("error:")]
        assert len(errors) == 1 and errors[0].startswith(f"error: {line}"), stderr[-3000:]
        assert "Traceback" not in stderr and "usage:" not in stderr
        assert not outputs.exists() or list(outputs.rglob("*.*")) == []
