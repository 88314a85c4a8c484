"""Seconds per training epoch: the lab vs a plain PyTorch loop vs a per-sample DataLoader.

    python benchmarks/epoch_speed.py [--repeats 3] [--cases mlp32,mlp128,cnn128] [--device cpu]
    python benchmarks/epoch_speed.py --mode time-to-accuracy --recipe cnn_fast [--repeats 3]
    python benchmarks/epoch_speed.py --mode end-to-end [--repeats 3] [--threads N]

All three paths train the same network (built by `mnist_lab.nets`) with the same optimizer,
batch size, precision (the lab's `trainer.precision`, auto per machine; `--precision 32` sets
it for all three) and training images (the real MNIST training split, 54,000 after the validation
hold-out) in one process, one after the other, so the ratios compare like with like:

- lab:        `mnist_lab.train`'s own objects (composed config, DataModule, Classifier, Trainer
              with its loggers, progress bar and callbacks), validation switched off; the time of
              the training epoch as the lab's EpochTimer callback measures it.
- plain:      a hand-written loop over the same tensor-resident data (random permutation, slices).
- dataloader: the same loop fed by a per-sample `Dataset` + `DataLoader` (uint8 -> normalised
              float per item, default collate), the way torchvision's MNIST class is used.

Each figure is the median of `--repeats` epochs, each from a fresh model.

`--mode time-to-accuracy` trains a whole experiment (`conf/experiment/<recipe>.yaml`) twice per
repeat, through the lab and through the plain loop over the very same batches, and prints the
training seconds each needed to reach 98%, 99% and 99.5% test accuracy, and their ratio. The test
set is scored every `--eval-every` steps with the clock stopped, so the figures are training time
only, resolved to that many steps.

`--mode end-to-end` runs `python -m mnist_lab.train experiment=cnn_fast` (the lab's defaults,
precision auto) and `benchmarks/plain_cnn_fast.py` in fp32 and at the lab's precision as whole
processes, alternating, and prints wall and CPU seconds with the ratios lab/plain; then the
recipe's training FLOPs (torch's FlopCounterMode over one step), the GFLOP/s each path
achieved in its training, and this CPU's own matmul peak in fp32 and bf16, measured in the same
run at the same threads.
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import subprocess
import sys
import time
from collections.abc import Iterable, Iterator
from pathlib import Path

# As mnist_lab itself does on import (see its __init__): set before torch starts its threads.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import lightning as L  # noqa: E402
import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402
from hydra import compose, initialize_config_dir
from hydra.utils import instantiate
from omegaconf import DictConfig, OmegaConf, open_dict

from mnist_lab.callbacks import EpochTimer
from mnist_lab.data.datamodule import EpochOrder, TensorBatches
from mnist_lab.models.optimizers import make_optimizer
from mnist_lab.runtime.assemble import assemble, build_trainer
from mnist_lab.runtime.precision import choose_precision
from mnist_lab.runtime.rundir import RunDir

CONF_DIR = Path(__file__).resolve().parents[1] / "conf"
CASES = {"mlp32": ("mlp", 32), "mlp128": ("mlp", 128), "cnn32": ("cnn", 32), "cnn128": ("cnn", 128)}
THRESHOLDS = (0.98, 0.99, 0.995)


def lab_config(model: str, batch_size: int, device: str, output_dir: str, precision: str = "auto"):
    overrides = [f"model={model}", f"data.batch_size={batch_size}", "trainer.max_epochs=1"]
    overrides.append(f"trainer.precision={precision}")
    return compose_without_validation(overrides, device, output_dir)


def compose_without_validation(overrides: list[str], device: str, output_dir: str) -> DictConfig:
    """The train config with `overrides`, validation and the checkpoint that needs it off."""
    overrides = [
        *overrides,
        f"trainer.accelerator={device}",
        "++trainer.limit_val_batches=0",
        "++trainer.num_sanity_val_steps=0",
        "~callbacks.model_checkpoint",  # nothing to monitor without validation
    ]
    with initialize_config_dir(str(CONF_DIR), version_base="1.3"):
        cfg = compose("train", overrides=overrides)
    with open_dict(cfg):
        cfg.paths.output_dir = output_dir
    return cfg


def time_lab(cfg) -> float:
    datamodule, model, trainer = assemble(cfg)
    timer = next(c for c in trainer.callbacks if isinstance(c, EpochTimer))
    trainer.fit(model, datamodule=datamodule)
    return timer.epoch_seconds[-1]


def make_net_and_optimizer(cfg, device: torch.device):
    torch.manual_seed(cfg.seed)
    net = instantiate(cfg.model.net, input_shape=[1, 28, 28], num_classes=10).to(device)
    if cfg.model.get("channels_last"):
        net.to(memory_format=torch.channels_last)
    optimizer = torch.optim.Adam(net.parameters(), lr=cfg.model.optimizer.lr)
    return net, optimizer


def autocast(cfg: DictConfig, device: torch.device) -> torch.autocast:
    """The plain loops' forward context: the precision the lab's Trainer resolves for `cfg`
    (`trainer.precision`, auto per machine), so that lab and plain loop do the same math.
    """
    precision = choose_precision(cfg.trainer, cfg.model.net._target_)
    if precision.precision not in ("32", "32-true", "bf16-mixed"):
        sys.exit(f"error: the plain loops run in 32 or bf16-mixed, not {precision.precision}")
    return precision.autocast(device.type)


def sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize()


def time_epoch(cfg, batches: Iterable, device: torch.device) -> float:
    """Seconds for one pass of a fresh model over `batches` (consumed inside the timing)."""
    net, optimizer = make_net_and_optimizer(cfg, device)
    sync(device)
    started = time.perf_counter()
    for x, y in batches:
        x, y = x.to(device, non_blocking=True), y.to(device, non_blocking=True)
        with autocast(cfg, device):
            loss = F.cross_entropy(net(x), y)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
    sync(device)
    return time.perf_counter() - started


def tensor_slices(images: torch.Tensor, labels: torch.Tensor, batch_size: int) -> Iterator:
    """The plain loop's data: one random permutation, then contiguous slices."""
    order = torch.randperm(len(labels), device=labels.device)
    images, labels = images[order], labels[order]
    for start in range(0, len(labels), batch_size):
        yield images[start : start + batch_size], labels[start : start + batch_size]


