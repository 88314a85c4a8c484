"""The adversarial recipe (CS156 bonus, 7.2): a discriminator step, then a generator step."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import lightning as L
import torch
import torch.nn.functional as F
from hydra.utils import instantiate

from mnist_lab.models.epoch_means import EpochMeans
from mnist_lab.models.optimizers import make_optimizer
from mnist_lab.models.step_losses import StepLosses
from mnist_lab.nets.layers import evaluation_mode


class GAN(L.LightningModule):
    """Trains a net with `generator`, `discriminator` and `latent_dim` by manual optimization.

    Discriminator loss, as in CS156 bonus: L(D) = -1/2 E[log D(x)] - 1/2 E[log(1 - D(G(z)))].
    Generator loss: the non-saturating -E[log D(G(z))] rather than the minimax -L(D), whose
    gradient vanishes while D still rejects every sample (early training); both have the same
    fixed point. Pixels in [0, 1] (`data.normalize=false`) are mapped to the tanh range [-1, 1].
    """

    def __init__(
        self,
        net: Mapping[str, Any],
        optimizer: Mapping[str, Any],
        num_fixed_samples: int = 64,
        num_classes: int = 10,
        input_shape: Sequence[int] = (1, 28, 28),
    ) -> None:
        super().__init__()
        self.save_hyperparameters()
        self.automatic_optimization = False  # two optimizers, stepped in turn
        self.net = instantiate(net, input_shape=list(input_shape), num_classes=num_classes)
        latent = torch.randn(
            num_fixed_samples, self.net.latent_dim, generator=torch.Generator().manual_seed(0)
        )
        # The same latent batch every epoch, so the saved grids show one generator improving.
        self.register_buffer("fixed_latent", latent)
        self.train_means = EpochMeans("g_loss", "d_loss")
        self.step_losses = StepLosses()

    def forward(self, latent: torch.Tensor) -> torch.Tensor:
        """Latent vectors [n, latent_dim] -> images [n, c, h, w] in [0, 1]."""
        return (self.net.generator(latent) + 1) / 2

    @torch.no_grad()
    def sample(self, count: int, latent: torch.Tensor | None = None) -> torch.Tensor:
        """`count` generated images in [0, 1] (from `latent` when given), in eval mode."""
        if latent is None:
            latent = torch.randn(count, self.net.latent_dim, device=self.device)
        with evaluation_mode(self.net):
            return self(latent)

    @torch.no_grad()
    def interpolate(self, start: torch.Tensor, end: torch.Tensor, steps: int = 10) -> torch.Tensor:
        """Images [steps, c, h, w] of the codes on the straight line from latent `start` to `end`
        ([latent_dim] each), both ends included: how smoothly the generator maps its space."""
        weights = torch.linspace(0, 1, steps, device=self.device)[:, None]
        return self.sample(
            steps, (1 - weights) * start.to(self.device) + weights * end.to(self.device)
        )

    def _discriminator_loss(self, real: torch.Tensor, fake: torch.Tensor) -> torch.Tensor:
        real_logits = self.net.discriminator(real)
        fake_logits = self.net.discriminator(fake)
        return 0.5 * (
            F.binary_cross_entropy_with_logits(real_logits, torch.ones_like(real_logits))
            + F.binary_cross_entropy_with_logits(fake_logits, torch.zeros_like(fake_logits))
        )

    def training_step(
        self, batch: tuple[torch.Tensor, torch.Tensor], batch_idx: int
    ) -> torch.Tensor:
        images, _ = batch
        real = images * 2 - 1
        generator_optimizer, discriminator_optimizer = self.optimizers()
        latent = torch.randn(len(real), self.net.latent_dim, device=self.device)
        fake = self.net.generator(latent)

        d_loss = self._discriminator_loss(real, fake.detach())
        discriminator_optimizer.zero_grad()
        self.manual_backward(d_loss)
        discriminator_optimizer.step()

        fake_logits = self.net.discriminator(fake)
        g_loss = F.binary_cross_entropy_with_logits(fake_logits, torch.ones_like(fake_logits))
        generator_optimizer.zero_grad()
        self.manual_backward(g_loss)
        generator_optimizer.step()

        self.train_means.update(len(real), g_loss=g_loss, d_loss=d_loss)
        self.step_losses.update(self, g_loss=g_loss, d_loss=d_loss)
        # Returned for the callbacks that watch a loss (FiniteLoss): NaN in either shows here.
        return (g_loss + d_loss).detach()

    def on_train_epoch_end(self) -> None:
        means = self.train_means.compute()
        self.log("train/g_loss", means["g_loss"], prog_bar=True)
        self.log("train/d_loss", means["d_loss"], prog_bar=True)
        self.train_means.reset()

    def test_step(self, batch: tuple[torch.Tensor, torch.Tensor], batch_idx: int) -> None:
        images, _ = batch
        latent = torch.randn(len(images), self.net.latent_dim, device=self.device)
        fake = self.net.generator(latent)
        self.log("test/d_loss", self._discriminator_loss(images * 2 - 1, fake))

    def configure_optimizers(self) -> list[torch.optim.Optimizer]:
        # Named groups: the learning-rate callback logs lr/generator and lr/discriminator.
        return [
            make_optimizer(
                [{"name": name, "params": getattr(self.net, name).parameters()}],
                self.hparams.optimizer,
            )
            for name in ("generator", "discriminator")
        ]
