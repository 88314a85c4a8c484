"""Callbacks: what they log and draw, on tiny trainers and fakes."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import lightning as L
import pytest
import torch
from lightning.pytorch.callbacks import RichProgressBar
from lightning.pytorch.loggers import TensorBoardLogger
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator
from torch.utils.data import DataLoader, TensorDataset

from mnist_lab.analysis.errors import expected_calibration_error, fit_temperature
from mnist_lab.callbacks import (
    CodeEmbedding,
    DecisionBoundary,
    ErrorAnalysis,
    GeneratedSamples,
    ProgressBar,
    Reconstructions,
    StepLogInterval,
)
from mnist_lab.callbacks.essentials import learning_rate_tags
from mnist_lab.callbacks.figures import PROJECTOR_TAG
from mnist_lab.data.toy2d import Toy2DDataModule
from mnist_lab.models.autoencoder import Autoencoder
from mnist_lab.models.classifier import Classifier
from mnist_lab.models.gan import GAN
from mnist_lab.nets.layers import evaluation_mode

SHAPE = (1, 4, 4)
ADAM = {"name": "adam", "lr": 0.01}


def test_progress_bar_reads_metrics_only_on_written_steps_and_at_epoch_end(monkeypatch) -> None:
    reads: list[int] = []
    monkeypatch.setattr(
        RichProgressBar, "_update_metrics", lambda self, trainer, module: reads.append(trainer.step)
    )
    bar = ProgressBar()
    bar.disable()  # no console: only the metric reads are exercised
    connector = SimpleNamespace(should_update_logs=False)
    trainer = SimpleNamespace(step=0, fast_dev_run=False, _logger_connector=connector)
    for batch_idx in range(12):
        trainer.step = batch_idx
        connector.should_update_logs = (batch_idx + 1) % 5 == 0  # Lightning's test, every 5
        bar.on_train_batch_end(trainer, None, None, None, batch_idx)
    bar.on_train_epoch_end(trainer, None)
    assert reads == [4, 9, 11]  # the steps the loggers write the loss, then the epoch's end


def test_progress_bar_redraws_ten_times_a_second_not_lightnings_hundred() -> None:
    """Rich redraws it from a thread `refresh_rate` times a second, about 1 ms of CPU each."""
    assert ProgressBar().refresh_rate == 10 and RichProgressBar().refresh_rate == 100
    assert ProgressBar(refresh_rate=2).refresh_rate == 2


def test_progress_bar_leaves_out_the_logger_version(monkeypatch) -> None:
    # Lightning adds the logger's version as `v_num`; the lab's run names are their overrides.
    monkeypatch.setattr(
        RichProgressBar, "get_metrics", lambda self, trainer, module: {"v_num": "=300", "a": 1}
    )
    assert ProgressBar().get_metrics(None, None) == {"a": 1}


@pytest.mark.parametrize(("batches", "interval"), [(844, 50), (100, 20), (12, 2), (3, 1)])
def test_short_epochs_get_a_shorter_log_interval(batches: int, interval: int) -> None:
    trainer = SimpleNamespace(num_training_batches=batches, log_every_n_steps=50)
    StepLogInterval(points_per_epoch=5).on_train_start(trainer, None)
    assert trainer.log_every_n_steps == interval


def test_learning_rate_tags_name_the_optimizers_not_their_class() -> None:
    weights, biases = torch.nn.Parameter(torch.zeros(2)), torch.nn.Parameter(torch.zeros(2))

    def classifier(bias_lr: float) -> torch.optim.Optimizer:
        groups = [
            {"name": "weights", "params": [weights]},
            {"name": "biases_and_norms", "params": [biases], "lr": bias_lr},
        ]
        return torch.optim.Adam(groups, lr=0.1)

    shared = classifier(bias_lr=0.1)
    assert learning_rate_tags([shared]) == {"lr/net": (shared, 0)}  # one rate, one tag
    split = classifier(bias_lr=0.01)
    assert learning_rate_tags([split]) == {
        "lr/weights": (split, 0),
        "lr/biases_and_norms": (split, 1),
    }
    gan = [
        torch.optim.Adam([{"name": name, "params": [p]}])
        for name, p in zip(("generator", "discriminator"), (weights, biases), strict=True)
    ]
    assert list(learning_rate_tags(gan)) == ["lr/generator", "lr/discriminator"]
    unnamed = [torch.optim.SGD([weights], lr=0.1), torch.optim.SGD([biases], lr=0.1)]
    assert list(learning_rate_tags(unnamed)) == ["lr/net", "lr/net_2"]


class Images(L.LightningDataModule):
    """Random 4x4 images in three classes, split as the lab's DataModules hold them."""

    def __init__(self, batches: int = 3) -> None:
        super().__init__()
        generator = torch.Generator().manual_seed(0)
        self.splits = {
            split: (
                torch.rand(8 * batches, 1, 4, 4, generator=generator),
                torch.randint(0, 3, (8 * batches,), generator=generator),
            )
            for split in ("train", "val", "test")
        }
        self.spec = SimpleNamespace(
            name="random", classes=("a", "b", "c"), items="images", test_split="test"
        )
        self.input_shape = SHAPE

    def on_device(self, split: str) -> tuple[torch.Tensor, torch.Tensor]:
        return self.splits[split]

    def train_dataloader(self) -> DataLoader:
        return DataLoader(TensorDataset(*self.splits["train"]), batch_size=8)

    def val_dataloader(self) -> DataLoader:
        return DataLoader(TensorDataset(*self.splits["val"]), batch_size=8)

    def test_dataloader(self) -> DataLoader:
        return DataLoader(TensorDataset(*self.splits["test"]), batch_size=8)