class PerSampleMNIST(torch.utils.data.Dataset):
    """One uint8 image at a time, normalised in `__getitem__`, as torchvision's MNIST does."""

    def __init__(self, images: torch.Tensor, labels: torch.Tensor, mean: float, std: float):
        self.images, self.labels, self.mean, self.std = images, labels, mean, std

    def __len__(self) -> int:
        return len(self.labels)

    def __getitem__(self, index: int) -> tuple[torch.Tensor, int]:
        image = self.images[index].float().div(255).sub(self.mean).div(self.std)
        return image.unsqueeze(0), int(self.labels[index])


@torch.inference_mode()
def test_accuracy(net: torch.nn.Module, images: torch.Tensor, labels: torch.Tensor) -> float:
    """Accuracy on (images, labels) in eval mode, leaving the net in the mode it was in."""
    was_training = net.training
    net.eval()
    batches = zip(images.split(2000), labels.split(2000), strict=True)
    correct = sum(int((net(x).argmax(1) == y).sum()) for x, y in batches)
    net.train(was_training)
    return correct / len(labels)


class AccuracyClock:
    """Training seconds at which a model first reaches each test accuracy.

    `check` scores the model every `eval_every` steps with the clock stopped, so the seconds
    it records are time spent training only: wall-clock and this process's CPU time (the
    latter is the steadier figure on a machine other jobs share).
    """

    def __init__(self, images: torch.Tensor, labels: torch.Tensor, eval_every: int) -> None:
        self.images, self.labels, self.eval_every = images, labels, eval_every
        # (wall seconds, CPU seconds, test accuracy) at each check
        self.history: list[tuple[float, float, float]] = []
        self._started = self._paused = torch.zeros(2, dtype=torch.float64)

    @staticmethod
    def _now() -> torch.Tensor:
        return torch.tensor([time.perf_counter(), time.process_time()], dtype=torch.float64)

    def start(self) -> None:
        sync(self.images.device)
        self._started, self._paused = self._now(), torch.zeros(2, dtype=torch.float64)

    def check(self, net: torch.nn.Module, step: int, last: bool) -> None:
        if step % self.eval_every and not last:
            return
        sync(self.images.device)
        paused = self._now()
        accuracy = test_accuracy(net, self.images, self.labels)
        wall, cpu = (paused - self._started - self._paused).tolist()
        self.history.append((wall, cpu, accuracy))
        self._paused += self._now() - paused

    def seconds_to(self, accuracy: float | None, clock: int = 0) -> float:
        """Wall (clock=0) or CPU (clock=1) seconds to `accuracy`; None: to the end of training."""
        if accuracy is None:
            return self.history[-1][clock]
        return next((h[clock] for h in self.history if h[2] >= accuracy), float("nan"))


