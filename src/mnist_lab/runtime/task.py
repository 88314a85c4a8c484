"""What happens when a run's task fails: the policy every Hydra entry point shares."""

from __future__ import annotations

import signal
import sys
from collections.abc import Callable
from typing import TypeVar

from hydra.core.hydra_config import HydraConfig
from hydra.types import RunMode
from omegaconf import DictConfig, OmegaConf

from mnist_lab.runtime.cli import (
    SweepMemberFailed,
    exit_status,
    format_traceback,
    is_user_error,
    print_error,
    save_traceback,
    wants_full_error,
)
from mnist_lab.runtime.resume import end_attempt, is_first_process
from mnist_lab.runtime.rules import check_config
from mnist_lab.runtime.rundir import RunDir

T = TypeVar("T")


def _signal_name(stop: SystemExit) -> str | None:
    """`SIGTERM` or `SIGINT` when Lightning answered one with this SystemExit, else None."""
    # Lightning raises a SystemExit with no code on SIGTERM, and exit(1) while it handles the
    # KeyboardInterrupt of Ctrl-C (so that is the exit's context).
    if type(stop).__name__ == "SIGTERMException":
        return "SIGTERM"
    return "SIGINT" if isinstance(stop.__context__, KeyboardInterrupt) else None


def run_task(task: Callable[[DictConfig], T], cfg: DictConfig) -> T:
    """Check `cfg` and run `task`, recording failures where the user and `report` see them.

    A user error (`cli.USER_ERRORS`) becomes one `error: ...` line on stderr and exit status 2;
    any other exception one line naming the saved traceback, exit status 1. A run that failed
    before it wrote anything leaves no directory behind, nor the `<log dir>/<task>/runs/` made
    for it; one that failed later keeps its files
    (the last good checkpoint among them) plus `failed.txt` with the reason; an in-place resume
    that failed leaves a finished run as it was (`resume.end_attempt`). In a multirun the
    failure goes back to Hydra as a SweepMemberFailed, so the other members still run and the
    sweep ends with one summary line. SIGTERM and Ctrl-C stop like a failure that says how to
    resume, with exit status 128 + the signal's number.
    """
    hydra_cfg = HydraConfig.get() if HydraConfig.initialized() else None
    run = RunDir(hydra_cfg.runtime.output_dir) if hydra_cfg is not None else None
    if run is not None and is_first_process():
        run.lock()  # a second process on this run dir is refused, not interleaved
        # A resumed run starts over in its old directory: the old failure is history.
        run.clear_failure()
    try:
        # The rules are those of the config the app composed (train.yaml, scratch.yaml, ...).
        check_config(cfg, hydra_cfg.job.config_name if hydra_cfg is not None else "train")
        result = task(cfg)
    except Exception as error:
        if wants_full_error(error):
            raise
        _fail(run, error, cfg, hydra_cfg)
    except (SystemExit, KeyboardInterrupt) as stop:
        name = "SIGINT" if isinstance(stop, KeyboardInterrupt) else _signal_name(stop)
        if name is None:
            raise
        _interrupted(run, name)
    end_attempt(failed=False)
    return result


def _fail(
    run: RunDir | None, error: Exception, cfg: DictConfig, hydra_cfg: DictConfig | None
) -> None:
    """Record and report a failed task; never returns."""
    multirun = hydra_cfg is not None and hydra_cfg.mode == RunMode.MULTIRUN
    user_error = is_user_error(error)
    restored = end_attempt(failed=True)
    kept = run is not None and run.path.is_dir() and not restored
    if kept and user_error and not multirun and run.is_empty():
        run.remove(OmegaConf.select(cfg, "paths.log_dir", default=run.path))
        kept = False
    traceback_dir = run.path if kept else None
    reason = " ".join((str(error) if user_error else f"{type(error).__name__}: {error}").split())
    if not multirun:
        if kept:
            run.record_failure(reason)
        sys.exit(exit_status(error, traceback_dir))
    if not user_error:
        reason += f" (traceback in {save_traceback(format_traceback(error), traceback_dir)})"
    if kept:
        run.record_failure(reason)
    print(f"sweep member {hydra_cfg.job.num} failed: {reason}", file=sys.stderr)
    raise SweepMemberFailed(hydra_cfg.sweep.dir, reason) from error


def _interrupted(run: RunDir | None, name: str) -> None:
    """Stop after SIGTERM or Ctrl-C, saying how to resume; never returns."""
    restored = end_attempt(failed=True)
    message = f"interrupted by {name}"
    if run is not None and run.path.is_dir():
        message += f"; resume with: python -m mnist_lab.train ckpt_path={run.path}"
        if not restored:
            run.record_failure(message)
    print_error(message)
    sys.exit(128 + getattr(signal, name))
