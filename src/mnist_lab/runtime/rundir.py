"""The run directory: the one module that names what a run leaves and reads it back.

    <run dir>/.hydra/config.yaml     the composed config (evaluate and landscape rebuild from it)
    <run dir>/.hydra/overrides.yaml  the command line's overrides (resume replays them)
    <run dir>/metrics.json           the final numbers, written last: no file, no finished run
    <run dir>/failed.txt             why the run stopped, one line
    <run dir>/traceback.txt          the full traceback of an internal error (a fault of the lab)
    <run dir>/member.json            a sweep member's config digest (sweep resume)
    <run dir>/checkpoints/best.ckpt  the best validation epoch; last.ckpt: the newest epoch
                                     (`.<name>.<random>.tmp` beside them: a save a kill cut off)
    <run dir>/hpc_ckpt_<n>.ckpt      Lightning's SLURM requeue checkpoint
    <run dir>/csv/metrics.csv        every logged value, per step and per epoch (a NumPy run:
                                     its per-epoch values, in the same layout)
    <run dir>/trajectory.pt          parameter snapshots (callbacks=trajectory, for landscape)
    <run dir>/samples_epoch_<n>.png  a GAN's samples after epoch n (the report lines them up)
    <run dir>/decision_boundary.png  a toy 2-D run's boundary (the report sets them side by side)
    <run dir>/last_batch_losses.json  the training loss of the last mini-batches (CS541 HW3 P2.3)
    <run dir>/judged_samples.json    a GAN's final samples per class, as its judge labels them
    <run dir>/per_class.md, .csv     a classifier's per-class test table (callbacks.ErrorAnalysis),
                                     beside confident_mistakes.png, confusion_pairs.png and
                                     reliability.png
    <dir>/report.md, report.csv      `mnist_lab.report`'s table of a run or sweep (the
                                     catalogue's index shows the report.md of a step)
    <sweep dir>/optimization_results.yaml  an Optuna search's best trial (from_search reads it)

Everything else a run writes (other figures, `model_summary.txt`, `tensorboard/<run name>/`, a
TensorBoard run named by `runtime.tensorboard_tabs`) is for people, not read back. Torch-free:
resume and the report read run dirs before anything heavy is imported.
"""

from __future__ import annotations

import csv
import io
import json
import math
import os
import shutil
import tempfile
import zipfile
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from omegaconf import DictConfig, ListConfig, OmegaConf

from mnist_lab import LabError
from mnist_lab.runtime.atomic import atomic_write_text

HYDRA_DIR = ".hydra"
CONFIG_FILE = f"{HYDRA_DIR}/config.yaml"
OVERRIDES_FILE = f"{HYDRA_DIR}/overrides.yaml"
METRICS_FILE = "metrics.json"
FAILED_FILE = "failed.txt"
TRACEBACK_FILE = "traceback.txt"
MEMBER_FILE = "member.json"
CHECKPOINT_DIR = "checkpoints"
BEST_CHECKPOINT = "best"  # the file name's stem: Lightning's ModelCheckpoint adds `.ckpt`
LAST_CHECKPOINT = f"{CHECKPOINT_DIR}/last.ckpt"
SLURM_CHECKPOINTS = "hpc_ckpt_*.ckpt"
TEMPORARY_PATTERN = ".*.tmp"  # runtime.atomic's temporary files, beside the file they become
CSV_DIR = "csv"
CSV_FILE = f"{CSV_DIR}/metrics.csv"
TRAJECTORY_FILE = "trajectory.pt"
SAMPLES_PATTERN = "samples_epoch_{epoch:03d}.png"
DECISION_BOUNDARY_FILE = "decision_boundary.png"
LAST_BATCH_LOSSES_FILE = "last_batch_losses.json"
JUDGED_SAMPLES_FILE = "judged_samples.json"
PER_CLASS_FILE = "per_class.md"
PER_CLASS_CSV = "per_class.csv"
CONFIDENT_MISTAKES_FILE = "confident_mistakes.png"
CONFUSION_PAIRS_FILE = "confusion_pairs.png"
RELIABILITY_FILE = "reliability.png"
REPORT_FILE = "report.md"
REPORT_CSV = "report.csv"
OPTUNA_RESULTS_FILE = "optimization_results.yaml"

