"""Where a training run's seconds go outside its training epochs: start-up, test, teardown.

    python benchmarks/startup_phases.py [--repeats 3] [-- train overrides ...]
    PYTHONPATH=<other checkout>/src python benchmarks/startup_phases.py   # its code: before/after

Runs `python -m mnist_lab.train <overrides>` (default: the default MLP on a 2,000-image subset
for one epoch, so that the epochs do not hide the rest) `--repeats` times, each in a fresh
process instrumented from inside, and prints per phase the median wall and CPU seconds:

    cli + config     interpreter start, mnist_lab and Hydra imported, config composed and checked
    imports          torch and Lightning (train()'s own imports)
    data             the DataModule: files read, split, tensors made
    model + trainer  network, recipe, loggers, callbacks, Trainer
    fit: epochs      the training epochs as EpochTimer measures them
    fit: rest        sanity check, validation, checkpoints, summary, fit's start and end
    test             the test loop (without figures)
    figures          the figures drawn at the end (confusion matrix, decision boundary, ...)
    results          hparams, metrics.json, the last line
    teardown         from train()'s return to the process's exit: Hydra's return and the exit
                     handlers (the last of which this script adds), then Python's finalization
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import runpy
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

STARTED = (time.perf_counter(), time.process_time())
PHASES = (
    "cli + config",
    "imports",
    "data",
    "model + trainer",
    "fit: epochs",
    "fit: rest",
    "test",
    "figures",
    "results",
    "teardown",
)
DEFAULT_OVERRIDES = ("data.subset_size=2000", "trainer.max_epochs=1", "threads=1")


def now() -> tuple[float, float]:
    return time.perf_counter(), time.process_time()


class Marks:
    """Named moments of the run, and seconds spent inside timed calls (figures)."""

    def __init__(self) -> None:
        self.moments: dict[str, tuple[float, float]] = {"start": STARTED}
        self.inside: dict[str, list[float]] = {}

    def mark(self, name: str) -> None:
        self.moments[name] = now()

    def timed(self, name: str, function: Callable) -> Callable:
        def wrapper(*args, **kwargs):
            begun = now()
            try:
                return function(*args, **kwargs)
            finally:
                spent = [b - a for a, b in zip(begun, now(), strict=True)]
                totals = self.inside.setdefault(name, [0.0, 0.0])
                totals[0] += spent[0]
                totals[1] += spent[1]

        return wrapper


def child(overrides: list[str], report: Path) -> None:
    """The instrumented run: hooks placed as each module is first needed, results to `report`."""
    import mnist_lab.runtime.task as task

    marks = Marks()
    run_task = task.run_task

    def instrumented_train(train: Callable) -> Callable:
        def wrapper(cfg):
            marks.mark("train")
            import lightning as L

            import mnist_lab.runtime.assemble as assemble
            from mnist_lab.callbacks import EpochTimer, figures

            marks.mark("imported")
            build_trainer = assemble.build_trainer

            def timed_build_trainer(*args, **kwargs):
                marks.mark("data")  # assemble() builds the trainer after the data and the model
                return build_trainer(*args, **kwargs)

            assemble.build_trainer = timed_build_trainer
            for name in dir(figures):
                callback = getattr(figures, name)
                if isinstance(callback, type) and issubclass(callback, L.Callback):
                    for hook in ("on_test_epoch_end", "on_fit_end"):
                        if hook in vars(callback):
                            setattr(callback, hook, marks.timed("figures", vars(callback)[hook]))
            fit, test = L.Trainer.fit, L.Trainer.test

            def timed_fit(trainer, *args, **kwargs):
                marks.mark("built")
                result = fit(trainer, *args, **kwargs)
                marks.mark("fitted")
                timer = next(c for c in trainer.callbacks if isinstance(c, EpochTimer))
                marks.inside["fit: epochs"] = [sum(timer.epoch_seconds), float("nan")]
                return result

            def timed_test(trainer, *args, **kwargs):
                result = test(trainer, *args, **kwargs)
                marks.mark("tested")
                return result

            L.Trainer.fit, L.Trainer.test = timed_fit, timed_test
            metrics = train(cfg)
            marks.mark("done")
            return metrics

        return wrapper

    task.run_task = lambda train, cfg: run_task(instrumented_train(train), cfg)

    def write_report() -> None:
        marks.mark("atexit")
        report.write_text(json.dumps({"moments": marks.moments, "inside": marks.inside}))

    import atexit

    atexit.register(write_report)
    sys.argv = ["mnist_lab.train", *overrides]
    runpy.run_module("mnist_lab.train", run_name="__main__")


def phases(report: dict, spawned: float, exited: tuple[float, float]) -> dict[str, list[float]]:
    """[wall, CPU] seconds per phase from one child's report, its spawn time and its exit
    (wall time, CPU seconds); perf_counter is the system's monotonic clock, shared by both.
    """
    moments = report["moments"]
    moments["start"] = [spawned, 0.0]
    moments["exit"] = list(exited)
    inside = report["inside"]

    def between(first: str, last: str) -> list[float]:
        return [b - a for a, b in zip(moments[first], moments[last], strict=True)]

    figures = inside.get("figures", [0.0, 0.0])
    fit = between("built", "fitted")
    epochs = inside["fit: epochs"]
    test = between("fitted", "tested")
    return {
        "cli + config": between("start", "train"),
        "imports": between("train", "imported"),
        "data": between("imported", "data"),
        "model + trainer": between("data", "built"),
        "fit: epochs": epochs,
        "fit: rest": [fit[0] - epochs[0], float("nan")],
        "test": [test[0] - figures[0], test[1] - figures[1]],
        "figures": figures,
        "results": between("tested", "done"),
        "teardown": between("done", "exit"),
        "  exit handlers": between("done", "atexit"),
        "  finalization": between("atexit", "exit"),
        "total": between("start", "exit"),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--output-dir", default="outputs/benchmarks/startup")
    parser.add_argument("--child", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("overrides", nargs="*", default=list(DEFAULT_OVERRIDES))
    args = parser.parse_args()
    if args.child:
        child(args.overrides, args.child)
        return
    runs: list[dict[str, list[float]]] = []
    for repeat in range(args.repeats):
        report = Path(args.output_dir) / f"phases_{os.getpid()}_{repeat}.json"
        report.parent.mkdir(parents=True, exist_ok=True)
        run_dir = Path(args.output_dir) / f"run_{os.getpid()}_{repeat}"
        command = [sys.executable, __file__, "--child", str(report), "--", *args.overrides]
        command.append(f"hydra.run.dir={run_dir}")
        cpu_before = resource.getrusage(resource.RUSAGE_CHILDREN)
        spawned = time.perf_counter()
        subprocess.run(command, check=True, stdout=subprocess.DEVNULL)
        usage = resource.getrusage(resource.RUSAGE_CHILDREN)
        cpu = usage.ru_utime + usage.ru_stime - cpu_before.ru_utime - cpu_before.ru_stime
        runs.append(phases(json.loads(report.read_text()), spawned, (time.perf_counter(), cpu)))
        seconds = runs[-1]["total"][0]
        print(f"  repeat {repeat + 1}/{args.repeats}: {seconds:.2f} s", file=sys.stderr)
    print(f"seconds per phase (median of {args.repeats}): {' '.join(args.overrides)}")
    print(f"{'phase':>16} {'wall':>7} {'CPU':>7}")
    for name in (*PHASES, "  exit handlers", "  finalization", "total"):
        wall, cpu = (statistics.median(r[name][i] for r in runs) for i in (0, 1))
        print(f"{name:>16} {wall:7.2f} {cpu:7.2f}")


if __name__ == "__main__":
    main()
