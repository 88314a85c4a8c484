"""The error analysis at the end of a classifier's test: what it gets wrong, and how sure it is."""

from __future__ import annotations

from pathlib import Path

import lightning as L
import numpy as np
import torch

from mnist_lab.analysis.errors import (
    calibration_bins,
    confident_mistakes,
    confusion_counts,
    confusion_pairs,
    expected_calibration_error,
    fit_temperature,
    most_confident,
    per_class_csv,
    per_class_markdown,
    per_class_table,
)
from mnist_lab.callbacks._publish import logged_step, publish_figure, tensorboard_logger
from mnist_lab.nets.layers import evaluation_mode
from mnist_lab.plots.errors import GalleryRow, gallery_figure, reliability_figure
from mnist_lab.runtime.atomic import atomic_write_text
from mnist_lab.runtime.rundir import (
    CONFIDENT_MISTAKES_FILE,
    CONFUSION_PAIRS_FILE,
    PER_CLASS_CSV,
    PER_CLASS_FILE,
    RELIABILITY_FILE,
)

# Validation images go through the model in chunks of the evaluation loaders' default size.
CHUNK = 1000


class ErrorAnalysis(L.Callback):
    """After testing a classifier, from the logits its test pass computed (kept on the device,
    no sync per step):

    - `per_class.md` / `.csv` (and TensorBoard text `test/per_class`): precision, recall, F1,
      support and the most-confused class per class, then the most frequent confused pairs;
    - where the inputs are images, `confident_mistakes.png` (each true class's `per_class`
      wrong predictions the model was surest of) and `confusion_pairs.png` (the `pairs` pairs
      confused most, `per_pair` images each way);
    - `reliability.png` and `test/ece`: the top-1 expected calibration error, before and after
      temperature scaling, the temperature (`val/temperature`) fitted on the validation split,
      never the test set.

    The validation logits are those of the last validation pass when the tested weights are the
    ones it ran with (the best epoch was the last, or the test runs on the last weights), checked
    by a fingerprint of the weights; only otherwise does the validation split go through the
    model again (a third of a short CNN run's evaluation work).
    """

    def __init__(
        self,
        output_dir: str | None = None,
        per_class: int = 5,
        pairs: int = 4,
        per_pair: int = 4,
    ) -> None:
        self.output_dir = output_dir
        self.per_class = per_class
        self.pairs = pairs
        self.per_pair = per_pair
        self.paths: list[Path] = []
        self.temperature: float | None = None
        self.errors: tuple[float, float] | None = None  # ECE before, after temperature scaling
        self._logits: list[torch.Tensor] = []
        self._labels: list[torch.Tensor] = []
        self._val_logits: list[torch.Tensor] = []
        # (weights' fingerprint, logits) of the last full validation pass
        self._last_validation: tuple[tuple[float, ...], torch.Tensor] | None = None
        self.reused_validation = False

    def on_validation_epoch_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        self._val_logits = []

    def on_validation_batch_end(
        self,
        trainer: L.Trainer,
        pl_module: L.LightningModule,
        outputs: torch.Tensor | None,
        batch: tuple[torch.Tensor, torch.Tensor],
        batch_idx: int,
        dataloader_idx: int = 0,
    ) -> None:
        if isinstance(outputs, torch.Tensor) and not trainer.sanity_checking:
            self._val_logits.append(outputs.detach())

    def on_validation_epoch_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        if trainer.sanity_checking or not self._val_logits:
            return
        # Kept only if it saw the whole split in order, on one process.
        logits, self._val_logits = torch.cat(self._val_logits), []
        split = getattr(trainer.datamodule, "splits", {}).get("val")
        whole = trainer.world_size == 1 and split is not None and len(logits) == len(split[1])
        self._last_validation = (fingerprint(pl_module), logits) if whole else None

    def validation_logits(
        self, trainer: L.Trainer, pl_module: L.LightningModule, inputs: torch.Tensor
    ) -> torch.Tensor:
        """The model's validation logits: the last validation pass's if it ran on these weights,
        else computed now at the test's precision (bf16 autocast under bf16-mixed), so that
        the temperature is fitted to logits made as the test's were."""
        last, self._last_validation = self._last_validation, None
        self.reused_validation = last is not None and last[0] == fingerprint(pl_module)
        if self.reused_validation:
            return last[1].float()
        with evaluation_mode(pl_module), trainer.precision_plugin.test_step_context():
            logits = torch.cat([pl_module(chunk) for chunk in inputs.split(CHUNK)])
        return logits.float()

    def on_test_epoch_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        self._logits, self._labels = [], []

    def on_test_batch_end(
        self,
        trainer: L.Trainer,
        pl_module: L.LightningModule,
        outputs: torch.Tensor,
        batch: tuple[torch.Tensor, torch.Tensor],
        batch_idx: int,
        dataloader_idx: int = 0,
    ) -> None:
        self._logits.append(outputs.detach())
        self._labels.append(batch[1])

    @torch.no_grad()
    def on_test_epoch_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        if not self._labels:
            return
        logits, labels = in_test_order(trainer, torch.cat(self._logits), torch.cat(self._labels))
        self._logits, self._labels = [], []
        if not trainer.is_global_zero:
            return
        datamodule = trainer.datamodule
        names = list(datamodule.spec.classes)
        split = pl_module.test_split
        val_inputs, val_labels = datamodule.on_device("val")
        val_logits = self.validation_logits(trainer, pl_module, val_inputs)
        self.temperature = fit_temperature(val_logits, val_labels)
        self.errors = (
            expected_calibration_error(logits, labels),
            expected_calibration_error(logits / self.temperature, labels),
        )
        pl_module.log(f"{split}/ece", self.errors[0])
        pl_module.log(f"{split}/ece_temperature_scaled", self.errors[1])
        pl_module.log("val/temperature", self.temperature)

        probabilities = logits.double().softmax(1).cpu().numpy()
        labels = labels.cpu().numpy()
        predictions = probabilities.argmax(1)
        matrix = confusion_counts(labels, predictions, len(names))
        pairs = confusion_pairs(matrix, self.pairs)
        spec = datamodule.spec
        tested = f"{len(labels)} {spec.name} {split.replace('_', '-')} {spec.items}"
        accuracy = float((predictions == labels).mean())
        caption = (
            f"Per-class results on {tested}: accuracy {accuracy:.4f}, ECE {self.errors[0]:.4f}, "
            f"{self.errors[1]:.4f} after temperature scaling (T = {self.temperature:.3f}, "
            f"fitted on {len(val_labels)} validation {spec.items})"
        )
        table = per_class_table(matrix, names)
        markdown = per_class_markdown(table, pairs, caption)
        self.paths = []
        if self.output_dir:
            folder = Path(self.output_dir)
            self.paths += [
                atomic_write_text(folder / PER_CLASS_FILE, markdown),
                atomic_write_text(folder / PER_CLASS_CSV, per_class_csv(table)),
            ]
        if (tensorboard := tensorboard_logger(trainer)) is not None:
            tensorboard.experiment.add_text(f"{split}/per_class", markdown, logged_step(trainer))

        figures = {}
        # Images only: a toy problem's 2-D points have none, and a model never wrong no gallery.
        if len(datamodule.input_shape) == 3 and pairs:
            images = datamodule.on_device("test")[0][: len(labels)].cpu().numpy()
            figures[CONFIDENT_MISTAKES_FILE] = gallery_figure(
                images,
                self._mistake_rows(labels, probabilities, names),
                f"The most confident mistakes on {tested}: the true class at the left, the "
                f"predicted class and its probability above each image",
            )
            figures[CONFUSION_PAIRS_FILE] = gallery_figure(
                images,
                self._pair_rows(labels, probabilities, names, pairs),
                f"The {len(pairs)} pairs of classes confused most on {tested}",
            )
        bins = {
            f"before temperature scaling\nECE {self.errors[0]:.4f}": calibration_bins(
                probabilities, labels
            ),
            f"after temperature scaling (T = {self.temperature:.3f})\n"
            f"ECE {self.errors[1]:.4f}": calibration_bins(
                (logits / self.temperature).double().softmax(1).cpu().numpy(), labels
            ),
        }
        figures[RELIABILITY_FILE] = reliability_figure(bins, f"Reliability on {tested}")
        for filename, fig in figures.items():
            tag = f"{split}/{filename.removesuffix('.png')}"
            path = publish_figure(fig, self.output_dir, filename, trainer, tag)
            if path is not None:
                self.paths.append(path)

    def _mistake_rows(
        self, labels: np.ndarray, probabilities: np.ndarray, names: list[str]
    ) -> list[GalleryRow]:
        picks = confident_mistakes(labels, probabilities, self.per_class)
        return [
            (f"true {names[label]}", indices, [_caption(probabilities[i], names) for i in indices])
            for label, indices in picks.items()
        ]

    def _pair_rows(
        self,
        labels: np.ndarray,
        probabilities: np.ndarray,
        names: list[str],
        pairs: list[tuple[int, int, int, int]],
    ) -> list[GalleryRow]:
        predictions, confidence = probabilities.argmax(1), probabilities.max(1)
        rows = []
        for a, b, a_as_b, b_as_a in pairs:
            indices = [
                *most_confident((labels == a) & (predictions == b), confidence, self.per_pair),
                *most_confident((labels == b) & (predictions == a), confidence, self.per_pair),
            ]
            captions = [
                f"{names[labels[i]]} as {names[predictions[i]]} ({confidence[i]:.2f})"
                for i in indices
            ]
            label = f"{names[a]} ↔ {names[b]}\n{a_as_b} + {b_as_a} wrong"
            rows.append((label, indices, captions))
        return rows