_ABSENT = object()
# Run dirs this process holds (`RunDir.lock`): path -> the open directory's descriptor.
_LOCKED: dict[Path, int] = {}


class UnreadableFile(LabError):
    """A run-directory file that exists but does not hold what the lab wrote there."""


def _load_yaml(path: Path) -> object:
    try:
        return yaml.safe_load(path.read_text())
    except (yaml.YAMLError, UnicodeDecodeError) as error:
        where = getattr(error, "problem_mark", None)
        line = f" at line {where.line + 1}" if where is not None else ""
        raise UnreadableFile(f"{path} is not YAML{line}; it was edited or damaged") from None


def checkpoint_problem(path: Path) -> str | None:
    """What is wrong with a checkpoint file in words (`is empty`, `is not a checkpoint ...`),
    or None when it is a whole torch save file. Torch-free: reads the zip container only."""
    if not path.is_file():
        return "does not exist" if not path.exists() else "is not a file"
    if path.stat().st_size == 0:
        return "is empty (0 bytes)"
    with path.open("rb") as file:
        start = file.read(4)
    if start != b"PK\x03\x04":
        return "is not a checkpoint (not a file saved by torch.save)"
    try:
        with zipfile.ZipFile(path) as archive:
            if not any(name.endswith("data.pkl") for name in archive.namelist()):
                return "is a zip file but not a checkpoint (no data.pkl)"
    except (zipfile.BadZipFile, OSError):
        return "is truncated or damaged (its zip directory is unreadable)"
    return None


# Overrides that say how a run was executed, not what it trained: figure titles, legends, the
# swept keys, TensorBoard's run names and hparams leave them out. A name ending in "." covers
# the whole group.
BOOKKEEPING_OVERRIDES = (
    "threads",
    "trainer.enable_progress_bar",
    "trainer.default_root_dir",
    "callbacks.",
    "tensorboard.",
    "logger.",
    "paths.",
    "hydra.",
    "data.data_dir",
    "ckpt_path",
    "train",
    "test",
    "from_search",
    "from_search_member",
)


def is_bookkeeping(key: str) -> bool:
    """Whether the override `key` is bookkeeping (`BOOKKEEPING_OVERRIDES`), not a setting."""
    key = key.lstrip("+")
    return any(
        key.startswith(name) if name.endswith(".") else key == name or key.startswith(name + ".")
        for name in BOOKKEEPING_OVERRIDES
    )


def default_log_dir() -> str:
    """Where runs are written unless `paths.log_dir` says otherwise (as `conf/paths/` reads it)."""
    return os.environ.get("MNIST_LAB_LOG_DIR", "outputs")


def default_data_dir() -> str:
    """Where the MNIST files are unless `paths.data_dir` says otherwise (as `conf/paths/`)."""
    return os.environ.get("MNIST_LAB_DATA_DIR", "data")


def same_setting(given: str, wanted: str) -> bool:
    """Whether a run's setting is the one asked for: as text, or as numbers (1e-4 is 0.0001,
    which is how a sweep writes it)."""
    if given == wanted:
        return True
    try:
        return float(given) == float(wanted)
    except ValueError:
        return False


@dataclass(frozen=True)
class JudgedSamples:
    """A GAN's final samples as its judge sees them (`judged_samples.json`)."""

    counts: list[int]  # samples per class the judge gives them
    judge_test_acc: float  # how often the judge labels the real test images right
    feature_distance: float  # Fréchet distance in the judge's features to the test images
    feature_distance_floor: float  # the same between real training and test images