class LabAccuracyClock(L.Callback):
    """Runs an AccuracyClock inside the lab's Trainer: started with training, checked per step."""

    def __init__(self, clock: AccuracyClock) -> None:
        self.clock = clock

    def on_train_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        self.clock.start()

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx: int) -> None:
        step = trainer.global_step
        self.clock.check(pl_module, step, last=step == trainer.estimated_stepping_batches)


def recipe_config(recipe: str, device: str, output_dir: str, precision: str = "auto") -> DictConfig:
    """An experiment's config for timing, refused if the plain loop could not copy its recipe."""
    overrides = [f"experiment={recipe}", f"trainer.precision={precision}"]
    cfg = compose_without_validation(overrides, device, output_dir)
    supported = {
        "model._target_": lambda v: str(v).endswith("Classifier"),
        "model.scheduler.name": lambda v: v in ("none", "onecycle"),
        "model.optimizer.weight_decay": lambda v: not v,
        "model.l1": lambda v: not v,
    }
    values = {key: OmegaConf.select(cfg, key) for key in supported}
    unsupported = [f"{key}={values[key]}" for key, ok in supported.items() if not ok(values[key])]
    if unsupported:
        sys.exit(
            f"error: --recipe {recipe} has {', '.join(unsupported)}; the plain loop copies "
            "classifiers with no or a one-cycle schedule and no weight penalty"
        )
    return cfg


def time_plain_recipe(cfg: DictConfig, datamodule, device: torch.device, clock: AccuracyClock):
    """The recipe in a plain loop over the same batches, in the same order, as the lab's."""
    net, _ = make_net_and_optimizer(cfg, device)
    optimizer = make_optimizer(net.parameters(), cfg.model.optimizer)
    images, labels = (t.to(device) for t in datamodule.splits["train"])
    order = EpochOrder(labels, cfg.data.order, cfg.data.seed)
    batches = TensorBatches(images, labels, cfg.data.batch_size, order)
    total = cfg.trainer.max_epochs * len(batches)
    scheduler = None
    if cfg.model.scheduler.name == "onecycle":
        settings = {k: v for k, v in cfg.model.scheduler.items() if k != "name"}
        scheduler = torch.optim.lr_scheduler.OneCycleLR(
            optimizer, max_lr=cfg.model.optimizer.lr, total_steps=total, **settings
        )
    clock.start()
    step = 0
    for epoch in range(cfg.trainer.max_epochs):
        order.set_epoch(epoch)
        for x, y in batches:
            with autocast(cfg, device):
                loss = F.cross_entropy(net(x), y)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            if scheduler is not None:
                scheduler.step()
            step += 1
            clock.check(net, step, last=step == total)