def _caption(probabilities: np.ndarray, names: list[str]) -> str:
    predicted = int(probabilities.argmax())
    return f"as {names[predicted]} ({probabilities[predicted]:.2f})"


def in_test_order(
    trainer: L.Trainer, logits: torch.Tensor, labels: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor]:
    """Every rank's test logits and labels, in the order of the test split.

    Rank r holds samples r, r + W, r + 2W, ... (`data.datamodule.shard`, unpadded): padded to
    one length and gathered, they interleave back into the split's order; the padding (label
    -1) is dropped. One gather for the whole pass, at its end.
    """
    if trainer.world_size == 1:
        return logits, labels
    strategy = trainer.strategy
    longest = int(strategy.all_gather(torch.tensor(len(labels), device=labels.device)).max())
    missing = longest - len(labels)
    logits = torch.cat([logits, logits.new_zeros(missing, logits.shape[1])])
    labels = torch.cat([labels, labels.new_full((missing,), -1)])
    logits = interleave_shares(strategy.all_gather(logits))
    labels = interleave_shares(strategy.all_gather(labels))
    kept = labels >= 0
    return logits[kept], labels[kept]


def interleave_shares(gathered: torch.Tensor) -> torch.Tensor:
    """[ranks, n, ...] shares, rank r's holding samples r, r + ranks, ... -> [ranks * n, ...]
    in sample order."""
    return gathered.transpose(0, 1).flatten(0, 1)


def fingerprint(module: torch.nn.Module) -> tuple[float, ...]:
    """A number per floating-point tensor of `module`'s state: equal for the same weights."""
    return tuple(
        float(t.detach().double().sum())
        for t in module.state_dict().values()
        if t.is_floating_point()
    )