class RunDir:
    """One run directory: where each file is, and reading and writing the ones code needs."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)

    def __truediv__(self, name: str) -> Path:
        return self.path / name

    def __repr__(self) -> str:
        return f"RunDir({str(self.path)!r})"

    @property
    def is_run(self) -> bool:
        """True when Hydra made this directory for a run (it has `.hydra/`)."""
        return (self.path / HYDRA_DIR).is_dir()

    @property
    def best_checkpoint(self) -> Path:
        return self.path / CHECKPOINT_DIR / f"{BEST_CHECKPOINT}.ckpt"

    @property
    def last_checkpoint(self) -> Path:
        return self.path / LAST_CHECKPOINT

    def resume_checkpoint(self) -> Path | None:
        """The checkpoint an in-place resume starts from: `last.ckpt`, else `best.ckpt` (a kill
        while the first `last.ckpt` was written leaves only that), else None (start over).

        Raises LabError when the file there is damaged, naming it and what is wrong.
        """
        for path in (self.last_checkpoint, self.best_checkpoint):
            if path.exists():
                problem = checkpoint_problem(path)
                if problem is not None:
                    raise UnreadableFile(
                        f"cannot resume {self.path}: {path.relative_to(self.path)} {problem}; "
                        f"remove it to resume from an older checkpoint or start over"
                    )
                return path
        return None

    def remove_stale_temporaries(self) -> list[Path]:
        """Delete the temporary files of saves a kill cut off; returns what was removed."""
        stale = sorted((self.path / CHECKPOINT_DIR).glob(TEMPORARY_PATTERN))
        for path in stale:
            path.unlink(missing_ok=True)
        return stale

    def lock(self) -> None:
        """Hold this run dir for as long as this process lives (a lock on the directory itself,
        no file added); LabError when another process holds it."""
        import fcntl

        path = self.path.resolve()
        if path in _LOCKED:
            return
        handle = os.open(path, os.O_RDONLY)
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(handle)
            raise LabError(
                f"{self.path} is in use by another process (a run or resume of it is still "
                f"going); wait for it to end, or stop it first"
            ) from None
        _LOCKED[path] = handle

    def snapshot(self) -> Path:
        """A copy of the whole run dir in a temporary folder, for `restore`."""
        copy = Path(tempfile.mkdtemp(prefix="mnist_lab-attempt-")) / "run"
        shutil.copytree(self.path, copy, symlinks=True)
        return copy

    def restore(self, snapshot: Path) -> None:
        """Put the run dir back as `snapshot` holds it, byte for byte, and drop the snapshot."""
        for path in self.path.iterdir():
            if path.is_dir() and not path.is_symlink():
                shutil.rmtree(path)
            else:
                path.unlink()
        shutil.copytree(snapshot, self.path, symlinks=True, dirs_exist_ok=True)
        shutil.rmtree(snapshot.parent, ignore_errors=True)

    def newest_checkpoint(self) -> Path | None:
        """The most recent of `last.ckpt` and Lightning's SLURM `hpc_ckpt_<n>.ckpt`, if any."""
        candidates = [self.last_checkpoint, *self.path.glob(SLURM_CHECKPOINTS)]
        existing = [path for path in candidates if path.is_file()]
        return max(existing, key=lambda path: path.stat().st_mtime, default=None)

    def outputs(self) -> list[Path]:
        """What the task wrote: everything but what Hydra writes before it (`.hydra/`, logs)."""
        return [p for p in self.path.iterdir() if p.name != HYDRA_DIR and p.suffix != ".log"]

    def is_empty(self) -> bool:
        """True when the directory holds only what Hydra wrote before the task began."""
        return not self.outputs()

    def remove(self, log_dir: str | Path) -> None:
        """Delete this run dir, then the folders above it up to `log_dir` that it leaves empty.

        A first run that fails before writing anything must not leave `outputs/train/runs/`.
        """
        shutil.rmtree(self.path)
        top = Path(log_dir).resolve()
        for folder in self.path.resolve().parents:
            if not folder.is_relative_to(top):
                break
            try:
                folder.rmdir()  # only when empty: another run's folder stops it
            except OSError:
                break

    def clear_outputs(self) -> None:
        """Remove an earlier attempt's outputs, keeping what Hydra wrote for this one."""
        for path in self.outputs():
            if path.is_dir():
                shutil.rmtree(path)
            else:
                path.unlink()

    def config(self) -> DictConfig:
        """The saved config; empty when the run has none. UnreadableFile when not a YAML mapping."""
        path = self.path / CONFIG_FILE
        if not path.is_file():
            return OmegaConf.create()
        node = _load_yaml(path)
        if not isinstance(node, dict):
            raise UnreadableFile(
                f"{path} is not a config (a YAML mapping); it was edited or damaged"
            )
        return OmegaConf.create(node)

    def saved_config(self, command: str) -> DictConfig:
        """The saved config, or a LabError telling what `command` needs instead."""
        if not self.path.is_dir():
            raise LabError(f"{self.path} does not exist; give a run dir (outputs/train/runs/...)")
        if not (self.path / CONFIG_FILE).is_file():
            members = sorted(p for p in self.path.iterdir() if RunDir(p).is_run)
            hint = f" (a sweep dir: give one of its runs, e.g. {members[0]})" if members else ""
            raise LabError(
                f"{self.path} has no {CONFIG_FILE}; {command} needs a run dir made by "
                f"mnist_lab.train{hint}"
            )
        return self.config()

    def override_list(self) -> list[str]:
        """`.hydra/overrides.yaml` as written: `key=value` strings (empty when absent)."""
        path = self.path / OVERRIDES_FILE
        if not path.is_file():
            return []
        items = _load_yaml(path) or []
        if not isinstance(items, list) or not all(isinstance(i, str) and "=" in i for i in items):
            raise UnreadableFile(f"{path} is not a list of key=value overrides; it was damaged")
        return items

    def overrides(self) -> dict[str, str]:
        """The overrides as key -> value; `+key=v` and `++key=v` count as `key=v`."""
        pairs = (item.partition("=") for item in self.override_list())
        return {key.lstrip("+"): value for key, _, value in pairs}

    def metrics(self) -> dict[str, Any]:
        """`metrics.json`; empty when missing (the run did not finish).

        UnreadableFile when it is not a JSON object of numbers (plus the `environment` record):
        written atomically, it cannot be half a file, so anything else was edited or damaged.
        """
        path = self.path / METRICS_FILE
        if not path.is_file():
            return {}
        try:
            metrics = json.loads(path.read_text())
        except (json.JSONDecodeError, UnicodeDecodeError):
            raise UnreadableFile(f"{path} is not JSON; it was edited or damaged") from None
        if not isinstance(metrics, dict):
            raise UnreadableFile(f"{path} holds a {type(metrics).__name__}, not an object")
        # Metric names (`val/acc`) and `params` are numbers; other keys are records (the
        # environment, a toy run's curves), but nothing the lab writes is null.
        bad = [
            key
            for key, value in metrics.items()
            if value is None or (("/" in key or key == "params") and not _is_number(value))
        ]
        if bad:
            raise UnreadableFile(f"{path}: {bad[0]} is {json.dumps(metrics[bad[0]])}, not a number")
        return metrics

    def write_metrics(self, metrics: dict[str, Any]) -> Path:
        """Save the final numbers; atomic, so a reader never sees half a file."""
        text = json.dumps(metrics, indent=2, sort_keys=True) + "\n"
        return atomic_write_text(self.path / METRICS_FILE, text)

    def failure(self) -> str | None:
        """Why the run stopped (`failed.txt`), or None when it did not fail."""
        path = self.path / FAILED_FILE
        if not path.is_file():
            return None
        lines = [line.strip() for line in path.read_text().splitlines() if line.strip()]
        return lines[0] if lines else "no reason given"

    def record_failure(self, reason: str) -> None:
        """Write `failed.txt`: the reason on one line; nothing when the disk refuses (full,
        read-only), since the reason is printed too."""
        try:
            (self.path / FAILED_FILE).write_text(" ".join(reason.split()) + "\n")
        except OSError:
            (self.path / FAILED_FILE).unlink(missing_ok=True)  # no half a line either

    def clear_failure(self) -> None:
        (self.path / FAILED_FILE).unlink(missing_ok=True)

    def forget_outcome(self) -> None:
        """Remove the last attempt's failure and final numbers: the run is going again."""
        for name in (FAILED_FILE, METRICS_FILE):
            (self.path / name).unlink(missing_ok=True)

    def member_digest(self) -> str | None:
        """The config digest a sweep member recorded when it started (`member.json`)."""
        try:
            return json.loads((self.path / MEMBER_FILE).read_text()).get("config_digest")
        except (OSError, ValueError, AttributeError):
            return None

    def write_member(self, digest: str, overrides: Sequence[str]) -> None:
        record = {"config_digest": digest, "overrides": list(overrides)}
        (self.path / MEMBER_FILE).write_text(json.dumps(record, indent=2) + "\n")

    def sample_grids(self) -> dict[int, Path]:
        """Epoch -> the GAN sample grid saved after it (`samples_epoch_<n>.png`), earliest first."""
        prefix, suffix = SAMPLES_PATTERN.split("{epoch:03d}")
        grids = {}
        for path in self.path.glob(f"{prefix}*{suffix}"):
            epoch = path.name[len(prefix) : -len(suffix)]
            if epoch.isdigit():
                grids[int(epoch)] = path
        return dict(sorted(grids.items()))

    def curves(self) -> dict[str, list[float]]:
        """Per-epoch values from `csv/metrics.csv` (see `read_curves`); empty without a CSV log."""
        path = self.path / CSV_FILE
        return read_curves(path) if path.is_file() else {}

    def last_logged_epoch(self) -> dict[str, float]:
        """Each per-epoch column's last logged value in `csv/metrics.csv` (empty without one)."""
        return {
            column: finite[-1]
            for column, values in self.curves().items()
            if (finite := _finite(values))
        }

    def step_curves(self) -> dict[str, tuple[list[int], list[float]]]:
        """Per-step values (`*_step` columns of `csv/metrics.csv`) as (steps, values), keyed by
        the metric without `_step`; empty without a CSV log."""
        path = self.path / CSV_FILE
        return read_step_curves(path) if path.is_file() else {}

    def last_batch_losses(self) -> list[float]:
        """The training losses of the last mini-batches (`last_batch_losses.json`), else []."""
        try:
            values = json.loads((self.path / LAST_BATCH_LOSSES_FILE).read_text())
        except (OSError, ValueError):
            return []
        return [float(v) for v in values] if isinstance(values, list) else []

    def write_judged_samples(
        self,
        counts: Sequence[int],
        judge_test_acc: float,
        feature_distance: float = math.nan,
        feature_distance_floor: float = math.nan,
    ) -> Path:
        """A GAN's final samples per class as its judge labels them, how often the judge labels
        the real test images right, and the samples' feature distance to the test images beside
        that of real training images (the floor)."""
        record = {
            "counts": [int(c) for c in counts],
            "judge_test_acc": judge_test_acc,
            "feature_distance": feature_distance,
            "feature_distance_floor": feature_distance_floor,
        }
        return atomic_write_text(self.path / JUDGED_SAMPLES_FILE, json.dumps(record) + "\n")

    def judged_samples(self) -> JudgedSamples | None:
        """What the judge made of a GAN's final samples (`judged_samples.json`), or None."""
        try:
            record = json.loads((self.path / JUDGED_SAMPLES_FILE).read_text())
            return JudgedSamples(
                [int(c) for c in record["counts"]],
                float(record["judge_test_acc"]),
                # NaN where a file from before the judge measured a distance has none
                float(record.get("feature_distance", math.nan)),
                float(record.get("feature_distance_floor", math.nan)),
            )
        except (OSError, ValueError, KeyError, TypeError, AttributeError):
            return None

    def write_curves(self, curves: Mapping[str, Sequence[float]], steps: Sequence[int]) -> Path:
        """Per-epoch values as `csv/metrics.csv` in the layout of Lightning's CSV logger: a row
        per epoch, `epoch` counted from 0, `step` the optimizer steps taken by its end."""
        text = io.StringIO()
        writer = csv.writer(text, lineterminator="\n")
        writer.writerow(["epoch", "step", *curves])
        for epoch, step in enumerate(steps):
            writer.writerow([epoch, step, *(float(values[epoch]) for values in curves.values())])
        return atomic_write_text(self.path / CSV_FILE, text.getvalue())

    def read(self) -> Run:
        """Everything a report needs from this run; missing files leave fields empty.

        A damaged file makes the run `unreadable`, with the file and what is wrong as reason.
        """
        try:
            metrics = self.metrics()
            run = Run(
                self.path, self.path.name, self.overrides(), self.config(), metrics, self.curves()
            )
        except (UnreadableFile, csv.Error, UnicodeDecodeError) as error:
            return Run(
                self.path,
                self.path.name,
                {},
                OmegaConf.create(),
                {},
                {},
                "unreadable",
                str(error) if isinstance(error, UnreadableFile) else f"{CSV_FILE}: {error}",
            )
        reason = self.failure()
        if reason is not None:
            run.status, run.reason = "failed", reason
        elif not metrics:
            run.status = "incomplete"
        return run


