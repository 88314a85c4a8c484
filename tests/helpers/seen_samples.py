"""A test-only callback that records which samples each rank trains and validates on."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import lightning as L
import torch


def fingerprints(images: torch.Tensor) -> list[str]:
    """One short digest per image: equal images, equal digests."""
    return [hashlib.sha1(image.cpu().numpy().tobytes()).hexdigest()[:16] for image in images]


class SeenSamples(L.Callback):
    """Writes `<output_dir>/<stage>_rank<r>_epoch<e>.json`: the fingerprints a rank saw in order."""

    def __init__(self, output_dir: str) -> None:
        self.output_dir = Path(output_dir)
        self.seen: dict[str, list[str]] = {"train": [], "val": []}

    def on_train_batch_start(self, trainer, pl_module, batch, batch_idx: int) -> None:
        self.seen["train"] += fingerprints(batch[0])

    def on_validation_batch_start(self, trainer, pl_module, batch, batch_idx: int, *_) -> None:
        if not trainer.sanity_checking:
            self.seen["val"] += fingerprints(batch[0])

    def _write(self, trainer: L.Trainer, stage: str) -> None:
        self.output_dir.mkdir(parents=True, exist_ok=True)
        name = f"{stage}_rank{trainer.global_rank}_epoch{trainer.current_epoch}.json"
        (self.output_dir / name).write_text(json.dumps(self.seen[stage]))
        self.seen[stage] = []

    def on_train_epoch_end(self, trainer, pl_module) -> None:
        self._write(trainer, "train")

    def on_validation_epoch_end(self, trainer, pl_module) -> None:
        if not trainer.sanity_checking:
            self._write(trainer, "val")
