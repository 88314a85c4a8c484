"""On a CUDA GPU: every model trains an epoch, a run is evaluated and resumed there, and the data
stays on the device with no host sync per step. Skipped without a GPU (CI has none); run them
with `pytest -m gpu` (benchmarks/gpu_check.sh does)."""

from __future__ import annotations

import csv
import json
import warnings
from pathlib import Path

import pytest
import torch

from mnist_lab.train import train
from tests.helpers.cli import run_cli

pytestmark = [
    pytest.mark.gpu,
    pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU"),
]
MODELS = ("linear", "mlp", "cnn", "lenet", "autoencoder", "gan", "conv_gan")
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


def test_the_data_stays_on_the_gpu_and_steps_do_not_sync(train_config) -> None:
    """Host syncs come only from the steps the loggers write, not from every step."""
    from mnist_lab.runtime.assemble import assemble

    cfg = train_config("model=cnn", *GPU, "data.batch_size=8", "trainer.log_every_n_steps=25")
    datamodule, model, trainer = assemble(cfg)
    torch.cuda.set_sync_debug_mode("warn")
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            trainer.fit(model, datamodule=datamodule)
    finally:
        torch.cuda.set_sync_debug_mode("default")
    steps = trainer.global_step
    syncs = [w for w in caught if "synchroniz" in str(w.message)]
    assert steps >= 50
    assert len(syncs) < steps / 2, [str(w.message) for w in syncs[:5]]
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
