"""Figure callbacks: the confusion matrix, decision regions, reconstructions, codes, samples."""

from __future__ import annotations

from pathlib import Path

import lightning as L
import numpy as np
import torch
from matplotlib.figure import Figure

from mnist_lab import LabError
from mnist_lab.analysis.probes import knn_accuracy
from mnist_lab.callbacks._publish import (
    logged_step,
    publish_figure,
    render_figure,
    save_pixels,
    send_pixels,
    tensorboard_logger,
)
from mnist_lab.nets.layers import evaluation_mode
from mnist_lab.plots.images import (
    code_manifold_figure,
    confusion_matrix_figure,
    decision_boundary_figure,
    embedding_comparison_figure,
    image_grid,
    interpolation_figure,
    reconstruction_figure,
)
from mnist_lab.runtime.rundir import DECISION_BOUNDARY_FILE, SAMPLES_PATTERN


class ConfusionMatrixFigure(L.Callback):
    """After testing, draws the confusion matrix; saves it as PNG and sends it to TensorBoard."""

    def __init__(self, output_dir: str | None = None, filename: str = "confusion_matrix.png"):
        self.output_dir = output_dir
        self.filename = filename
        self.path: Path | None = None

    def on_test_epoch_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        # Every rank computes: under data-parallel training this sums the ranks' matrices.
        matrix = pl_module.test_confusion.compute().cpu().numpy()
        if not trainer.is_global_zero:
            return
        datamodule = trainer.datamodule
        names = list(datamodule.spec.classes) if datamodule is not None else None
        names = names or [str(i) for i in range(len(matrix))]
        dataset = datamodule.spec.name if datamodule is not None else "test set"
        fig = confusion_matrix_figure(matrix, names, title=f"{dataset} test confusion")
        self.path = publish_figure(
            fig, self.output_dir, self.filename, trainer, "test/confusion_matrix"
        )


class DecisionBoundary(L.Callback):
    """Draws a model's decision regions on 2-D points as it trains.

    Sent to TensorBoard as `decision_boundary` at the step of `images` epochs spread evenly over
    the run, the last one included, so its slider shows the boundary form; the last is saved as
    `decision_boundary.png` when fitting ends. TensorBoard keeps 10 images of a tag unless told
    otherwise (`--samples_per_plugin images=N`), so that is the default: drawing every epoch
    cost 0.14 s of CPU an epoch, four times a toy epoch's training, and most of the drawings
    were never shown. Only inputs in the plane have such a picture: a classifier of images
    draws none.
    """

    def __init__(
        self,
        output_dir: str | None = None,
        resolution: int = 200,
        margin: float = 0.2,
        images: int = 10,
    ):
        self.output_dir = output_dir
        self.resolution = resolution
        self.margin = margin
        self.images = images
        self.path: Path | None = None
        self._pixels: np.ndarray | None = None
        self._drawn_after = 0

    def drawn_epochs(self, max_epochs: int) -> set[int]:
        """The epoch counts after which the boundary is drawn: `images` of 1..max_epochs, evenly
        spread, the last included."""
        return {int(e) for e in np.linspace(max_epochs, 1, max(self.images, 1)).round()}

    def on_train_epoch_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        epochs = trainer.current_epoch + 1
        if epochs in self.drawn_epochs(max(trainer.max_epochs or epochs, epochs)):
            self.draw(trainer, pl_module, epochs)

    def on_fit_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        epochs = trainer.current_epoch
        if self._drawn_after != epochs and epochs > 0:  # stopped before its last drawn epoch
            self.draw(trainer, pl_module, epochs, send=False)
        if self._pixels is not None:
            self.path = save_pixels(self._pixels, self.output_dir, DECISION_BOUNDARY_FILE)

    @torch.no_grad()
    def draw(
        self, trainer: L.Trainer, pl_module: L.LightningModule, epochs: int, send: bool = True
    ) -> None:
        """Render the regions after `epochs` epochs (and send them to TensorBoard)."""
        datamodule = trainer.datamodule
        if not trainer.is_global_zero or tuple(datamodule.input_shape) != (2,):
            return
        points, labels = datamodule.on_device("train")
        low, high = points.min(0).values, points.max(0).values
        pad = self.margin * (high - low).clamp(min=1.0)
        axes = [
            torch.linspace(lo - p, hi + p, self.resolution, device=points.device)
            for lo, hi, p in zip(low.tolist(), high.tolist(), pad.tolist(), strict=True)
        ]
        grid_y, grid_x = torch.meshgrid(axes[1], axes[0], indexing="ij")
        with evaluation_mode(pl_module):
            grid = torch.stack([grid_x.flatten(), grid_y.flatten()], dim=1)
            probabilities = pl_module(grid).softmax(-1)
            accuracy = (pl_module(points).argmax(-1) == labels).float().mean().item()
        shape = (*grid_x.shape, probabilities.shape[-1])
        fig = decision_boundary_figure(
            grid_x.cpu().numpy(),
            grid_y.cpu().numpy(),
            probabilities.reshape(shape).cpu().numpy(),
            points.cpu().numpy(),
            labels.cpu().numpy(),
            list(datamodule.spec.classes),
            title=f"{datamodule.spec.name} after {epochs} epoch{'s' * (epochs != 1)}: "
            f"train acc {accuracy:.3f}",
        )
        self._pixels = render_figure(fig)
        self._drawn_after = epochs
        if send:
            send_pixels(self._pixels, trainer, "decision_boundary")


