"""Seconds per training epoch: the lab vs a plain PyTorch loop vs a per-sample DataLoader.

    python benchmarks/epoch_speed.py [--repeats 3] [--cases mlp32,mlp128,cnn128] [--device cpu]

All three paths train the same network (built by `mnist_lab.nets`) with the same optimizer,
batch size and training images (the real MNIST training split, 54,000 after the validation
hold-out) in one process, one after the other, so the ratios compare like with like:

- lab:        `mnist_lab.train`'s own objects (composed config, DataModule, Classifier, Trainer
              with its loggers, progress bar and callbacks), validation switched off; the time of
              the training epoch as the lab's EpochTimer callback measures it.
- plain:      a hand-written loop over the same tensor-resident data (random permutation, slices).
- dataloader: the same loop fed by a per-sample `Dataset` + `DataLoader` (uint8 -> normalised
              float per item, default collate), the way torchvision's MNIST class is used.

Each figure is the median of `--repeats` epochs, each from a fresh model.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from collections.abc import Iterable, Iterator
from pathlib import Path

# As mnist_lab itself does on import (see its __init__): set before torch starts its threads.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402
from hydra import compose, initialize_config_dir
from hydra.utils import instantiate
from omegaconf import open_dict

from mnist_lab.callbacks import EpochTimer
from mnist_lab.runs import assemble

CONF_DIR = Path(__file__).resolve().parents[1] / "conf"
CASES = {"mlp32": ("mlp", 32), "mlp128": ("mlp", 128), "cnn32": ("cnn", 32), "cnn128": ("cnn", 128)}


def lab_config(model: str, batch_size: int, device: str, output_dir: str):
    overrides = [
        f"model={model}",
        f"data.batch_size={batch_size}",
        f"trainer.accelerator={device}",
        "trainer.max_epochs=1",
        "+trainer.limit_val_batches=0",
        "+trainer.num_sanity_val_steps=0",
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
    optimizer = torch.optim.Adam(net.parameters(), lr=cfg.model.optimizer.lr)
    return net, optimizer


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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--cases", default="mlp32,mlp128,cnn128", help=",".join(CASES))
    parser.add_argument("--device", default="cpu", choices=["cpu", "gpu"])
    parser.add_argument("--skip-dataloader", action="store_true")
    parser.add_argument("--output-dir", default="outputs/benchmarks")
    args = parser.parse_args()
    device = torch.device("cuda" if args.device == "gpu" else "cpu")
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, device {device}")

    rows = []
    for case in args.cases.split(","):
        model, batch_size = CASES[case]
        cfg = lab_config(model, batch_size, args.device, args.output_dir)
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