def quiet_trainer(callbacks, epochs: int, logger=False) -> L.Trainer:
    """A CPU Trainer with `callbacks` and nothing else: no checkpoints, bar or summary."""
    return L.Trainer(
        accelerator="cpu",
        max_epochs=epochs,
        logger=logger,
        callbacks=callbacks,
        enable_checkpointing=False,
        enable_progress_bar=False,
        enable_model_summary=False,
        log_every_n_steps=1,
    )


def fit_and_test(module: L.LightningModule, datamodule, callbacks, logdir: Path, epochs: int = 2):
    """Fit for `epochs`, then test, logging to TensorBoard in `logdir`; its events read back."""
    trainer = quiet_trainer(callbacks, epochs, TensorBoardLogger(logdir, name="", version=""))
    trainer.fit(module, datamodule=datamodule)
    trainer.test(module, datamodule=datamodule, verbose=False)
    return EventAccumulator(str(logdir), size_guidance={"images": 0, "scalars": 0}).Reload()


def steps(events: EventAccumulator, tag: str) -> list[int]:
    kind = events.Images if tag in events.Tags()["images"] else events.Scalars
    return [event.step for event in kind(tag)]


def test_gan_grids_are_large_labelled_and_at_the_steps_of_the_epoch_scalars(tmp_path) -> None:
    torch.manual_seed(0)
    gan = GAN(
        {"_target_": "mnist_lab.nets.gan.DenseGAN", "latent_dim": 4}, ADAM, 4, input_shape=SHAPE
    )
    events = fit_and_test(gan, Images(), [GeneratedSamples(str(tmp_path))], tmp_path / "tb")
    # 3 batches an epoch: the epochs' scalars at steps 2 and 5 (global_step counts 2 per batch)
    assert steps(events, "train/g_loss") == steps(events, "samples") == [2, 5]
    assert min(events.Images("samples")[0].height, events.Images("samples")[0].width) > 600
    assert (tmp_path / "samples_epoch_002.png").is_file()
    # the interpolation strip once, when fitting ends, at the last epoch's step
    assert steps(events, "samples/interpolation") == [5]
    assert (tmp_path / "interpolation.png").is_file()


