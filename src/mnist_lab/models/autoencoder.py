"""The reconstruction recipe: mean squared error between an image and its reconstruction."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import lightning as L
import torch
import torch.nn.functional as F
from hydra.utils import instantiate
from torchmetrics import MeanMetric

from mnist_lab.models.epoch_means import EpochMeans
from mnist_lab.models.optimizers import fused_allowed, make_optimizer
from mnist_lab.models.step_losses import StepLosses


class Autoencoder(L.LightningModule):
    """Trains any net with `encode`, `decode` and `forward` (image -> reconstruction) on MSE.

    Labels are never used for training; they only colour the figures the callbacks draw.
    """

    def __init__(
        self,
        net: Mapping[str, Any],
        optimizer: Mapping[str, Any],
        num_classes: int = 10,
        input_shape: Sequence[int] = (1, 28, 28),
    ) -> None:
        super().__init__()
        self.save_hyperparameters()
        self.net = instantiate(net, input_shape=list(input_shape), num_classes=num_classes)
        self.example_input_array = torch.zeros(1, *input_shape)  # for per-layer output shapes
        self.train_means = EpochMeans("loss")
        self.step_losses = StepLosses()
        # Evaluation sums live in metrics, so data-parallel ranks add them up exactly.
        self.val_loss = MeanMetric()
        self.test_loss = MeanMetric()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        return self.net.encode(x)

    def _loss(self, batch: tuple[torch.Tensor, torch.Tensor]) -> torch.Tensor:
        x, _ = batch
        return F.mse_loss(self(x), x)

    def training_step(
        self, batch: tuple[torch.Tensor, torch.Tensor], batch_idx: int
    ) -> torch.Tensor:
        loss = self._loss(batch)
        # The epoch mean accumulates in a metric, the step loss only as often as the loggers
        # write it: a self.log per step costs as much as the step itself on a CPU.
        self.train_means.update(len(batch[0]), loss=loss)
        self.step_losses.update(self, loss=loss)
        return loss

    def on_train_epoch_end(self) -> None:
        self.log("train/loss_epoch", self.train_means.compute()["loss"], prog_bar=True)
        self.train_means.reset()

    def validation_step(self, batch: tuple[torch.Tensor, torch.Tensor], batch_idx: int) -> None:
        self.val_loss.update(self._loss(batch), len(batch[0]))
        self.log("val/loss", self.val_loss, prog_bar=True)

    def test_step(self, batch: tuple[torch.Tensor, torch.Tensor], batch_idx: int) -> None:
        self.test_loss.update(self._loss(batch), len(batch[0]))
        self.log("test/loss", self.test_loss)

    def configure_optimizers(self) -> torch.optim.Optimizer:
        return make_optimizer(
            self.parameters(), self.hparams.optimizer, fused=fused_allowed(self._trainer)
        )
