"""What happens when a run's task fails: the policy every Hydra entry point shares."""

from __future__ import annotations

import signal
import sys
from collections.abc import Callable
from typing import TypeVar

from hydra.core.hydra_config import HydraConfig
from hydra.types import RunMode
from omegaconf import DictConfig, OmegaConf

from mnist_lab import LabError
from mnist_lab.runtime.cli import print_error
from mnist_lab.runtime.rules import check_config
from mnist_lab.runtime.rundir import RunDir

T = TypeVar("T")


def run_task(task: Callable[[DictConfig], T], cfg: DictConfig) -> T:
    """Check `cfg` and run `task`, recording failures where the user and `report` see them.

    A LabError becomes `error: ...` on stderr and exit status 2. A run that failed before it
    wrote anything leaves no directory behind, nor the `<log dir>/<task>/runs/` made for it;
    one that failed later keeps its files (the last good checkpoint among them) plus
    `failed.txt` with the reason. In a multirun the error is re-raised, so Hydra records that
    member as failed and the other members still run.
    """
    hydra_cfg = HydraConfig.get() if HydraConfig.initialized() else None
    run = RunDir(hydra_cfg.runtime.output_dir) if hydra_cfg is not None else None
    multirun = hydra_cfg is not None and hydra_cfg.mode == RunMode.MULTIRUN
    if run is not None:
        # A resumed run starts over in its old directory: the old failure is history.
        run.clear_failure()
    try:
        # The rules are those of the config the app composed (train.yaml, scratch.yaml, ...).
        check_config(cfg, hydra_cfg.job.config_name if hydra_cfg is not None else "train")
        return task(cfg)
    except Exception as error:
        user_error = isinstance(error, LabError)
        if run is not None and run.path.is_dir():
            if user_error and not multirun and run.is_empty():
                run.remove(OmegaConf.select(cfg, "paths.log_dir", default=run.path))
            else:
                run.record_failure(str(error) if user_error else f"{type(error).__name__}: {error}")
        if multirun or not user_error:
            raise
        sys.exit(print_error(error))
    except SystemExit as stop:
        # Lightning answers SIGTERM by raising a SystemExit with no code (exit status 0).
        if type(stop).__name__ != "SIGTERMException":
            raise
        message = "interrupted by SIGTERM"
        if run is not None and run.path.is_dir():
            message += f"; resume with: python -m mnist_lab.train ckpt_path={run.path}"
            run.record_failure(message)
        print_error(message)
        sys.exit(128 + signal.SIGTERM)
