"""On a CUDA GPU: every model trains an epoch, a run is evaluated and resumed there, and the data
stays on the device with no host sync per step. Skipped without a GPU (CI has none); run them
with `pytest -m gpu` (benchmarks/gpu_check.sh does)."""

from __future__ import annotations

import csv
import json
import warnings
from pathlib import Path

import lightning as L
import pytest
import torch

from mnist_lab.train import train
from tests.helpers.cli import run_cli

pytestmark = [
    pytest.mark.gpu,
    pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU"),
]
MODELS = ("linear", "mlp", "cnn", "lenet", "autoencoder", "gan", "dcgan")
GPU = ("trainer.accelerator=gpu", "trainer.max_epochs=1")


@pytest.mark.parametrize("model", MODELS)
def test_each_model_trains_an_epoch_on_the_gpu(train_config, tmp_path: Path, model: str):
    cfg = train_config(f"model={model}", *GPU)
    if "mode_collapse" in cfg.callbacks:
        cfg.callbacks.mode_collapse.cache_dir = str(tmp_path / "classifiers")
    metrics = train(cfg)
    environment = json.loads((tmp_path / "run" / "metrics.json").read_text())["environment"]
    assert environment["device"].startswith("cuda: ")
    assert environment["precision"].startswith(("bf16-mixed (auto: ", "16-mixed (auto: "))
    tested = [value for key, value in metrics.items() if key.startswith("test/")]
    assert tested and all(torch.isfinite(torch.tensor(tested)))


class SyncCounter:
    """Counts host syncs between `start` and `stop` (torch's sync debug mode, on only there)."""

    def __init__(self) -> None:
        self.syncs = 0
        self._caught = warnings.catch_warnings(record=True)
        self._records: list[warnings.WarningMessage] = []

    def start(self) -> None:
        self._caught = warnings.catch_warnings(record=True)  # one per step: entered once each
        self._records = self._caught.__enter__()
        warnings.simplefilter("always")
        torch.cuda.set_sync_debug_mode("warn")

    def stop(self) -> None:
        torch.cuda.set_sync_debug_mode("default")
        self._caught.__exit__(None, None, None)
        self.syncs += sum("synchroniz" in str(w.message) for w in self._records)


class StepStart(L.Callback):
    """First of the callbacks: starts counting when a training step starts."""

    def __init__(self, counter: SyncCounter) -> None:
        self.counter = counter

    def on_train_batch_start(self, trainer, pl_module, batch, batch_idx: int) -> None:
        self.counter.start()


class StepEnd(StepStart):
    """Last of the callbacks: stops counting after every other one's batch-end hook."""

    def on_train_batch_start(self, trainer, pl_module, batch, batch_idx: int) -> None:
        pass

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx: int) -> None:
        self.counter.stop()


def test_the_data_stays_on_the_gpu_and_steps_do_not_sync(train_config) -> None:
    """Host syncs come only from the steps the loggers write, not from every step."""
    from mnist_lab.runtime.assemble import assemble

    cfg = train_config("model=cnn", *GPU, "data.batch_size=8", "trainer.log_every_n_steps=25")
    datamodule, model, trainer = assemble(cfg)
    counter = SyncCounter()
    trainer.callbacks.insert(0, StepStart(counter))
    trainer.callbacks.append(StepEnd(counter))
    trainer.fit(model, datamodule=datamodule)
    steps = trainer.global_step
    assert steps >= 50
    assert counter.syncs < steps / 2
    images, labels = datamodule.on_device("train")
    assert images.device.type == labels.device.type == "cuda"


def test_a_gpu_run_is_evaluated_and_resumed_on_the_gpu(tmp_path: Path, tiny_data_dir) -> None:
    outputs = tmp_path / "outputs"
    trained = run_cli("mnist_lab.train", *GPU, log_dir=outputs, data_dir=tiny_data_dir)
    assert trained.returncode == 0, trained.stderr[-3000:]
    (run,) = list((outputs / "train" / "runs").iterdir())
    evaluated = run_cli(
        "mnist_lab.evaluate",
        f"ckpt_path={run}",
        "trainer.accelerator=gpu",
        log_dir=outputs,
        data_dir=tiny_data_dir,
    )
    assert evaluated.returncode == 0, evaluated.stderr[-3000:]
    assert "; device cuda: " in evaluated.stdout
    resumed = run_cli(
        "mnist_lab.train",
        f"ckpt_path={run}",
        "trainer.max_epochs=2",
        log_dir=outputs,
        data_dir=tiny_data_dir,
    )
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    environment = json.loads((run / "metrics.json").read_text())["environment"]
    assert environment["device"].startswith("cuda: ")
    assert len(list((outputs / "train" / "runs").iterdir())) == 1  # resumed in place
    with (run / "csv" / "metrics.csv").open(newline="") as file:
        epochs = {row["epoch"] for row in csv.DictReader(file) if row["epoch"]}
    assert epochs == {"0", "1"}