@dataclass
class Run:
    """What one training run left in its directory."""

    path: Path
    name: str
    # key -> value exactly as given on the command line (`.hydra/overrides.yaml`)
    overrides: dict[str, str]
    config: DictConfig
    # final numbers (`metrics.json`); empty when the run did not finish
    metrics: dict[str, float]
    # one value per epoch from `csv/metrics.csv`, index 0 = epoch 1, NaN where not logged
    curves: dict[str, list[float]] = field(default_factory=dict)
    status: str = "ok"  # ok, failed, incomplete or unreadable
    reason: str = ""  # why it failed (failed.txt), or which file could not be read

    def value(self, key: str) -> str:
        """The setting `key` as given on the command line, else as its composed config has it.

        Empty for a key the run does not have, or whose value is a whole config group.
        """
        if key in self.overrides:
            return self.overrides[key]
        value = OmegaConf.select(
            self.config, key, default=_ABSENT, throw_on_resolution_failure=False
        )
        if value is _ABSENT or isinstance(value, DictConfig):
            return ""
        if isinstance(value, ListConfig):
            # Written the way Hydra overrides are, so `[32,16]` given and composed look alike.
            return json.dumps(OmegaConf.to_container(value, resolve=True), separators=(",", ":"))
        if value is None:
            return "null"
        return str(value).lower() if isinstance(value, bool) else str(value)

    @property
    def setting(self) -> frozenset[tuple[str, str]]:
        """The overrides that make this run's setting, its seed aside: runs of one setting over
        seeds share it."""
        return frozenset((key, value) for key, value in self.overrides.items() if key != "seed")

    @property
    def params(self) -> float:
        """Parameter count, NaN when the run did not get as far as writing it."""
        return self.metrics.get("params", math.nan)

    @property
    def best_val_acc(self) -> float:
        """Best validation accuracy; from the epochs logged so far when the run did not finish."""
        if "val/acc_best" in self.metrics:
            return self.metrics["val/acc_best"]
        return max(_finite(self.curves.get("val/acc", [])), default=math.nan)

    @property
    def final_train_loss(self) -> float:
        """Mean training loss of the last epoch."""
        if "train/loss_epoch" in self.metrics:
            return self.metrics["train/loss_epoch"]
        logged = _finite(self.curves.get("train/loss_epoch", []))
        return logged[-1] if logged else self.metrics.get("train/loss", math.nan)

    @property
    def seconds_per_epoch(self) -> float:
        """Mean training seconds per epoch (the last epoch's when only metrics.json has it)."""
        logged = _finite(self.curves.get("time/epoch_s", []))
        if logged:
            return sum(logged) / len(logged)
        return self.metrics.get("time/epoch_s", math.nan)

    @property
    def training_seconds(self) -> float:
        """The training epochs' seconds, summed (`time/epoch_s`, validation excluded; 0 when
        none was logged)."""
        return sum(_finite(self.curves.get("time/epoch_s", [])))

    @property
    def wall_seconds(self) -> float:
        """Wall time of the whole run: data, fit and test."""
        return self.metrics.get("time/total_s", math.nan)

    @property
    def status_text(self) -> str:
        """`ok`, `incomplete`, `failed: <reason>` or `unreadable: <file and problem>`."""
        return f"{self.status}: {self.reason}" if self.reason else self.status


