"""Data-parallel training under Hydra: what the extra processes of `trainer=ddp` run.

Lightning's `ddp` strategy starts ranks 1, 2, ... itself, as `python -m mnist_lab.train` with
this process's command line plus `hydra.run.dir=<hydra.run.dir>`. That is right for a single run
but not for a sweep member: its command line is the whole sweep (`-m` and every swept value) and
`hydra.run.dir` is not its directory. `pin_child_processes` makes the command line the member's
own overrides and the run dir the member's, so every rank rebuilds exactly this run.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager

from hydra.core.hydra_config import HydraConfig
from omegaconf import DictConfig, read_write

from mnist_lab import LabError

# Launchers whose members do not run as `python -m mnist_lab.train`, so Lightning cannot start
# a member's other ranks by re-running that module.
_LAUNCHERS_WITHOUT_MODULE = {"joblib": "joblib", "LocalLauncher": "submitit_local"}

# What Lightning's launcher puts in this process's environment for the ranks to find each other.
_LAUNCHER_VARIABLES = ("MASTER_ADDR", "MASTER_PORT", "NODE_RANK", "LOCAL_RANK", "WORLD_SIZE")


def starts_processes(cfg: DictConfig) -> bool:
    """True when the trainer config makes Lightning start one process per extra device itself."""
    strategy = cfg.trainer.get("strategy")
    if not isinstance(strategy, str) or not strategy.startswith("ddp"):
        return False
    if cfg.trainer.get("devices", 1) == 1 and cfg.trainer.get("num_nodes", 1) == 1:
        return False  # one process: nothing to start
    # ddp_spawn / ddp_fork / ddp_notebook start workers from this process, not a new command.
    return not any(kind in strategy for kind in ("spawn", "fork", "notebook"))


def pin_child_processes(cfg: DictConfig) -> None:
    """Point the processes Lightning's DDP starts at this run's overrides and directory."""
    if not HydraConfig.initialized() or not starts_processes(cfg):
        return
    hydra_cfg = HydraConfig.get()
    launcher = str(hydra_cfg.launcher.get("_target_", ""))
    for marker, name in _LAUNCHERS_WITHOUT_MODULE.items():
        if marker in launcher:
            raise LabError(
                f"trainer.strategy={cfg.trainer.strategy!r} cannot run under "
                f"hydra/launcher={name}: Lightning starts the other ranks by re-running "
                f"`python -m mnist_lab.train`; use the default launcher (members one after "
                f"another, each on all devices) or hydra/launcher=slurm"
            )
    overrides = list(hydra_cfg.overrides.task)
    if cfg.get("ckpt_path"):
        # A resumed sweep member chose its checkpoint after composing; the ranks must agree.
        overrides.append(f'ckpt_path="{cfg.ckpt_path}"')
    sys.argv[1:] = overrides
    with read_write(hydra_cfg.run):
        hydra_cfg.run.dir = hydra_cfg.runtime.output_dir


@contextmanager
def own_process_group() -> Iterator[None]:
    """Leave no process group or rendezvous variables behind when the run ends.

    Lightning keeps both after training; the next member of a sweep in this process would
    otherwise join the finished member's group, whose other ranks have exited.
    """
    saved = {name: os.environ.get(name) for name in _LAUNCHER_VARIABLES}
    try:
        yield
    finally:
        import torch.distributed

        if torch.distributed.is_available() and torch.distributed.is_initialized():
            torch.distributed.destroy_process_group()
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
