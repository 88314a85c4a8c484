"""Where one CPU training epoch of the lab goes: the math vs what Lightning and the lab add.

    python benchmarks/profile_epoch.py [--cases mlp128,cnn128] [--conf-dir conf]

For each case, in one process: a plain loop's epoch (the same network, optimizer and batches),
the lab's epoch (`assemble()` + `Trainer.fit`, loggers, progress bar, callbacks and the
end-of-epoch checkpoint on, validation off), both timed in this process's CPU seconds, and the
lab's epoch again under cProfile, broken down by component. cProfile inflates pure-Python
parts, so its table shows where the time goes, and the unprofiled pair what it costs.
`--conf-dir` and PYTHONPATH can point at another checkout to profile its code (before/after).
"""

from __future__ import annotations

import argparse
import cProfile
import os
import pstats
import sys
import time
from pathlib import Path

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import lightning as L  # noqa: E402
import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402
from hydra import compose, initialize_config_dir  # noqa: E402
from hydra.utils import instantiate  # noqa: E402
from omegaconf import open_dict  # noqa: E402

from mnist_lab.runtime.assemble import assemble  # noqa: E402
from mnist_lab.runtime.precision import choose_precision  # noqa: E402

CASES = {"mlp32": ("mlp", 32), "mlp128": ("mlp", 128), "cnn128": ("cnn", 128)}

# (label, file suffix, function name): these functions never call one another within a training
# step, so their cumulative times add up; the rest of the epoch is Lightning's loop. Where a
# name matches several functions (a wrapper and what it wraps), the largest is taken.
COMPONENTS = (
    ("forward (math)", "models/classifier.py", "forward"),
    ("backward (math)", "torch/autograd/__init__.py", "backward"),
    ("optimizer update (math)", "torch/optim/adam.py", "adam"),
    ("zero_grad", "torch/optim/optimizer.py", "zero_grad"),
    ("lr scheduler", "torch/optim/lr_scheduler.py", "step"),
    ("metric objects", "torchmetrics/metric.py", "wrapped_func"),
    ("self.log", "lightning/pytorch/core/module.py", "log"),
    ("batches (fetch, gather)", "lightning/pytorch/loops/fetchers.py", "__next__"),
    ("progress bar", "callbacks/progress/rich_progress.py", "on_train_batch_end"),
    ("step metrics to loggers", "logger_connector.py", "update_train_step_metrics"),
    ("checkpoint save", "lightning/pytorch/trainer/trainer.py", "save_checkpoint"),
)
EPOCH = ("lightning/pytorch/loops/training_epoch_loop.py", "run")


class EpochCPUTime(L.Callback):
    """This process's CPU seconds for each training epoch."""

    def __init__(self) -> None:
        self.seconds: list[float] = []

    def on_train_epoch_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        self._started = time.process_time()

    def on_train_epoch_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        self.seconds.append(time.process_time() - self._started)


def case_config(conf_dir: Path, model: str, batch_size: int, output_dir: str):
    overrides = [
        f"model={model}",
        f"data.batch_size={batch_size}",
        "trainer.max_epochs=1",
        "++trainer.limit_val_batches=0",
        "++trainer.num_sanity_val_steps=0",
        "monitor=null",  # no validation: the checkpoint keeps the latest epoch
    ]
    with initialize_config_dir(str(conf_dir.resolve()), version_base="1.3"):
        cfg = compose("train", overrides=overrides)
    with open_dict(cfg):
        cfg.paths.output_dir = output_dir
    return cfg


def lab_epoch(cfg, profiler: cProfile.Profile | None = None) -> tuple[float, int]:
    """CPU seconds of one lab training epoch and its number of steps."""
    datamodule, model, trainer = assemble(cfg)
    timer = EpochCPUTime()
    trainer.callbacks.append(timer)
    if profiler is not None:
        profiler.enable()
    trainer.fit(model, datamodule=datamodule)
    if profiler is not None:
        profiler.disable()
    return timer.seconds[-1], trainer.global_step


def plain_epoch(cfg) -> float:
    """CPU seconds of the same epoch in a hand-written loop over the same batches."""
    datamodule = instantiate(cfg.data)
    datamodule.setup("fit")
    torch.manual_seed(cfg.seed)
    net = instantiate(cfg.model.net, input_shape=[1, 28, 28], num_classes=10)
    optimizer = torch.optim.Adam(net.parameters(), lr=cfg.model.optimizer.lr)
    started = time.process_time()
    precision = choose_precision(cfg.trainer, cfg.model.net._target_)
    for x, y in datamodule.train_dataloader():
        with precision.autocast("cpu"):  # the lab's precision (trainer.precision, auto)
            loss = F.cross_entropy(net(x), y)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
    return time.process_time() - started


def breakdown(profiler: cProfile.Profile, steps: int) -> list[tuple[str, float]]:
    """(component, profiled ms per step), the rest of the epoch last as Lightning's loop."""
    stats = pstats.Stats(profiler).stats  # (file, line, name) -> (cc, nc, tottime, cumtime, ..)

    def cumulative(suffix: str, name: str) -> float:
        times = [
            row[3]
            for (file, _, func), row in stats.items()
            if func == name and file.endswith(suffix)
        ]
        return max(times, default=0.0)

    epoch = cumulative(*EPOCH)
    rows = [(label, cumulative(suffix, name)) for label, suffix, name in COMPONENTS]
    rows.append(("Lightning loop and hooks (rest)", epoch - sum(s for _, s in rows)))
    rows.append(("whole epoch", epoch))
    return [(label, 1000 * seconds / steps) for label, seconds in rows]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--cases", default="mlp128,cnn128", help=",".join(CASES))
    parser.add_argument("--conf-dir", type=Path, default=Path(__file__).parents[1] / "conf")
    parser.add_argument("--output-dir", default="outputs/benchmarks/profile")
    args = parser.parse_args()
    import mnist_lab

    print(f"mnist_lab from {Path(mnist_lab.__file__).parent}, {torch.get_num_threads()} threads")
    for case in args.cases.split(","):
        model, batch_size = CASES[case]
        cfg = case_config(args.conf_dir, model, batch_size, args.output_dir)
        plain = plain_epoch(cfg)
        lab, steps = lab_epoch(cfg)
        # CPU time, not wall: other processes sharing the cores would show up as waiting.
        profiler = cProfile.Profile(time.process_time)
        lab_epoch(cfg, profiler)
        print(f"\n{case}: {steps} steps; CPU ms per step, unprofiled:", file=sys.stdout)
        print(
            f"  plain loop {1000 * plain / steps:.3f}, lab {1000 * lab / steps:.3f}, "
            f"lab - plain {1000 * (lab - plain) / steps:.3f} ({lab / plain:.3f}x)"
        )
        print("  under cProfile, ms per step:")
        for label, ms in breakdown(profiler, steps):
            print(f"    {label:<34}{ms:8.3f}")


if __name__ == "__main__":
    main()