def _is_number(value: object) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _finite(values: Sequence[float]) -> list[float]:
    return [v for v in values if math.isfinite(v)]


def _number(cell: str | None) -> float | None:
    try:
        return float(cell) if cell else None
    except ValueError:
        return None


def _numbers_by(path: Path, index: str, keep: Callable[[str], bool]) -> dict[str, dict[int, float]]:
    """A CSVLogger file's numbers, column -> {row's `index` (epoch or step) -> value}, for the
    columns `keep` accepts; rows without that index are left out, and an index logged again (a
    resumed epoch, a column logged twice in one) keeps its last value."""
    numbers: dict[str, dict[int, float]] = {}
    with path.open(newline="") as file:
        for row in csv.DictReader(file):
            at = _number(row.get(index))
            if at is None:
                continue
            for column, cell in row.items():
                # a non-text column is the overflow of a malformed row
                if isinstance(column, str) and keep(column):
                    value = _number(cell)
                    if value is not None:
                        numbers.setdefault(column, {})[int(at)] = value
    return numbers


def read_curves(path: Path) -> dict[str, list[float]]:
    """Per-epoch metrics from a Lightning CSVLogger file: one list per column, epoch 1 first.

    Step-level columns (`*_step`), test metrics and rows without an epoch (the learning-rate
    monitor's) are left out. A column logged more than once in an epoch keeps its last value.
    The curves end with the last epoch that trained (a `train/` column or `time/epoch_s`): what
    the test logs after training, at the next epoch's index (the error analysis's
    `val/temperature`), is no point of a curve, and would make a one-epoch run look like two.
    """
    by_epoch = _numbers_by(
        path,
        "epoch",
        lambda column: (
            column not in ("epoch", "step")
            and not column.endswith("_step")
            and not column.startswith("test/")
        ),
    )
    trained = [
        max(values)
        for column, values in by_epoch.items()
        if column.startswith("train/") or column == "time/epoch_s"
    ]
    epochs = 1 + max(trained or (max(values) for values in by_epoch.values()), default=-1)
    return {
        column: [values.get(epoch, math.nan) for epoch in range(epochs)]
        for column, values in by_epoch.items()
        if min(values) < epochs
    }


