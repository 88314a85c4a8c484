"""Resuming an interrupted run in place: `ckpt_path=last` or `ckpt_path=<run dir>`.

The command line is rewritten before Hydra starts: the run's own overrides come back (so the
config is the one it started with), Hydra writes into the same run directory, and training
continues from that run's `checkpoints/last.ckpt`. Torch-free, like everything before Hydra.
"""

from __future__ import annotations

import os
from pathlib import Path

from omegaconf import OmegaConf

from mnist_lab import LabError

LAST = "checkpoints/last.ckpt"


def newest_run(log_dir: str | Path, task_name: str = "train") -> Path:
    """The newest run directory of `task_name` that has a last checkpoint to resume from."""
    runs = Path(log_dir) / task_name / "runs"
    # Run directories are named by their start time, so the names sort oldest to newest.
    candidates = sorted(runs.glob(f"*/{LAST}")) if runs.is_dir() else []
    if not candidates:
        raise LabError(
            f"ckpt_path=last: no run in {runs} has {LAST} to resume from; give a run directory "
            f"with ckpt_path=<run dir>"
        )
    return candidates[-1].parent.parent


def resumable_run(value: str, log_dir: str | Path) -> Path | None:
    """The run directory `ckpt_path=<value>` asks to resume, or None for a plain checkpoint."""
    if value == "last":
        return newest_run(log_dir)
    path = Path(value).expanduser()
    if not path.is_dir():
        return None
    for needed in (LAST, ".hydra/overrides.yaml"):
        if not (path / needed).is_file():
            raise LabError(
                f"ckpt_path={value!r} is a directory without {needed}; give a run directory "
                f"made by mnist_lab.train (outputs/train/runs/<stamp>), ckpt_path=last or a .ckpt"
            )
    return path.resolve()


def _key(argument: str) -> str:
    return argument.split("=", 1)[0].lstrip("+~")


def resume_arguments(arguments: list[str]) -> list[str]:
    """`arguments` with `ckpt_path=last|<run dir>` expanded into an in-place resume of that run.

    Other command-line overrides are kept and win over the run's saved ones (for example
    `trainer.max_epochs=20` to train a finished run for longer).
    """
    given = [a for a in arguments if _key(a) == "ckpt_path"]
    if not given:
        return arguments
    value = given[-1].split("=", 1)[1].strip("'\"")
    log_dir = next(
        (a.split("=", 1)[1] for a in arguments if _key(a) == "paths.log_dir"),
        os.environ.get("MNIST_LAB_LOG_DIR", "outputs"),
    )
    run = resumable_run(value, log_dir)
    if run is None:
        return arguments
    if any(a in ("-m", "--multirun") for a in arguments):
        raise LabError(f"ckpt_path={value} resumes a single run; drop -m/--multirun")
    others = [a for a in arguments if _key(a) != "ckpt_path"]
    given_keys = {_key(a) for a in others if "=" in a}
    saved = OmegaConf.load(run / ".hydra" / "overrides.yaml")
    kept = [str(a) for a in saved if _key(str(a)) not in given_keys | {"ckpt_path"}]
    print(f"resuming {run} from {LAST}", flush=True)
    return [*kept, *others, f"ckpt_path='{run / LAST}'", f"hydra.run.dir='{run}'"]
