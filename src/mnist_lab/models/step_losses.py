"""Step losses: what every training recipe logs per step, logged on the steps the loggers write."""

from __future__ import annotations

import lightning as L
import torch


def writes_step_logs(trainer: L.Trainer) -> bool:
    """Whether Lightning's loggers write the step values logged during the current batch.

    Lightning's own test (`_LoggerConnector.should_update_logs`): the batch where step + 1 is a
    multiple of `trainer.log_every_n_steps`, the last one before a stop, every batch of a
    fast_dev_run.
    """
    return bool(trainer._logger_connector.should_update_logs or trainer.fast_dev_run)


class StepLosses:
    """The mean of each training loss over the batches since the loggers last wrote (or since
    the epoch began: a resumed run, which replays its epoch from the start, then logs the same).

    Logged as `train/<name>_step` only on the batches the loggers write
    (`writes_step_logs`): a value logged on another batch would be written up to
    `log_every_n_steps` steps late, and a `self.log` on every batch costs about a millisecond
    of bookkeeping, as much as a small MLP's whole step on a CPU. The sums stay tensors on the
    losses' device, so no step waits for a host-device sync.
    """

    def __init__(self) -> None:
        self._sums: dict[str, torch.Tensor] = {}
        self._count = 0
        self._epoch = -1

    def update(self, module: L.LightningModule, **losses: torch.Tensor) -> None:
        """Add this batch's `losses`; log their means as `module`'s loggers are about to write."""
        if module._trainer is None:
            return
        if module.trainer.current_epoch != self._epoch:
            self._sums.clear()
            self._count = 0
            self._epoch = module.trainer.current_epoch
        for name, loss in losses.items():
            loss = loss.detach()
            self._sums[name] = self._sums[name] + loss if name in self._sums else loss
        self._count += 1
        if not writes_step_logs(module.trainer):
            return
        for name, total in self._sums.items():
            module.log(f"train/{name}_step", total / self._count, prog_bar=True)
        self._sums.clear()
        self._count = 0
