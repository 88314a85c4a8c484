"""Resuming: a single run in place (`ckpt_path=last|<run dir>`) and a sweep's members.

A single run: the command line is rewritten before Hydra starts. The run's own overrides come
back (so the config is the one it started with), Hydra writes into the same run directory, and
training continues from that run's `checkpoints/last.ckpt`.

A sweep: run the same multirun again into the same sweep dir,

    python -m mnist_lab.train -m <the same arguments> hydra.sweep.dir=<the old sweep dir>

Members that finished are not run again: their stored metrics are returned, so Optuna and
`mnist_lab.report` see them as before. Members that failed or were cut off run again, from their
newest checkpoint when they have one. When a member starts, `member.json` records a digest of its
config; a member dir whose digest differs (another grid or an edited yaml in the same sweep dir)
is cleared and run from the start rather than mistaken for a finished run.

Torch-free, like everything that runs before Hydra.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
from dataclasses import dataclass
from pathlib import Path

from hydra.core.hydra_config import HydraConfig
from hydra.types import RunMode
from omegaconf import DictConfig, OmegaConf

from mnist_lab import LabError
from mnist_lab.runtime.rundir import (
    BEST_CHECKPOINT,
    CHECKPOINT_DIR,
    LAST_CHECKPOINT,
    OVERRIDES_FILE,
    RunDir,
    checkpoint_problem,
    default_log_dir,
)


def newest_run(root: str | Path, task_name: str = "train") -> Path:
    """The newest run directory of `task_name` that has a checkpoint to resume from."""
    runs = Path(root) / task_name / "runs"
    # Run directories are named by their start time, so the names sort oldest to newest.
    candidates = (
        sorted(
            {
                path.parent.parent
                for name in (LAST_CHECKPOINT, f"{CHECKPOINT_DIR}/{BEST_CHECKPOINT}.ckpt")
                for path in runs.glob(f"*/{name}")
            }
        )
        if runs.is_dir()
        else []
    )
    if not candidates:
        raise LabError(
            f"ckpt_path=last: no run in {runs} has {LAST_CHECKPOINT} to resume from; give a run "
            f"directory with ckpt_path=<run dir>"
        )
    return candidates[-1]


def resumable_run(value: str, root: str | Path) -> RunDir | None:
    """The run directory `ckpt_path=<value>` asks to resume, or None for a checkpoint file.

    A checkpoint file is checked here (torch-free) so that a missing or damaged one is refused
    before Hydra creates a run directory for it.
    """
    if value == "last":
        return RunDir(newest_run(root))
    path = Path(value).expanduser()
    if not path.is_dir():
        problem = checkpoint_problem(path)
        if problem is not None:
            raise LabError(
                f"ckpt_path={value!r} {problem}; give a run directory made by mnist_lab.train "
                f"(outputs/train/runs/<stamp>), ckpt_path=last or a .ckpt it saved"
            )
        return None
    run = RunDir(path.resolve())
    if not (run / OVERRIDES_FILE).is_file():
        raise LabError(
            f"ckpt_path={value!r} is a directory without {OVERRIDES_FILE}; give a run directory "
            f"made by mnist_lab.train (outputs/train/runs/<stamp>), ckpt_path=last or a .ckpt"
        )
    return run


def override_key(argument: str) -> str:
    """The key of a command-line override: `+a.b=1`, `~a.b` and `a.b=1` all give `a.b`."""
    return argument.split("=", 1)[0].lstrip("+~")


def _epochs_asked(arguments: list[str]) -> int | None:
    """`trainer.max_epochs` as the command line gives it, when it does (and is an integer)."""
    given = [a.split("=", 1)[1] for a in arguments if override_key(a) == "trainer.max_epochs"]
    try:
        return int(given[-1]) if given else None
    except ValueError:
        return None  # the config checks refuse it in their own words


def resume_arguments(arguments: list[str]) -> list[str]:
    """`arguments` with `ckpt_path=last|<run dir>` expanded into an in-place resume of that run.

    Other command-line overrides are kept and win over the run's saved ones (for example
    `trainer.max_epochs=20` to train a finished run for longer). Before Hydra touches the run
    dir: its files are checked (a damaged one is refused, naming it), it is locked against a
    second process, a finished run not asked to train on ends here unchanged (exit status 0),
    and a copy is kept so that a failed attempt leaves it as it was (`end_attempt`).
    """
    given = [a for a in arguments if override_key(a) == "ckpt_path"]
    if not given:
        return arguments
    value = given[-1].split("=", 1)[1].strip("'\"")
    if value in ("", "null"):
        return arguments
    given_root = [a.split("=", 1)[1] for a in arguments if override_key(a) == "paths.log_dir"]
    run = resumable_run(value, given_root[0] if given_root else default_log_dir())
    if run is None:
        return arguments
    if any(a in ("-m", "--multirun") for a in arguments):
        raise LabError(f"ckpt_path={value} resumes a single run; drop -m/--multirun")
    run.lock()
    saved, metrics = run.config(), run.metrics()  # each names its file when damaged
    others = [a for a in arguments if override_key(a) != "ckpt_path"]
    given_keys = {override_key(a) for a in others if "=" in a}
    kept = [a for a in run.override_list() if override_key(a) not in given_keys | {"ckpt_path"}]
    finished = bool(metrics) and run.failure() is None
    epochs = OmegaConf.select(saved, "trainer.max_epochs", default=None)
    asked = _epochs_asked(others)
    if finished and (asked is None or not isinstance(epochs, int) or asked <= epochs):
        shown = ", ".join(
            f"{k} {v:.4f}" for k, v in sorted(metrics.items()) if k.startswith("test/")
        )
        print(
            f"{run.path} is finished ({shown or 'metrics.json written'}); nothing was run and "
            f"nothing changed. To train it on, add trainer.max_epochs=N with N > {epochs}"
        )
        raise SystemExit(0)  # not an error: the run the user asked for is already complete
    checkpoint = run.resume_checkpoint()
    _begin_attempt(run, finished)
    if not finished:
        run.remove_stale_temporaries()
    if checkpoint is None:
        print(f"resuming {run.path} from the start: it saved no complete checkpoint", flush=True)
        run.clear_outputs()
        resume_from = "ckpt_path=null"
    else:
        print(f"resuming {run.path} from {checkpoint.relative_to(run.path)}", flush=True)
        resume_from = f"ckpt_path='{checkpoint}'"
    return [*kept, *others, resume_from, f"hydra.run.dir='{run.path}'"]


@dataclass
class _Attempt:
    """An in-place resume under way: the run dir as it was, and whether it had finished."""

    run: RunDir
    snapshot: Path
    finished: bool
    checkpoint_stamp: tuple[int, int] | None


_attempt: _Attempt | None = None


def _stamp(path: Path) -> tuple[int, int] | None:
    return (path.stat().st_mtime_ns, path.stat().st_size) if path.is_file() else None


def _begin_attempt(run: RunDir, finished: bool) -> None:
    global _attempt
    _attempt = _Attempt(run, run.snapshot(), finished, _stamp(run.last_checkpoint))


def end_attempt(failed: bool) -> bool:
    """Close this process's in-place resume, if any; True when the run dir was put back.

    A failed attempt on a finished run, or one that failed before it saved a new epoch, leaves
    every file of the run as it was: the failure is then recorded nowhere but on stderr. One
    that trained epochs before it failed keeps them (and its failed.txt), to resume again.
    """
    global _attempt
    attempt, _attempt = _attempt, None
    if attempt is None:
        return False
    untouched = _stamp(attempt.run.last_checkpoint) == attempt.checkpoint_stamp
    if failed and (attempt.finished or untouched):
        attempt.run.restore(attempt.snapshot)
        return True
    shutil.rmtree(attempt.snapshot.parent, ignore_errors=True)
    return False


def config_digest(cfg: DictConfig) -> str:
    """A fingerprint of what a run computes: its config as written, without `paths`."""
    # Unresolved, so a data dir or log dir that differs on another machine changes nothing.
    node = OmegaConf.to_container(cfg, resolve=False)
    node.pop("paths", None)
    return hashlib.sha1(json.dumps(node, sort_keys=True, default=str).encode()).hexdigest()


@dataclass
class Attempt:
    """What an earlier attempt left in a member's run dir."""

    state: str  # "none", "finished", "unfinished" (killed or failed) or "other" (another config)
    metrics: dict[str, float] | None = None
    checkpoint: Path | None = None


