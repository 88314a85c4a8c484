"""TensorBoard's HParams, Custom Scalars and Text tabs and run names, down to what TensorBoard
itself serves for a sweep and a mixed logdir."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from omegaconf import OmegaConf

from mnist_lab.runtime import tensorboard_tabs as tabs
from mnist_lab.train import train
from tests.helpers import compose_config
from tests.helpers.cli import run_cli

MEASURED = {"params": 178_110, "device": "cpu: test", "trainer.precision": "32-true"}
# core keys every model kind has
EVERY_KIND = {
    "model",
    "data.name",
    "model.optimizer.name",
    "model.optimizer.lr",
    "data.batch_size",
    "trainer.max_epochs",
    "seed",
    "params",
    "device",
    "trainer.precision",
}


@pytest.mark.parametrize(
    ("overrides", "net_keys"),
    [
        (["model=mlp"], {"model.net.hidden_dims"}),
        (["model=linear"], {"model.net.hidden_dims"}),
        (["model=cnn"], {"model.net.hidden_dims", "model.net.channels"}),
        (["model=lenet"], set()),
        (["model=autoencoder"], {"model.net.hidden_dims", "model.net.code_size"}),
        (
            ["model=gan"],
            {"model.net.latent_dim", "model.net.generator_dims", "model.net.discriminator_dims"},
        ),
        (["model=dcgan"], {"model.net.latent_dim", "model.net.channels"}),
        (["data=toy2d", "data.name=gate_xor"], {"model.net.hidden_dims"}),
    ],
)
def test_every_model_kind_gets_the_same_core_keys_typed_and_without_none(
    tmp_path: Path, overrides: list[str], net_keys: set[str]
) -> None:
    cfg = compose_config("train", overrides, tmp_path)
    row = tabs.curated_hparams(cfg, [], MEASURED | {"model": tabs.model_name(cfg)})
    assert list(row) == [key for key in tabs.CORE_HPARAMS if key in row]  # the core's order
    optional = {"model.optimizer.weight_decay"} | net_keys
    assert EVERY_KIND <= set(row) <= EVERY_KIND | optional
    assert net_keys <= set(row)
    assert None not in row.values() and "None" not in row.values()
    assert type(row["trainer.max_epochs"]) is int and type(row["seed"]) is int
    assert row["params"] == 178_110 and type(row["params"]) is int
    if "model.net.hidden_dims" in row:
        assert re.fullmatch(r"\[[0-9,]*\]", row["model.net.hidden_dims"])
    # the GANs' optimizer has no weight decay: left out, not shown as 'None'
    gan = overrides[0] in ("model=gan", "model=dcgan")
    assert ("model.optimizer.weight_decay" in row) is not gan


def test_overrides_come_first_in_their_order_typed_and_without_bookkeeping(tmp_path: Path):
    given = [
        "model.net.batch_norm=true",
        "paths.log_dir=/somewhere",
        "model.optimizer.lr=1e-2",
        "callbacks.layer_summary.output_dir=/x",
        "threads=1",
        "~model.scheduler",
        "ckpt_path=last",
        "model=cnn",
        "+model.net.new_key=[1,2]",
        "seed=2",
    ]
    overrides = tabs.setting_overrides(given)
    assert overrides == [
        "model.net.batch_norm=true",
        "model.optimizer.lr=1e-2",
        "model=cnn",
        "+model.net.new_key=[1,2]",
        "seed=2",
    ]
    cfg = compose_config("train", ["model=cnn", "model.net.batch_norm=true", "seed=2"], tmp_path)
    OmegaConf.update(cfg, "model.optimizer.lr", 0.01)
    OmegaConf.update(cfg, "model.net.new_key", [1, 2], force_add=True)
    row = tabs.curated_hparams(cfg, overrides, MEASURED | {"model": "cnn"})
    first = ["model.net.batch_norm", "model.optimizer.lr", "model", "model.net.new_key", "seed"]
    assert list(row)[:5] == first
    assert list(row)[5:] == [k for k in tabs.CORE_HPARAMS if k in row and k not in first]
    assert row["model.net.batch_norm"] is True  # a boolean, not 1
    assert row["model.optimizer.lr"] == 0.01 and row["seed"] == 2 and type(row["seed"]) is int
    assert row["model"] == "cnn" and row["model.net.new_key"] == "[1,2]"
    assert not [key for key in row if key.startswith(("paths", "callbacks", "threads"))]


def test_run_names_are_short_filesystem_safe_and_tell_members_apart() -> None:
    assert tabs.run_name(["model.optimizer.lr=0.01", "seed=2"]) == "lr=0.01,seed=2"
    assert tabs.run_name([], default="mlp") == "mlp"
    # two overrides ending alike keep their whole keys
    both = tabs.run_name(["data.name=xor", "model.optimizer.name=sgd"])
    assert both == "data.name=xor,model.optimizer.name=sgd"
    assert "/" not in tabs.run_name(["data.name='a/b c'"])
    long = [f"model.net.hidden_dims=[{','.join(['512'] * 30)}]"]
    names = {tabs.run_name([*long, f"seed={seed}"]) for seed in (1, 2)}
    assert len(names) == 2 and all(len(name) <= tabs.MAX_RUN_NAME for name in names)


def test_metrics_start_with_the_main_metric_and_offer_every_recipes(tmp_path: Path) -> None:
    def tags(*overrides: str, split: str = "test") -> list[str]:
        return tabs.metric_tags(compose_config("train", list(overrides), tmp_path), split)

    classifier, autoencoder, gan = tags(), tags("model=autoencoder"), tags("model=gan")
    assert classifier[:2] == ["test/acc", "val/acc"]
    assert autoencoder[:2] == ["test/loss", "val/loss"]
    assert gan[0] == "test/classes_present"
    assert tags("data=toy2d", "data.name=gate_xor", split="truth_table")[0] == "truth_table/acc"
    for metrics in (classifier, autoencoder, gan):
        assert {"test/acc", "test/loss", "test/classes_present", "train/g_loss"} <= set(metrics)
        assert len(metrics) == len(set(metrics))
        assert not [tag for tag in metrics if tag.startswith("final/")]


# --- through TensorBoard itself: its own loading code and HTTP data API, in this process ---


class Board:
    """TensorBoard's WSGI app over `logdir`, as `tensorboard --logdir` serves it."""

    def __init__(self, logdir: Path) -> None:
        from tensorboard import default
        from tensorboard.backend import application
        from tensorboard.backend.event_processing import data_provider
        from tensorboard.backend.event_processing.plugin_event_multiplexer import (
            EventMultiplexer,
        )
        from tensorboard.program import TensorBoard
        from werkzeug.test import Client

        program = TensorBoard(plugins=default.get_plugins())
        program.configure(logdir=str(logdir), load_fast="false")
        multiplexer = EventMultiplexer()
        multiplexer.AddRunsFromDirectory(str(logdir))
        multiplexer.Reload()
        provider = data_provider.MultiplexerDataProvider(multiplexer, str(logdir))
        app = application.TensorBoardWSGIApp(
            program.flags, program.plugin_loaders, provider, program.assets_zip_provider,
            multiplexer,
        )  # fmt: skip
        self.client = Client(app)

    def get(self, path: str, **query: str) -> Any:
        response = self.client.get(f"/data/plugin/{path}", query_string=query)
        assert response.status_code == 200, path
        return response.get_json()

    def post(self, path: str, body: dict) -> dict:
        response = self.client.post(f"/data/plugin/{path}", json={"experimentName": "", **body})
        assert response.status_code == 200, path
        return response.get_json()

    def hparams(self) -> tuple[list[str], list[str], list[str]]:
        """The HParams tab: its columns, those ticked when it opens (the table ticks the first
        five after the swept ones) and its metrics."""
        experiment = self.post("hparams/experiment", {})
        infos = experiment["hparamInfos"]
        ticked = sorted(infos, key=lambda info: not info.get("differs", False))[:5]
        metrics = [info["name"]["tag"] for info in experiment["metricInfos"]]
        return [info["name"] for info in infos], [info["name"] for info in ticked], metrics

    def sessions(self) -> dict[str, dict]:
        """Run -> its hparams row and its metrics' last values, as the table shows them."""
        groups = self.post(
            "hparams/session_groups",
            {
                "allowedStatuses": ["STATUS_UNKNOWN", "STATUS_SUCCESS", "STATUS_RUNNING"],
                "colParams": [],
                "startIndex": 0,
                "sliceSize": 100,
            },
        )["sessionGroups"]
        return {
            group["name"]: {
                "hparams": group["hparams"],
                "metrics": {m["name"]["tag"]: m["value"] for m in group["metricValues"]},
            }
            for group in groups
        }


