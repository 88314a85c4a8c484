"""Resuming a sweep after the machine died: run the same multirun again into the same sweep dir.

    python -m mnist_lab.train -m <the same arguments> hydra.sweep.dir=<the old sweep dir>

Members that finished are not run again: their stored metrics are returned, so Optuna and
`mnist_lab.report` see them as before. Members that failed or were cut off run again, from their
newest checkpoint when they have one. When a member starts, `member.json` records a digest of its
config; a member dir whose digest differs (another grid or an edited yaml in the same sweep dir)
is cleared and run from the start rather than mistaken for a finished run.
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

from mnist_lab.runtime.cli import run_dir_is_empty

MEMBER_FILE = "member.json"


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


def newest_checkpoint(run_dir: Path) -> Path | None:
    """The most recent of `checkpoints/last.ckpt` and Lightning's SLURM `hpc_ckpt_<n>.ckpt`."""
    candidates = [run_dir / "checkpoints" / "last.ckpt", *run_dir.glob("hpc_ckpt_*.ckpt")]
    existing = [path for path in candidates if path.is_file()]
    return max(existing, key=lambda path: path.stat().st_mtime, default=None)


def previous_attempt(run_dir: Path, digest: str) -> Attempt:
    """Classify what `run_dir` holds for a member whose config digest is `digest`."""
    if not run_dir.is_dir() or run_dir_is_empty(run_dir):
        return Attempt("none")
    member = run_dir / MEMBER_FILE
    try:
        recorded = json.loads(member.read_text()).get("config_digest")
    except (OSError, ValueError, AttributeError):
        recorded = None
    if recorded != digest:
        return Attempt("other")
    metrics_file = run_dir / "metrics.json"
    if metrics_file.is_file() and not (run_dir / "failed.txt").exists():
        try:
            return Attempt("finished", metrics=json.loads(metrics_file.read_text()))
        except ValueError:  # cut off while being written: the run did not finish
            pass
    return Attempt("unfinished", checkpoint=newest_checkpoint(run_dir))


def _is_first_process() -> bool:
    """True on the process that writes: global rank 0 (ranks exist before any trainer does)."""
    for variable in ("RANK", "SLURM_PROCID"):
        if variable in os.environ:
            return os.environ[variable] == "0"
    return True


def _clear(run_dir: Path) -> None:
    """Remove an earlier attempt's outputs, keeping what Hydra wrote for this one."""
    for path in run_dir.iterdir():
        if path.name == ".hydra" or path.suffix == ".log":
            continue
        if path.is_dir():
            shutil.rmtree(path)
        else:
            path.unlink()


def resume_member(cfg: DictConfig) -> dict[str, float] | None:
    """In a multirun: a finished member's stored metrics, or None after preparing it to run.

    A member that ran before without finishing gets `cfg.ckpt_path` set to its newest
    checkpoint; one that ran with another config has its dir cleared first.
    """
    if not HydraConfig.initialized() or HydraConfig.get().mode != RunMode.MULTIRUN:
        return None
    hydra_cfg = HydraConfig.get()
    run_dir = Path(hydra_cfg.runtime.output_dir)
    digest = config_digest(cfg)
    attempt = previous_attempt(run_dir, digest)
    member = f"sweep member {hydra_cfg.job.num}"
    if attempt.state == "finished":
        print(f"{member} finished in an earlier attempt: not run again ({run_dir})", flush=True)
        return attempt.metrics
    writer = _is_first_process()
    if attempt.state == "unfinished":
        if writer:
            for stale in ("failed.txt", "metrics.json"):
                (run_dir / stale).unlink(missing_ok=True)
        if attempt.checkpoint is not None:
            cfg.ckpt_path = str(attempt.checkpoint)
            print(f"{member} did not finish before: resuming from {attempt.checkpoint}")
    elif attempt.state == "other" and writer:
        print(f"{member}: {run_dir} holds a run with another config; starting it afresh")
        _clear(run_dir)
    if writer:
        record = {"config_digest": digest, "overrides": list(hydra_cfg.overrides.task)}
        (run_dir / MEMBER_FILE).write_text(json.dumps(record, indent=2) + "\n")
    return None