class Reconstructions(L.Callback):
    """Shows what an autoencoder makes of images it did not train on.

    Every validation epoch: a grid of `grid_size` validation images above their reconstructions
    goes to TensorBoard (`val/reconstructions`). After testing: CS541 HW3's figure, `pairs` test
    images above their reconstructions, labelled, saved as `reconstructions.png`.
    """

    def __init__(
        self, output_dir: str | None = None, grid_size: int = 32, pairs: int = 2, columns: int = 16
    ) -> None:
        self.output_dir = output_dir
        self.grid_size = grid_size
        self.pairs = pairs
        self.columns = columns
        self.path: Path | None = None

    @torch.no_grad()
    def on_validation_epoch_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        tensorboard = tensorboard_logger(trainer)
        if trainer.sanity_checking or tensorboard is None or not trainer.is_global_zero:
            return
        images = trainer.datamodule.on_device("val")[0][: self.grid_size]
        rebuilt = pl_module(images)
        # Rows alternate: a row of originals, then the same images rebuilt.
        rows = [
            part[start : start + self.columns]
            for start in range(0, len(images), self.columns)
            for part in (images, rebuilt)
        ]
        grid = image_grid(torch.cat(rows).clamp(0, 1).cpu().numpy(), self.columns)
        tensorboard.experiment.add_image(
            "val/reconstructions", grid[None], logged_step(trainer), dataformats="CHW"
        )

    @torch.no_grad()
    def on_test_epoch_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        if not trainer.is_global_zero:
            return
        datamodule = trainer.datamodule
        images, labels = datamodule.on_device("test")
        images, labels = images[: self.pairs], labels[: self.pairs].tolist()
        rebuilt = pl_module(images)
        errors = ((rebuilt - images) ** 2).flatten(1).mean(1).tolist()
        fig = reconstruction_figure(
            images.cpu().numpy(),
            rebuilt.cpu().numpy(),
            [f"test #{i}: {datamodule.spec.classes[label]}" for i, label in enumerate(labels)],
            [f"MSE {error:.4f}" for error in errors],
            title=f"{datamodule.spec.name}: test images (top) and reconstructions (bottom)",
        )
        self.path = publish_figure(
            fig, self.output_dir, "reconstructions.png", trainer, "test/reconstructions"
        )


# The projector's name for the codes, which says what the third column is.
PROJECTOR_TAG = "autoencoder_code_2d_with_zero_3rd_column"