def test_reconstructions_and_the_projector_follow_the_scalars_steps(tmp_path) -> None:
    torch.manual_seed(0)
    net = {
        "_target_": "mnist_lab.nets.autoencoder.DenseAutoencoder",
        "hidden_dims": [8],
        "code_size": 2,
        "code_activation": False,
    }
    autoencoder = Autoencoder(net, ADAM, num_classes=3, input_shape=SHAPE)
    callbacks = [
        Reconstructions(grid_size=8, columns=4),
        CodeEmbedding(str(tmp_path), num_points=24),
    ]
    events = fit_and_test(autoencoder, Images(), callbacks, tmp_path / "tb")
    assert steps(events, "val/loss") == steps(events, "val/reconstructions") == [2, 5]
    assert steps(events, "test/loss") == steps(events, "test/code_vs_pca") == [6]
    assert steps(events, "test/code_manifold") == [6]
    assert (tmp_path / "code_manifold.png").is_file()
    # the projector's tensor: the 2-D codes and a zero third column, named so
    config = (tmp_path / "tb" / "projector_config.pbtxt").read_text()
    assert f'tensor_name: "{PROJECTOR_TAG}:00006"' in config and "zero_3rd_column" in PROJECTOR_TAG
    (tensors,) = (tmp_path / "tb").glob("00006/*/tensors.tsv")
    rows = [[float(v) for v in line.split("\t")] for line in tensors.read_text().splitlines()]
    assert len(rows) == 24 and all(len(row) == 3 and row[2] == 0.0 for row in rows)
    assert len({(row[0], row[1]) for row in rows}) > 1  # the codes themselves are there


def test_the_decision_boundary_is_drawn_at_its_epochs_steps_the_last_one_included(tmp_path):
    torch.manual_seed(0)
    datamodule = Toy2DDataModule(name="xor", n_samples=80, batch_size=16)
    net = {"_target_": "mnist_lab.nets.mlp.MLP", "hidden_dims": [4]}
    model = Classifier(net, ADAM, input_shape=(2,), num_classes=2)
    boundary = DecisionBoundary(str(tmp_path), resolution=40, images=3)
    events = fit_and_test(model, datamodule, [boundary], tmp_path / "tb", epochs=5)
    # 64 training points in batches of 16: the epochs end at steps 3, 7, 11, 15 and 19; three
    # images spread over five epochs are drawn after epochs 1, 3 and 5
    assert steps(events, "train/loss_epoch") == [3, 7, 11, 15, 19]
    assert steps(events, "decision_boundary") == [3, 11, 19]
    assert boundary.path == tmp_path / "decision_boundary.png" and boundary.path.is_file()
    assert DecisionBoundary(images=10).drawn_epochs(40) == {1, 5, 10, 14, 18, 23, 27, 31, 36, 40}
    assert DecisionBoundary(images=10).drawn_epochs(3) == {1, 2, 3}


class StopAfter(L.Callback):
    """Stops fitting after `epochs` epochs, as an early stop would."""

    def __init__(self, epochs: int) -> None:
        self.epochs = epochs

    def on_train_epoch_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        trainer.should_stop = trainer.current_epoch + 1 >= self.epochs


def test_a_run_stopped_early_saves_the_boundary_of_its_last_epoch(tmp_path) -> None:
    torch.manual_seed(0)
    datamodule = Toy2DDataModule(name="xor", n_samples=80, batch_size=16)
    net = {"_target_": "mnist_lab.nets.mlp.MLP", "hidden_dims": [4]}
    model = Classifier(net, ADAM, input_shape=(2,), num_classes=2)
    boundary = DecisionBoundary(str(tmp_path), resolution=40, images=2)
    fit_and_test(model, datamodule, [boundary, StopAfter(2)], tmp_path / "tb", epochs=5)
    # drawn after epoch 1 of the planned 1 and 5; stopped after epoch 2, so drawn again then
    assert boundary._drawn_after == 2 and boundary.path.is_file()