def bare_lightning_trainer(cfg: DictConfig, clock: AccuracyClock) -> L.Trainer:
    """A Trainer from `cfg.trainer` with nothing of the lab's around the loop: no loggers,
    progress bar, checkpoints, summary or callbacks but the clock. Training the lab's own
    module and data, it shows what Lightning's loop costs and what the lab adds to it."""
    cfg = cfg.copy()
    with open_dict(cfg):
        cfg.trainer.enable_checkpointing = False
        cfg.trainer.enable_progress_bar = False
        cfg.trainer.enable_model_summary = False
    return build_trainer(cfg, [LabAccuracyClock(clock)], loggers=False)


PATHS = ("lab", "lightning", "plain")


def time_to_accuracy(args: argparse.Namespace) -> None:
    device = torch.device("cuda" if args.device == "gpu" else "cpu")
    cfg = recipe_config(args.recipe, args.device, args.output_dir, args.precision)
    datamodule = instantiate(cfg.data)
    datamodule.setup("fit")
    test_images, test_labels = (t.to(device) for t in datamodule.splits["test"])
    clocks: dict[str, list[AccuracyClock]] = {path: [] for path in PATHS}
    for repeat in range(args.repeats):
        for path in PATHS[::-1] if repeat % 2 else PATHS:  # alternating
            clock = AccuracyClock(test_images, test_labels, args.eval_every)
            if path == "plain":
                time_plain_recipe(cfg, datamodule, device, clock)
            else:
                lab_datamodule, model, trainer = assemble(cfg)
                if path == "lab":
                    trainer.callbacks.append(LabAccuracyClock(clock))
                else:
                    trainer = bare_lightning_trainer(cfg, clock)
                trainer.fit(model, datamodule=lab_datamodule)
            clocks[path].append(clock)
        done = {
            k: f"{v[-1].history[-1][2]:.4f} in {v[-1].history[-1][0]:.2f}s"
            for k, v in clocks.items()
        }
        print(f"  {args.recipe} repeat {repeat + 1}/{args.repeats}: {done}", file=sys.stderr)

    steps = cfg.trainer.max_epochs * len(datamodule.train_dataloader())
    print(
        f"\n{args.recipe}: training seconds to each test accuracy (median of {args.repeats}, "
        f"alternating; {steps} steps, test set scored every {args.eval_every} steps with the "
        "clock stopped). lab: the lab's Trainer as a run has it (loggers, progress bar, "
        "callbacks); lightning: the same module and data in a bare Trainer; plain: a loop."
    )
    columns = ("target", "lab", "lightning", "plain", "lab/plain", "light/plain")
    print("".join(f"{name:>16}" for name in (*columns, *(f"CPU {c}" for c in columns[4:]))))
    for accuracy in (*THRESHOLDS, None):
        figures = {
            (path, clock): statistics.median(c.seconds_to(accuracy, clock) for c in clocks[path])
            for path in PATHS
            for clock in (0, 1)
        }
        row = [figures[path, 0] for path in PATHS]
        for clock in (0, 1):
            row += [figures[path, clock] / figures["plain", clock] for path in PATHS[:2]]
        name = "all steps" if accuracy is None else f"{accuracy:.1%}"
        print(f"{name:>16}" + "".join(f"{value:16.3f}" for value in row))
    finals = {k: ", ".join(f"{c.history[-1][2]:.4f}" for c in v) for k, v in clocks.items()}
    print("final test accuracy: " + "; ".join(f"{k} {v}" for k, v in finals.items()))


def matmul_peak(dtype: torch.dtype, size: int = 2048, repeats: int = 5) -> float:
    """This machine's GFLOP/s for one square matmul in `dtype` (the best of `repeats`)."""
    a, b = torch.randn(size, size, dtype=dtype), torch.randn(size, size, dtype=dtype)
    a @ b  # the first call allocates and picks kernels
    best = min(timed_call(lambda: a @ b) for _ in range(repeats))
    return 2 * size**3 / best / 1e9


def timed_call(function) -> float:
    started = time.perf_counter()
    function()
    return time.perf_counter() - started