class CodeEmbedding(L.Callback):
    """After testing, compares an autoencoder's 2-D codes with PCA's 2-D projection (APML ex3).

    Both embed the same `num_points` random test images; PCA is fit on the training images,
    as the autoencoder was. Each is scored by `knn_accuracy` (logged as `test/knn_acc_ae` and
    `test/knn_acc_pca`), the scatter plots are saved as `code_vs_pca.png` (the faithful view),
    and the codes go to TensorBoard's projector with label metadata and the digits as sprites,
    padded with a zero third column (`PROJECTOR_TAG`): the projector draws no point of a
    2-column tensor (TensorBoard issue #1204). Then the code plane itself: a `manifold_size`
    x `manifold_size` grid of codes over the middle 98% of the test codes, each decoded
    (`code_manifold.png`, the classic "manifold" picture; 0: none).
    """

    def __init__(
        self,
        output_dir: str | None = None,
        num_points: int = 5000,
        seed: int = 0,
        manifold_size: int = 15,
    ):
        self.output_dir = output_dir
        self.num_points = num_points
        self.seed = seed
        self.manifold_size = manifold_size
        self.path: Path | None = None
        self.manifold_path: Path | None = None

    @torch.no_grad()
    def on_test_epoch_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        from sklearn.decomposition import PCA

        if not trainer.is_global_zero:
            return
        datamodule = trainer.datamodule
        images, labels = datamodule.on_device("test")
        generator = torch.Generator().manual_seed(self.seed)
        chosen = torch.randperm(len(labels), generator=generator)[: self.num_points]
        images, labels = images[chosen.to(images.device)], labels[chosen.to(labels.device)]
        codes = pl_module.encode(images).cpu().numpy()
        if codes.shape[1] != 2:
            raise LabError(
                f"CodeEmbedding compares 2-D codes with PCA; this model's code has "
                f"{codes.shape[1]} dimensions (set model.net.code_size=2)"
            )
        train_images = datamodule.on_device("train")[0].flatten(1).cpu().numpy()
        pca = PCA(n_components=2, random_state=self.seed).fit(train_images)
        projected = pca.transform(images.flatten(1).cpu().numpy())
        label_array = labels.cpu().numpy()
        embeddings = {"autoencoder 2-D code": codes, "PCA, 2 components": projected}
        scores = {name: knn_accuracy(points, label_array) for name, points in embeddings.items()}
        ae_score, pca_score = scores.values()
        pl_module.log("test/knn_acc_ae", ae_score)
        pl_module.log("test/knn_acc_pca", pca_score)
        fig = embedding_comparison_figure(
            embeddings,
            label_array,
            list(datamodule.spec.classes),
            scores,
            score_name="10-NN accuracy on held-out half",
        )
        self.path = publish_figure(
            fig, self.output_dir, "code_vs_pca.png", trainer, "test/code_vs_pca"
        )
        if (tensorboard := tensorboard_logger(trainer)) is not None:
            names = [datamodule.spec.classes[label] for label in label_array]
            padded = torch.nn.functional.pad(torch.from_numpy(codes), (0, 1))
            tensorboard.experiment.add_embedding(
                padded,
                metadata=names,
                label_img=images.cpu(),
                global_step=logged_step(trainer),
                tag=PROJECTOR_TAG,
            )
        if self.manifold_size > 0:
            self._draw_manifold(trainer, pl_module, codes)

    def _draw_manifold(
        self, trainer: L.Trainer, pl_module: L.LightningModule, codes: np.ndarray
    ) -> None:
        # Percentiles, not the extremes: a few far-out codes would leave most tiles empty.
        low, high = np.percentile(codes, [1, 99], axis=0)
        xs = np.linspace(low[0], high[0], self.manifold_size)
        ys = np.linspace(low[1], high[1], self.manifold_size)
        grid = np.stack(np.meshgrid(xs, ys), axis=-1).reshape(-1, 2)  # row i: ys[i]
        with evaluation_mode(pl_module):
            grid_codes = torch.as_tensor(grid, dtype=torch.float32, device=pl_module.device)
            images = pl_module.net.decode(grid_codes).cpu().numpy()
        fig = code_manifold_figure(
            images.reshape(self.manifold_size, self.manifold_size, *images.shape[1:]),
            xs.tolist(),
            ys.tolist(),
            f"The 2-D code plane decoded: {self.manifold_size}x{self.manifold_size} codes over "
            "the middle 98% of the test codes",
        )
        self.manifold_path = publish_figure(
            fig, self.output_dir, "code_manifold.png", trainer, "test/code_manifold"
        )


class GeneratedSamples(L.Callback):
    """After every training epoch, a GAN's samples from its fixed latent batch, epoch written on.

    Saved as `samples_epoch_001.png`, `samples_epoch_002.png`, ... in the run dir, so the files
    show one generator improving, and sent to TensorBoard as `samples` at the epoch's step.
    When fitting ends, `interpolation.png` (TensorBoard: `samples/interpolation`): for each of
    `interpolation_rows` pairs of random codes (seeded by `seed`), the images of
    `interpolation_steps` codes on the line between them.
    """

    def __init__(
        self,
        output_dir: str | None = None,
        columns: int = 8,
        interpolation_rows: int = 6,
        interpolation_steps: int = 10,
        seed: int = 0,
    ) -> None:
        self.output_dir = output_dir
        self.columns = columns
        self.interpolation_rows = interpolation_rows
        self.interpolation_steps = interpolation_steps
        self.seed = seed
        self.path: Path | None = None

    def on_train_epoch_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        if not trainer.is_global_zero:
            return
        images = pl_module.sample(0, pl_module.fixed_latent).cpu().numpy()
        epoch = trainer.current_epoch + 1
        fig = Figure(figsize=(6, 6.4), layout="constrained")
        ax = fig.add_subplot()
        ax.imshow(image_grid(images, self.columns), cmap="gray", vmin=0, vmax=1)
        ax.set_axis_off()
        ax.set_title(f"GAN samples from a fixed latent batch, after epoch {epoch}")
        publish_figure(
            fig, self.output_dir, SAMPLES_PATTERN.format(epoch=epoch), trainer, "samples"
        )

    def on_fit_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        if not trainer.is_global_zero or self.interpolation_rows < 1:
            return
        # Their own stream: the codes are the same whichever epoch the run stopped at.
        generator = torch.Generator().manual_seed(self.seed)
        codes = torch.randn(
            self.interpolation_rows, 2, pl_module.net.latent_dim, generator=generator
        )
        rows = [pl_module.interpolate(*pair, self.interpolation_steps) for pair in codes]
        epochs = trainer.current_epoch
        fig = interpolation_figure(
            torch.stack(rows).cpu().numpy(),
            f"Between two random codes z1 (left) and z2 (right), after {epochs} epoch"
            f"{'s' * (epochs != 1)}",
        )
        self.path = publish_figure(
            fig, self.output_dir, "interpolation.png", trainer, "samples/interpolation"
        )