def test_error_analysis_reads_the_test_pass_and_fits_the_temperature_on_validation(tmp_path):
    torch.manual_seed(0)
    net = {"_target_": "mnist_lab.nets.mlp.MLP", "hidden_dims": [8]}
    model = Classifier(net, ADAM, num_classes=3, input_shape=SHAPE)
    datamodule = Images()
    analysis = ErrorAnalysis(str(tmp_path), per_class=2, pairs=2, per_pair=1)
    events = fit_and_test(model, datamodule, [analysis], tmp_path / "tb")
    (test_images, test_labels), (val_images, val_labels) = (
        datamodule.splits["test"],
        datamodule.splits["val"],
    )
    with torch.no_grad(), evaluation_mode(model):
        test_logits, val_logits = model(test_images), model(val_images)
    # The logits the test pass computed, all of them: the same ECE as computing them again.
    assert analysis.errors[0] == pytest.approx(expected_calibration_error(test_logits, test_labels))
    assert analysis.temperature == pytest.approx(fit_temperature(val_logits, val_labels))
    assert analysis.temperature != pytest.approx(fit_temperature(test_logits, test_labels))
    # tested on the weights the last validation pass ran with: its logits, not a second pass
    assert analysis.reused_validation
    names = {"per_class.md", "per_class.csv", "confident_mistakes.png", "confusion_pairs.png"}
    assert {path.name for path in analysis.paths} == names | {"reliability.png"}
    supports = [int(line.split(",")[4]) for line in analysis.paths[1].read_text().splitlines()[1:]]
    assert supports == torch.bincount(test_labels, minlength=3).tolist()
    # In TensorBoard at the step of the test scalars: the figures and the table as text.
    for tag in ("test/reliability", "test/confident_mistakes", "test/confusion_pairs"):
        assert steps(events, tag) == steps(events, "test/loss")
    assert "test/per_class/text_summary" in events.Tags()["tensors"]
    assert "test/ece" in events.Tags()["scalars"] and "val/temperature" in events.Tags()["scalars"]


def test_error_analysis_passes_the_validation_split_again_for_other_weights(tmp_path) -> None:
    torch.manual_seed(0)
    net = {"_target_": "mnist_lab.nets.mlp.MLP", "hidden_dims": [8]}
    model = Classifier(net, ADAM, num_classes=3, input_shape=SHAPE)
    datamodule = Images()
    analysis = ErrorAnalysis(str(tmp_path), per_class=2, pairs=2, per_pair=1)
    trainer = quiet_trainer([analysis], epochs=1)
    trainer.fit(model, datamodule=datamodule)
    with torch.no_grad():
        model.net.layers[-1].bias.add_(0.5)  # no longer the weights validation ran with
    trainer.test(model, datamodule=datamodule, verbose=False)
    val_images, val_labels = datamodule.splits["val"]
    with torch.no_grad(), evaluation_mode(model):
        val_logits = model(val_images)
    assert not analysis.reused_validation
    assert analysis.temperature == pytest.approx(fit_temperature(val_logits, val_labels))


def test_error_analysis_of_points_has_its_tables_but_no_galleries(tmp_path) -> None:
    torch.manual_seed(0)
    datamodule = Toy2DDataModule(name="circle", n_samples=80, batch_size=16)
    net = {"_target_": "mnist_lab.nets.mlp.MLP", "hidden_dims": [4]}
    model = Classifier(net, ADAM, input_shape=(2,), num_classes=2)
    analysis = ErrorAnalysis(str(tmp_path))
    fit_and_test(model, datamodule, [analysis], tmp_path / "tb", epochs=1)
    assert {p.name for p in analysis.paths} == {"per_class.md", "per_class.csv", "reliability.png"}
    assert "| class 1 |" in (tmp_path / "per_class.md").read_text()