def previous_attempt(run: RunDir, digest: str) -> Attempt:
    """Classify what `run` holds for a member whose config digest is `digest`."""
    if not run.path.is_dir() or run.is_empty():
        return Attempt("none")
    if run.member_digest() != digest:
        return Attempt("other")
    try:
        metrics = run.metrics()
    except LabError:  # damaged: whatever it held, the member is not known to have finished
        metrics = {}
    if metrics and run.failure() is None:
        return Attempt("finished", metrics=metrics)
    return Attempt("unfinished", checkpoint=run.newest_checkpoint())


def is_first_process() -> bool:
    """True on the process that writes: global rank 0 (ranks exist before any trainer does)."""
    for variable in ("RANK", "SLURM_PROCID", "LOCAL_RANK"):
        if variable in os.environ:
            return os.environ[variable] == "0"
    return True


def resume_member(cfg: DictConfig) -> dict[str, float] | None:
    """In a multirun: a finished member's stored metrics, or None after preparing it to run.

    A member that ran before without finishing gets `cfg.ckpt_path` set to its newest
    checkpoint; one that ran with another config has its dir cleared first.
    """
    if not HydraConfig.initialized() or HydraConfig.get().mode != RunMode.MULTIRUN:
        return None
    hydra_cfg = HydraConfig.get()
    run = RunDir(hydra_cfg.runtime.output_dir)
    digest = config_digest(cfg)
    attempt = previous_attempt(run, digest)
    member = f"sweep member {hydra_cfg.job.num}"
    if attempt.state == "finished":
        print(f"{member} finished in an earlier attempt: not run again ({run.path})", flush=True)
        return attempt.metrics
    writer = is_first_process()
    if attempt.state == "unfinished":
        if writer:
            run.forget_outcome()
        if attempt.checkpoint is not None:
            cfg.ckpt_path = str(attempt.checkpoint)
            print(f"{member} did not finish before: resuming from {attempt.checkpoint}")
    elif attempt.state == "other" and writer:
        print(f"{member}: {run.path} holds a run with another config; starting it afresh")
        run.clear_outputs()
    if writer:
        run.write_member(digest, hydra_cfg.overrides.task)
    return None
