"""Step losses: the value written at a step is the mean of the losses since the last write."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import lightning as L
import pytest
import torch
from lightning.pytorch.callbacks import RichProgressBar
from lightning.pytorch.loggers import Logger
from torch.utils.data import DataLoader, TensorDataset

from mnist_lab.callbacks import LearningRates, ProgressBar
from mnist_lab.models.autoencoder import Autoencoder
from mnist_lab.models.classifier import Classifier
from mnist_lab.models.gan import GAN

SHAPE = (1, 4, 4)
ADAM = {"name": "adam", "lr": 0.01}


class RecordingLogger(Logger):
    """Keeps every (step, metrics) the trainer writes."""

    def __init__(self) -> None:
        super().__init__()
        self.rows: list[tuple[int | None, dict[str, float]]] = []

    @property
    def name(self) -> str:
        return "recording"

    @property
    def version(self) -> int:
        return 0

    def log_metrics(self, metrics: dict[str, float], step: int | None = None) -> None:
        self.rows.append((step, dict(metrics)))

    def log_hyperparams(self, params: Any, *args: Any, **kwargs: Any) -> None:
        pass

    def values(self, tag: str) -> dict[int, float]:
        """Step -> the value written for `tag` at that step."""
        return {step: row[tag] for step, row in self.rows if tag in row and step is not None}


def fit(
    module: L.LightningModule,
    every: int,
    batches: int = 12,
    epochs: int = 1,
    callbacks: Sequence[L.Callback] = (),
) -> RecordingLogger:
    """Train `module` on `batches` fixed batches of 4x4 images; what its logger was given."""
    torch.manual_seed(0)
    images = torch.rand(8 * batches, *SHAPE)
    labels = torch.randint(0, 3, (8 * batches,))
    logger = RecordingLogger()
    trainer = L.Trainer(
        accelerator="cpu",
        max_epochs=epochs,
        log_every_n_steps=every,
        logger=logger,
        callbacks=list(callbacks),
        limit_val_batches=0,
        enable_checkpointing=False,
        enable_progress_bar=any(isinstance(c, RichProgressBar) for c in callbacks),
        enable_model_summary=False,
    )
    trainer.fit(module, DataLoader(TensorDataset(images, labels), batch_size=8))
    return logger


def classifier(scheduler: dict[str, Any] | None = None) -> Classifier:
    torch.manual_seed(1)
    net = {"_target_": "mnist_lab.nets.mlp.MLP", "hidden_dims": [8]}
    return Classifier(net, ADAM, scheduler, num_classes=3, input_shape=SHAPE)


def test_the_classifiers_step_loss_is_the_mean_since_the_last_write() -> None:
    every_step = fit(classifier(), every=1).values("train/loss_step")
    assert sorted(every_step) == list(range(12))  # one value per batch: each batch's own loss
    every_fourth = fit(classifier(), every=4).values("train/loss_step")
    assert sorted(every_fourth) == [3, 7, 11]  # the steps Lightning writes
    for step, value in every_fourth.items():
        since_last = [every_step[s] for s in range(step - 3, step + 1)]
        # (the old scheme wrote batch 0's, 4's and 8's losses at these steps)
        assert value == pytest.approx(sum(since_last) / 4)


def test_a_step_loss_never_reaches_back_into_the_previous_epoch() -> None:
    every_step = fit(classifier(), every=1, batches=6, epochs=2).values("train/loss_step")
    every_fourth = fit(classifier(), every=4, batches=6, epochs=2).values("train/loss_step")
    assert sorted(every_fourth) == [3, 7, 11]
    # step 7 is the second batch of epoch 2: the mean of steps 6 and 7, as a resumed run (which
    # replays the epoch from its start) also logs it
    assert every_fourth[7] == pytest.approx((every_step[6] + every_step[7]) / 2)
    assert every_fourth[11] == pytest.approx(sum(every_step[s] for s in range(8, 12)) / 4)


@pytest.mark.parametrize(
    ("module", "tags"),
    [
        (
            lambda: Autoencoder(
                {"_target_": "mnist_lab.nets.autoencoder.DenseAutoencoder", "code_size": 2},
                ADAM,
                input_shape=SHAPE,
            ),
            ["train/loss_step"],
        ),
        (
            lambda: GAN(
                {"_target_": "mnist_lab.nets.gan.DenseGAN", "latent_dim": 4},
                ADAM,
                num_fixed_samples=4,
                input_shape=SHAPE,
            ),
            ["train/g_loss_step", "train/d_loss_step"],
        ),
    ],
    ids=["autoencoder", "gan"],
)
def test_autoencoder_and_gan_log_step_losses_on_the_written_steps(module, tags) -> None:
    torch.manual_seed(2)
    every_step = fit(module(), every=1, batches=6)
    torch.manual_seed(2)
    every_third = fit(module(), every=3, batches=6)
    for tag in tags:
        single = every_step.values(tag)
        assert sorted(single) == list(range(6))
        means = every_third.values(tag)
        assert sorted(means) == [2, 5]
        for step, value in means.items():
            assert value == pytest.approx(sum(single[s] for s in range(step - 2, step + 1)) / 3)


def test_the_progress_bar_shows_the_loss_just_written(monkeypatch) -> None:
    shown: list[tuple[int, float]] = []

    def record(bar, trainer, module) -> None:
        if trainer.training and "train/loss_step" in trainer.progress_bar_metrics:
            step = trainer.fit_loop.epoch_loop._batches_that_stepped
            shown.append((step, trainer.progress_bar_metrics["train/loss_step"]))

    monkeypatch.setattr(RichProgressBar, "_update_metrics", record)
    logged = fit(classifier(), every=4, callbacks=[ProgressBar()]).values("train/loss_step")
    batch_ends = shown[:-1]  # the last read is the epoch's end, after the step counter moved
    assert [step for step, _ in batch_ends] == [3, 7, 11]
    assert all(value == pytest.approx(logged[step]) for step, value in batch_ends)


def test_a_one_cycle_schedule_is_logged_per_step_and_a_constant_rate_per_epoch() -> None:
    one_cycle = classifier({"name": "onecycle"})
    rates = fit(one_cycle, every=2, callbacks=[LearningRates()]).values("lr/net")
    assert sorted(rates) == [0, 1, 3, 5, 7, 9, 11]  # the first step and every written one
    assert rates[5] > rates[0] and rates[11] < rates[5]  # up, then down
    constant = fit(classifier(), every=2, epochs=3, callbacks=[LearningRates()])
    assert constant.values("lr/net") == {0: 0.01, 12: 0.01, 24: 0.01}  # each epoch's start
    assert not any(tag.startswith("lr-") for _, row in constant.rows for tag in row)
