"""The supervised recipe: cross-entropy, a configurable optimizer, penalties on weights only."""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from typing import Any

import lightning as L
import torch
import torch.nn.functional as F
from hydra.utils import instantiate
from torch import nn
from torchmetrics import MaxMetric, MeanMetric
from torchmetrics.classification import MulticlassAccuracy, MulticlassConfusionMatrix

from mnist_lab.models.epoch_means import EpochMeans
from mnist_lab.models.optimizers import fused_allowed, make_optimizer
from mnist_lab.models.step_losses import StepLosses

PENALIZED_LAYERS = (nn.Linear, nn.Conv2d)


def penalized_weights(net: nn.Module) -> Iterator[nn.Parameter]:
    """The weight matrices/kernels of Linear and Conv layers: never biases or norm parameters."""
    for module in net.modules():
        if isinstance(module, PENALIZED_LAYERS):
            yield module.weight


class Classifier(L.LightningModule):
    """Trains any `nn.Module` that maps images to class logits.

    `weight_decay` is the L2 strength lambda: each penalised weight gets lambda * w added to
    its gradient, i.e. the loss gains lambda/2 * ||w||^2 (AdamW decays the weights directly
    instead). `l1` adds l1 * sum|w| to the loss. Both touch only Linear/Conv weights.
    `channels_last` stores convolution kernels in NHWC order, which is faster for convnets.
    """

    def __init__(
        self,
        net: Mapping[str, Any],
        optimizer: Mapping[str, Any],
        scheduler: Mapping[str, Any] | None = None,
        l1: float = 0.0,
        channels_last: bool = False,
        num_classes: int = 10,
        input_shape: Sequence[int] = (1, 28, 28),
    ) -> None:
        super().__init__()
        self.save_hyperparameters()
        self.net = instantiate(net, input_shape=list(input_shape), num_classes=num_classes)
        if channels_last:
            # Convolutions on a CPU run ~20% faster in NHWC order (oneDNN's native layout).
            self.net.to(memory_format=torch.channels_last)
        self.example_input_array = torch.zeros(1, *input_shape)  # for per-layer output shapes
        # No checks on the training batches: each costs a host-device sync per step on a GPU.
        # The labels were checked when the data was loaded; FiniteLoss watches for NaN losses.
        self.train_means = EpochMeans("loss", "acc")
        self.step_losses = StepLosses()
        # Evaluation sums live in metrics, so data-parallel ranks add them up exactly.
        self.val_loss = MeanMetric()
        self.val_acc = MulticlassAccuracy(num_classes, average="micro")
        self.test_loss = MeanMetric()
        self.test_acc = MulticlassAccuracy(num_classes, average="micro")
        self.val_acc_best = MaxMetric()
        self.test_confusion = MulticlassConfusionMatrix(num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)

    def training_step(
        self, batch: tuple[torch.Tensor, torch.Tensor], batch_idx: int
    ) -> torch.Tensor:
        x, y = batch
        logits = self(x)
        loss = F.cross_entropy(logits, y)
        # Each self.log call costs about a millisecond of bookkeeping, as much as a whole MLP
        # step on a CPU: the epoch figures accumulate in metrics and are logged once per epoch,
        # the step loss (the mean since the last write) only as often as the loggers write it.
        self.train_means.update(len(y), loss=loss, acc=(logits.argmax(1) == y).float().mean())
        self.step_losses.update(self, loss=loss)
        if self.hparams.l1 > 0:
            penalty = self.hparams.l1 * sum(w.abs().sum() for w in penalized_weights(self.net))
            self.l1_penalty = penalty.detach()
            loss = loss + penalty
        return loss

    def on_train_epoch_end(self) -> None:
        means = self.train_means.compute()
        self.log("train/loss_epoch", means["loss"])
        self.log("train/acc", means["acc"], prog_bar=True)
        self.train_means.reset()
        if self.hparams.l1 > 0:
            self.log("train/l1_penalty", self.l1_penalty)

    def validation_step(
        self, batch: tuple[torch.Tensor, torch.Tensor], batch_idx: int
    ) -> torch.Tensor:
        x, y = batch
        logits = self(x)
        self.val_loss.update(F.cross_entropy(logits, y), len(y))
        self.val_acc.update(logits, y)
        self.log("val/loss", self.val_loss, prog_bar=True)
        self.log("val/acc", self.val_acc, prog_bar=True)
        # ErrorAnalysis keeps the last pass's logits: the test may run on these very weights.
        return logits

    def on_validation_epoch_end(self) -> None:
        if self.trainer.sanity_checking:
            return
        self.val_acc_best(self.val_acc.compute())
        self.log("val/acc_best", self.val_acc_best.compute())

    def on_save_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        # Metric states are not in the state dict; a resumed run needs the best so far.
        if self.val_acc_best.update_count:
            checkpoint["val_acc_best"] = self.val_acc_best.compute().item()

    def on_load_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        if "val_acc_best" in checkpoint:
            self.val_acc_best.update(torch.tensor(checkpoint["val_acc_best"]))

    @property
    def test_split(self) -> str:
        """The test numbers' prefix: `test`, or the data's own name for rows it is tested on
        that are not held out (a gate's truth table: `truth_table/acc`)."""
        datamodule = self.trainer.datamodule if self._trainer is not None else None
        return datamodule.spec.test_split if datamodule is not None else "test"

    def test_step(self, batch: tuple[torch.Tensor, torch.Tensor], batch_idx: int) -> torch.Tensor:
        x, y = batch
        logits = self(x)
        self.test_loss.update(F.cross_entropy(logits, y), len(y))
        self.test_acc.update(logits, y)
        self.test_confusion.update(logits, y)
        self.log(f"{self.test_split}/loss", self.test_loss)
        self.log(f"{self.test_split}/acc", self.test_acc)
        # Callbacks get them in on_test_batch_end (ErrorAnalysis): the logits of one pass.
        return logits

    def on_test_epoch_start(self) -> None:
        self.test_confusion.reset()

    def configure_optimizers(self) -> dict[str, Any]:
        settings = dict(self.hparams.optimizer)
        weight_decay = settings.pop("weight_decay", 0.0)
        decayed = {id(w) for w in penalized_weights(self.net)}
        # Named groups: the learning-rate callback logs them as lr/<group> if their rates differ.
        groups = [
            {
                "name": "weights",
                "params": [p for p in self.parameters() if id(p) in decayed],
                "weight_decay": weight_decay,
            },
            {
                "name": "biases_and_norms",
                "params": [p for p in self.parameters() if id(p) not in decayed],
                "weight_decay": 0.0,
            },
        ]
        optimizer = make_optimizer(groups, settings, fused=fused_allowed(self._trainer))
        scheduler = self.make_scheduler(optimizer)
        if scheduler is None:
            return {"optimizer": optimizer}
        return {"optimizer": optimizer, "lr_scheduler": scheduler}

    def make_scheduler(self, optimizer: torch.optim.Optimizer) -> dict[str, Any] | None:
        settings = dict(self.hparams.scheduler or {"name": "none"})
        name = settings.pop("name", "none")
        if name == "none":
            return None
        lr = self.hparams.optimizer["lr"]
        if name == "onecycle":
            total = self.trainer.estimated_stepping_batches
            schedule = torch.optim.lr_scheduler.OneCycleLR(
                optimizer, max_lr=lr, total_steps=int(total), **settings
            )
            return {"scheduler": schedule, "interval": "step"}
        if name == "cosine":
            epochs = max(self.trainer.max_epochs or 1, 1)
            schedule = torch.optim.lr_scheduler.CosineAnnealingLR(
                optimizer, T_max=epochs, **settings
            )
        else:
            schedule = torch.optim.lr_scheduler.StepLR(optimizer, **settings)
        return {"scheduler": schedule, "interval": "epoch"}