def read_step_curves(path: Path) -> dict[str, tuple[list[int], list[float]]]:
    """Per-step metrics from a Lightning CSVLogger file: metric (without `_step`) -> (steps,
    values), in the order logged; a step logged again (a resumed epoch) keeps its last value."""
    by_step = _numbers_by(
        path, "step", lambda column: column.endswith("_step") and column != "step"
    )
    return {
        column.removesuffix("_step"): (sorted(values), [values[step] for step in sorted(values)])
        for column, values in by_step.items()
    }


def optuna_best_trial(directory: str | Path) -> tuple[dict[str, Any], float] | None:
    """The best trial's parameters and value an Optuna sweep saved; None without the file.

    Raises LabError when the file holds no single best trial (a multi-objective search).
    """
    path = Path(directory) / OPTUNA_RESULTS_FILE
    if not path.is_file():
        return None
    results = yaml.safe_load(path.read_text()) or {}
    best = results.get("best_params") if isinstance(results, dict) else None
    value = results.get("best_value") if isinstance(results, dict) else None
    if not isinstance(best, dict) or not best or not isinstance(value, (int, float)):
        raise LabError(
            f"{path} has no best_params and best_value; expected the result of a "
            f"single-objective Optuna search"
        )
    return best, float(value)


def find_runs(directory: str | Path) -> list[Run]:
    """The run in a run dir, or every run in a sweep dir or a folder of run dirs, in order.

    Raises LabError when `directory` does not exist or holds no run (a dir with `.hydra/`).
    """
    directory = Path(directory)
    if not directory.is_dir():
        raise LabError(f"{directory} does not exist or is not a directory")
    if RunDir(directory).is_run:
        return [RunDir(directory).read()]
    members = [p for p in directory.iterdir() if RunDir(p).is_run]
    if not members:
        raise LabError(
            f"no runs in {directory}: expected a run dir (with .hydra/) or a sweep or "
            f"runs dir whose subdirectories have .hydra/"
        )
    # Sweep members are numbered: 2 comes before 10.
    members.sort(
        key=lambda p: (not p.name.isdigit(), int(p.name) if p.name.isdigit() else 0, p.name)
    )
    return [RunDir(member).read() for member in members]