def training_flops(cfg: DictConfig, images: int) -> float:
    """FLOPs of the recipe's training (forward and backward, as torch counts them)."""
    from torch.utils.flop_counter import FlopCounterMode

    net, _ = make_net_and_optimizer(cfg, torch.device("cpu"))
    batch = cfg.data.batch_size
    x, y = torch.randn(batch, 1, 28, 28), torch.randint(0, 10, (batch,))
    with FlopCounterMode(display=False) as counter:
        F.cross_entropy(net(x), y).backward()
    return counter.get_total_flops() / batch * images * cfg.trainer.max_epochs


def run_timed(command: list[str]) -> tuple[float, float, str]:
    """(wall seconds, CPU seconds, stdout) of a command run to its end."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    done = subprocess.run(command, check=True, capture_output=True, text=True)
    wall = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime
    return wall, cpu, done.stdout


def end_to_end(args: argparse.Namespace) -> None:
    """`train experiment=cnn_fast` as a user runs it vs the plain script in fp32 and at the
    lab's precision, alternating, whole processes; then GFLOP/s against this CPU's matmul peak.
    """
    cfg = recipe_config(args.recipe, "cpu", args.output_dir)
    lab_precision = choose_precision(cfg.trainer, cfg.model.net._target_).precision
    plain = [sys.executable, str(Path(__file__).parent / "plain_cnn_fast.py")]
    threads = [f"threads={args.threads}"] if args.threads else []
    plain_threads = ["--threads", str(args.threads)] if args.threads else []
    paths = {
        "lab": [sys.executable, "-m", "mnist_lab.train", f"experiment={args.recipe}", *threads],
        "plain 32": [*plain, "--precision", "32", *plain_threads],
    }
    if lab_precision == "bf16-mixed":
        paths[f"plain {lab_precision}"] = [*plain, "--precision", lab_precision, *plain_threads]
    results: dict[str, list[tuple[float, float, float]]] = {name: [] for name in paths}
    for repeat in range(args.repeats):
        for name, command in paths.items():
            run_dir = Path(args.output_dir) / f"end_to_end_{os.getpid()}_{repeat}"
            extra = [f"hydra.run.dir={run_dir}"] if name == "lab" else []
            wall, cpu, stdout = run_timed([*command, *extra])
            if name == "lab":
                training = RunDir(run_dir).read().training_seconds
            else:
                training = float(stdout.split(" s training")[0].rsplit(" ", 1)[1])
            results[name].append((wall, cpu, training))
            print(
                f"  {name} {repeat + 1}/{args.repeats}: {stdout.strip().splitlines()[-1]}",
                file=sys.stderr,
            )
    medians = {
        name: [statistics.median(r[i] for r in runs) for i in range(3)]
        for name, runs in results.items()
    }
    print(
        f"\n{args.recipe} end to end (median of {args.repeats}, alternating); the lab at "
        f"trainer.precision=auto: {choose_precision(cfg.trainer, cfg.model.net._target_).summary()}"
    )
    print(
        f"{'path':>20}{'wall s':>10}{'CPU s':>10}{'train s':>10}{'lab/path wall':>15}"
        f"{'lab/path CPU':>14}"
    )
    lab = medians["lab"]
    for name, (wall, cpu, training) in medians.items():
        print(
            f"{name:>20}{wall:10.2f}{cpu:10.2f}{training:10.2f}{lab[0] / wall:15.3f}"
            f"{lab[1] / cpu:14.3f}"
        )
    print("goals: lab / plain 32 < 1.0; lab / plain at the lab's precision <= 1.05")

    datamodule = instantiate(cfg.data)
    datamodule.setup("fit")
    flops = training_flops(cfg, len(datamodule.splits["train"][1]))
    peaks = {"32": matmul_peak(torch.float32), "bf16-mixed": matmul_peak(torch.bfloat16)}
    print(
        f"\n{args.recipe} training: {flops / 1e12:.3f} TFLOP forward and backward; this CPU's "
        f"matmul peak at {torch.get_num_threads()} threads: fp32 {peaks['32']:.0f} GFLOP/s, "
        f"bf16 {peaks['bf16-mixed']:.0f} GFLOP/s"
    )
    print(f"{'path':>20}{'GFLOP/s':>10}{'of peak':>10}{'bound s':>10}{'train/bound':>13}")
    for name, (_, _, training) in medians.items():
        precision = lab_precision if name == "lab" else name.removeprefix("plain ")
        peak = peaks["bf16-mixed" if precision == "bf16-mixed" else "32"]
        achieved, bound = flops / training / 1e9, flops / peak / 1e9
        print(
            f"{name:>20}{achieved:10.1f}{achieved / peak:10.1%}{bound:10.2f}"
            f"{training / bound:13.2f}"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument(
        "--mode", default="epoch", choices=["epoch", "time-to-accuracy", "end-to-end"]
    )
    parser.add_argument("--threads", type=int, help="torch's threads (default: all cores)")
    parser.add_argument("--recipe", default="cnn_fast", help="an experiment in conf/experiment/")
    parser.add_argument("--eval-every", type=int, default=50, help="steps between test scores")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--cases", default="mlp32,mlp128,cnn128", help=",".join(CASES))
    parser.add_argument("--device", default="cpu", choices=["cpu", "gpu"])
    parser.add_argument("--skip-dataloader", action="store_true")
    parser.add_argument("--output-dir", default="outputs/benchmarks")
    parser.add_argument("--precision", default="auto", help="trainer.precision for every path")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    device = torch.device("cuda" if args.device == "gpu" else "cpu")
    precision = choose_precision({"precision": args.precision, "accelerator": args.device})
    print(
        f"torch {torch.__version__}, {torch.get_num_threads()} threads, device {device}, "
        f"precision {precision.summary()}"
    )
    if args.mode == "time-to-accuracy":
        time_to_accuracy(args)
        return
    if args.mode == "end-to-end":
        end_to_end(args)
        return

    rows = []
    for case in args.cases.split(","):
        model, batch_size = CASES[case]
        cfg = lab_config(model, batch_size, args.device, args.output_dir, args.precision)
        datamodule = instantiate(cfg.data)
        datamodule.setup("fit")
        images, labels = datamodule.splits["train"]
        raw = (images * datamodule.spec.std + datamodule.spec.mean).mul(255).round().byte()
        dataset = PerSampleMNIST(raw[:, 0], labels, datamodule.spec.mean, datamodule.spec.std)
        times: dict[str, list[float]] = {"lab": [], "plain": [], "dataloader": []}
        for repeat in range(args.repeats):
            slices = tensor_slices(images.to(device), labels.to(device), batch_size)
            times["plain"].append(time_epoch(cfg, slices, device))
            times["lab"].append(time_lab(cfg))
            if not args.skip_dataloader:
                loader = torch.utils.data.DataLoader(dataset, batch_size=batch_size, shuffle=True)
                times["dataloader"].append(time_epoch(cfg, loader, device))
            done = {k: f"{v[-1]:.2f}s" for k, v in times.items() if v}
            print(f"  {case} repeat {repeat + 1}/{args.repeats}: {done}", file=sys.stderr)
        medians = {k: statistics.median(v) for k, v in times.items() if v}
        rows.append((case, len(labels), medians))

    print(f"\nseconds per training epoch (median of {args.repeats}), {len(labels)} images")
    columns = ("case", "lab", "plain", "loader", "lab/plain", "loader/plain")
    print("".join(f"{name:>13}" for name in columns))
    for case, _, m in rows:
        loader = m.get("dataloader", float("nan"))
        figures = (m["lab"], m["plain"], loader, m["lab"] / m["plain"], loader / m["plain"])
        print(f"{case:>13}" + "".join(f"{value:13.3f}" for value in figures))


if __name__ == "__main__":
    main()
