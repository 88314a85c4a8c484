"""What every entry point does around its task: check the config, report user errors in one line."""

from __future__ import annotations

import os
import shutil
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

from hydra.core.hydra_config import HydraConfig
from hydra.types import RunMode
from omegaconf import DictConfig

from mnist_lab import LabError
from mnist_lab.config import check_config

T = TypeVar("T")

CONF_DIR = Path(__file__).resolve().parents[2] / "conf"
# conf/scratch/*.yaml reach the lab's paths/ and hydra/ groups through this (their searchpath),
# so the NumPy entry points work from any directory.
os.environ.setdefault("MNIST_LAB_CONF_DIR", str(CONF_DIR))


def check_group_choices(arguments: list[str], conf_dir: Path = CONF_DIR) -> None:
    """Refuse `group=option` overrides naming an option that has no yaml, in one line.

    Hydra would refuse them too, but with a multi-line search-path dump; this runs first.
    """
    for argument in arguments:
        if argument.startswith(("-", "~")) or "=" not in argument:
            continue
        key, value = argument.lstrip("+").split("=", 1)
        group = conf_dir / key
        if key.startswith("hydra") or not group.is_dir() or "(" in value:
            continue
        options = sorted(p.stem for p in group.glob("*.yaml"))
        where = f"conf/{group.relative_to(CONF_DIR)}" if group.is_relative_to(CONF_DIR) else group
        for choice in value.split(","):
            if choice not in options and choice != "null":
                raise LabError(
                    f"{key}={choice!r} is not a config in {where}/; choose one of "
                    f"{', '.join(options)}"
                )


def entry_point(hydra_main: Callable[[], object], conf_dir: Path = CONF_DIR) -> None:
    """Run a Hydra main function after `check_group_choices` (groups under `conf_dir`)."""
    try:
        check_group_choices(sys.argv[1:], conf_dir)
    except LabError as error:
        print(f"error: {error}", file=sys.stderr)
        sys.exit(2)
    hydra_main()


def _run_dir_is_empty(run_dir: Path) -> bool:
    """True when the run dir holds only what Hydra wrote before the task began."""
    return all(p.name == ".hydra" or p.suffix == ".log" for p in run_dir.iterdir())


def run_task(task: Callable[[DictConfig], T], cfg: DictConfig) -> T:
    """Check `cfg` and run `task`, recording failures where the user and `report` see them.

    A LabError becomes `error: ...` on stderr and exit status 2. A run that failed before it
    wrote anything leaves no directory behind; one that failed later keeps its files (the last
    good checkpoint among them) plus `failed.txt` with the reason. In a multirun the error is
    re-raised, so Hydra records that member as failed and the other members still run.
    """
    hydra_cfg = HydraConfig.get() if HydraConfig.initialized() else None
    run_dir = Path(hydra_cfg.runtime.output_dir) if hydra_cfg is not None else None
    multirun = hydra_cfg is not None and hydra_cfg.mode == RunMode.MULTIRUN
    try:
        check_config(cfg)
        return task(cfg)
    except Exception as error:
        user_error = isinstance(error, LabError)
        if run_dir is not None and run_dir.is_dir():
            if user_error and not multirun and _run_dir_is_empty(run_dir):
                shutil.rmtree(run_dir)
            else:
                reason = str(error) if user_error else f"{type(error).__name__}: {error}"
                (run_dir / "failed.txt").write_text(" ".join(reason.split()) + "\n")
        if multirun or not user_error:
            raise
        print(f"error: {error}", file=sys.stderr)
        sys.exit(2)
