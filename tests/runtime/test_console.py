"""Lightning's console noise is left out of a run's printout; its warnings are not."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from mnist_lab.runtime.console import RANK_ZERO_LOGGERS, LightningNoise, quiet_lightning


def _record(message: str, level: int = logging.INFO) -> logging.LogRecord:
    return logging.LogRecord(RANK_ZERO_LOGGERS[0], level, __file__, 1, message, (), None)


@pytest.mark.parametrize(
    "message",
    [
        "GPU available: False, used: False",
        "GPU available: True (cuda), used: True",
        "TPU available: False, using: 0 TPU cores",
        "HPU available: False, using: 0 HPUs",
        "💡 Tip: For seamless cloud logging and experiment tracking, try installing [litlogger]",
        "💡 Tip: For seamless cloud uploads and versioning, try installing [litmodels]",
        "Trainer already configured with model summary callbacks: [<class 'LayerSummary'>]. "
        "Skipping setting a default `ModelSummary` callback.",
        "`Trainer.fit` stopped: `max_epochs=1` reached.",
        "Loaded model weights from the checkpoint at /runs/1/checkpoints/best.ckpt",
    ],
)
def test_noise_is_dropped(message: str) -> None:
    assert not LightningNoise().filter(_record(message))


@pytest.mark.parametrize(
    ("record", "kept"),
    [
        (_record("Restoring states from the checkpoint path at /runs/1/last.ckpt"), None),
        (_record("`Trainer.fit` stopped: `max_time={'minutes': 5}` reached."), None),
        (_record("GPU available: False, used: False", logging.WARNING), None),
        (
            _record("GPU available: True (cuda), used: False"),
            "a GPU (cuda) is present but this run uses the CPU; trainer.accelerator=gpu (or auto) "
            "trains on it",
        ),
    ],
)
def test_what_matters_is_kept(record: logging.LogRecord, kept: str | None) -> None:
    message = record.getMessage()
    assert LightningNoise().filter(record)
    assert record.getMessage() == (kept or message)


@pytest.fixture
def unfiltered():
    """Lightning's loggers without the lab's filter (an earlier test may have installed it)."""
    loggers = [logging.getLogger(name) for name in RANK_ZERO_LOGGERS]
    installed = [(lg, f) for lg in loggers for f in lg.filters if isinstance(f, LightningNoise)]
    for logger, noise in installed:
        logger.removeFilter(noise)
    yield loggers[0]
    for logger in loggers:
        for noise in [f for f in logger.filters if isinstance(f, LightningNoise)]:
            logger.removeFilter(noise)
    for logger, noise in installed:
        logger.addFilter(noise)


def test_a_real_trainer_announces_nothing(tmp_path: Path, unfiltered: logging.Logger) -> None:
    lightning = pytest.importorskip("lightning")
    from lightning.pytorch.callbacks import RichModelSummary

    def build() -> list[str]:
        seen: list[str] = []
        handler = logging.Handler()
        handler.emit = lambda record: seen.append(record.getMessage())  # type: ignore[method-assign]
        unfiltered.addHandler(handler)
        try:
            lightning.Trainer(
                accelerator="cpu", default_root_dir=tmp_path, callbacks=[RichModelSummary()]
            )
        finally:
            unfiltered.removeHandler(handler)
        return seen

    assert any(line.startswith("GPU available") for line in build()), "Lightning's line is gone"
    quiet_lightning()
    quiet_lightning()  # twice, as train and evaluate in one process: still one filter
    assert sum(isinstance(f, LightningNoise) for f in unfiltered.filters) == 1
    assert build() == []
