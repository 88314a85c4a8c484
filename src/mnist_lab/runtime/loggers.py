"""The lab's loggers: a CSV log that a resumed run continues instead of starting over, and a
TensorBoard run named for the run's settings."""

from __future__ import annotations

import csv
from pathlib import Path

from lightning.pytorch.loggers import CSVLogger as LightningCSVLogger
from lightning.pytorch.loggers import TensorBoardLogger as LightningTensorBoardLogger
from lightning.pytorch.loggers.csv_logs import ExperimentWriter
from lightning.pytorch.loggers.logger import rank_zero_experiment

from mnist_lab.runtime.tensorboard_tabs import default_run_name, run_name, run_overrides


class _ContinuingWriter(ExperimentWriter):
    """Keeps an existing `metrics.csv` and appends to it (Lightning's writer deletes it)."""

    def _check_log_dir_exists(self) -> None:
        path = Path(self.metrics_file_path)
        if path.is_file():
            with path.open(newline="") as file:
                self.metrics_keys = next(csv.reader(file), [])

    def drop_epochs_from(self, epoch: int) -> None:
        """Forget the rows of `epoch` and later: a resumed run trains those epochs again."""
        self.save()
        path = Path(self.metrics_file_path)
        if not path.is_file():
            return
        with path.open(newline="") as file:
            rows = [
                r for r in csv.DictReader(file) if not r.get("epoch") or int(r["epoch"]) < epoch
            ]
        with path.open("w", newline="") as file:
            writer = csv.DictWriter(file, fieldnames=self.metrics_keys)
            writer.writeheader()
            writer.writerows(rows)


class CSVLogger(LightningCSVLogger):
    """Lightning's CSV logger, except that an existing `metrics.csv` is continued, not deleted."""

    @property
    @rank_zero_experiment
    def experiment(self) -> _ContinuingWriter:
        if self._experiment is None:
            self._fs.makedirs(self.root_dir, exist_ok=True)
            self._experiment = _ContinuingWriter(log_dir=self.log_dir)
        return self._experiment


class TensorBoardLogger(LightningTensorBoardLogger):
    """Lightning's TensorBoard logger, its run named for the run's overrides.

    `version=None` gives `<save_dir>/<name>/lr=0.01,seed=2/`, so TensorBoard lists the run as
    `.../tensorboard/lr=0.01,seed=2` (or by its experiment or model when it has no overrides).
    A resumed run continues the TensorBoard run it started, even when the overrides given at the
    resume (`trainer.max_epochs=20`) would name it otherwise.
    """

    def __init__(
        self, save_dir: str, name: str = "tensorboard", version: str | None = None, **kwargs
    ) -> None:
        if version is None:
            existing = [p.name for p in (Path(save_dir) / name).glob("*") if p.is_dir()]
            version = (
                existing[0]
                if len(existing) == 1
                else run_name(run_overrides(), default=default_run_name())
            )
        super().__init__(save_dir, name=name, version=version, **kwargs)
