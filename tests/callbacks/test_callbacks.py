"""Callbacks whose behaviour is not visible in a run's files."""

from __future__ import annotations

from types import SimpleNamespace

from lightning.pytorch.callbacks import RichProgressBar

from mnist_lab.callbacks import ProgressBar


def test_progress_bar_reads_metrics_only_on_logging_steps_and_at_epoch_end(monkeypatch) -> None:
    reads: list[int] = []
    monkeypatch.setattr(
        RichProgressBar, "_update_metrics", lambda self, trainer, module: reads.append(trainer.step)
    )
    bar = ProgressBar()
    bar.disable()  # no console: only the metric reads are exercised
    trainer = SimpleNamespace(log_every_n_steps=5, step=0)
    for batch_idx in range(12):
        trainer.step = batch_idx
        bar.on_train_batch_end(trainer, None, None, None, batch_idx)
    bar.on_train_epoch_end(trainer, None)
    assert reads == [0, 5, 10, 11]  # the steps the loss is logged on, then the epoch's end