def test_a_resumed_run_keeps_its_tensorboard_run_and_one_hparams_session(tmp_path: Path):
    from mnist_lab.runtime.loggers import TensorBoardLogger

    assert TensorBoardLogger(str(tmp_path)).version == "run"  # no overrides, no Hydra
    (tmp_path / "tensorboard" / "lr=0.1").mkdir(parents=True)
    log_dir = Path(TensorBoardLogger(str(tmp_path)).log_dir)
    assert log_dir == tmp_path / "tensorboard" / "lr=0.1"
    # the first attempt, then the run trained on with more epochs: the second row replaces it
    for epochs in (2, 3):
        cfg = compose_config("train", [f"trainer.max_epochs={epochs}"], tmp_path)
        tabs.write_hparams(log_dir, cfg, MEASURED, "test", started=0.0)
    assert len(list(log_dir.glob(f"*{tabs.HPARAMS_EVENTS_SUFFIX}"))) == 1
    (session,) = Board(tmp_path).sessions().values()
    assert session["hparams"]["trainer.max_epochs"] == 3


@pytest.fixture(scope="module")
def mixed_logdir(tmp_path_factory: pytest.TempPathFactory, tiny_data_dir: Path) -> Path:
    """A learning-rate sweep through the command line (Hydra's overrides name and head its
    runs) and, beside it, an autoencoder, a GAN and a toy gate run from a notebook.

    Slow: five tiny runs, about 10 s of CPU.
    """
    outputs = tmp_path_factory.mktemp("outputs")
    result = run_cli(
        "mnist_lab.train",
        "-m",
        "model.optimizer.lr=0.01,0.001",
        "trainer.max_epochs=1",
        "threads=1",
        log_dir=outputs,
        data_dir=tiny_data_dir,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    judge = f"callbacks.mode_collapse.cache_dir={outputs / 'classifiers'}"
    for name, overrides in {
        "autoencoder": ["model=autoencoder"],
        "gan": ["model=gan", judge, "callbacks.mode_collapse.train_epochs=1"],
        "toy": ["data=toy2d", "data.name=gate_xor"],
    }.items():
        overrides += ["trainer.max_epochs=1", "threads=1"]
        train(compose_config("train", overrides, outputs / "notebook" / name, tiny_data_dir))
    return outputs


@pytest.mark.slow
def test_tensorboard_shows_a_sweep_with_its_swept_key_and_metrics_ticked(mixed_logdir: Path):
    (sweep,) = (mixed_logdir / "train" / "multiruns").iterdir()
    board = Board(sweep)
    columns, ticked, metrics = board.hparams()
    # the run's overrides first (TensorBoard sorts the swept ones first, by name), then the core
    overrides = ["model.optimizer.lr", "trainer.max_epochs"]
    assert columns == overrides + sorted(set(tabs.CORE_HPARAMS) - set(overrides))
    assert ticked[:2] == overrides and "threads" not in columns
    assert not [c for c in columns if c.startswith(("paths", "callbacks", "logger"))]
    # the main metric first, then the classifier's others, then every recipe's
    assert metrics[:2] == ["test/acc", "val/acc"]
    assert {"test/loss", "val/loss", "test/classes_present", "train/g_loss"} <= set(metrics)
    sessions = board.sessions()
    assert {Path(run).name for run in sessions} == {"lr=0.01,max_epochs=1", "lr=0.001,max_epochs=1"}
    for run, session in sessions.items():
        assert session["hparams"]["model.optimizer.lr"] == float(run.split("lr=")[1].split(",")[0])
        assert session["hparams"]["trainer.max_epochs"] == 1
        assert session["hparams"]["model"] == "mlp"
        # read from the run's own scalar curves
        assert {"test/acc", "val/acc", "train/loss_epoch"} <= set(session["metrics"])
    # scalars: the tags the runs log, no single-point final/* copies
    tags = {tag for run in board.get("scalars/tags").values() for tag in run}
    assert {"test/acc", "val/acc", "train/loss_epoch", "test/loss"} <= tags
    assert not [tag for tag in tags if tag.startswith("final/")]


@pytest.mark.slow
def test_tensorboard_shows_every_kind_in_a_mixed_logdir(mixed_logdir: Path) -> None:
    board = Board(mixed_logdir)
    columns, _, metrics = board.hparams()
    assert set(tabs.CORE_HPARAMS) <= set(columns)  # every kind's net keys can be chosen
    for main in ("test/acc", "test/loss", "test/classes_present"):
        assert main in metrics
    sessions = board.sessions()
    assert len(sessions) == 5  # one session per run
    kinds = {Path(run).parts[1]: s for run, s in sessions.items() if run.startswith("notebook")}
    assert kinds["toy"]["hparams"]["data.name"] == "gate_xor"
    assert kinds["gan"]["hparams"]["model.net.latent_dim"] == 64
    assert "test/classes_present" in kinds["gan"]["metrics"]
    assert "test/loss" in kinds["autoencoder"]["metrics"]

    # Custom Scalars: each recipe's overlays, every tag one its runs log
    layout = board.get("custom_scalars/layout")
    charts = {c["title"]: c["multiline"]["tag"] for c in layout["category"][0]["chart"]}
    assert set(charts) == {
        "loss (train, val)",
        "accuracy (train, val)",
        "learning rate",
        "loss (generator, discriminator)",
    }
    tags = {tag for run in board.get("scalars/tags").values() for tag in run}
    for patterns in charts.values():
        for pattern in patterns:
            assert [tag for tag in tags if re.search(pattern, tag)], pattern

    # Text: the config and the layer summary with exact counts
    texts = board.get("text/tags")
    run = next(run for run in texts if "lr=0.01" in run)
    assert {"config/text_summary", "model_summary/text_summary"} <= set(texts[run])
    config = board.get("text/text", run=run, tag="config/text_summary")[0]["text"]
    assert "hidden_dims" in config and "${" not in config  # resolved
    summary = board.get("text/text", run=run, tag="model_summary/text_summary")[0]["text"]
    assert "178,110" in summary and " K" not in summary
