"""The cnn_fast recipe as a plain PyTorch script: no Lightning, no Hydra, nothing logged.

    time python benchmarks/plain_cnn_fast.py [--data-dir DIR] [--seed 42] [--epochs 2]
        [--precision 32|bf16-mixed] [--threads N]

The yardstick for `time python -m mnist_lab.train experiment=cnn_fast`: the same network,
training split, batches, optimizer and schedule (`conf/experiment/cnn_fast.yaml`; a test keeps
the two in step), from process start to the test accuracy, with nothing else done. The data
comes from the same folder (`MNIST_LAB_DATA_DIR`) and files as the lab's, read once into
tensors that stay in memory, as the lab keeps them. `--precision bf16-mixed` trains under
bf16 autocast, as Lightning's bf16-mixed does (the test stays in fp32 in both).
"""

from __future__ import annotations

import time

STARTED = time.perf_counter()

import argparse  # noqa: E402
import os  # noqa: E402
from collections.abc import Sequence  # noqa: E402
from pathlib import Path  # noqa: E402

# As mnist_lab does: passive OpenMP waiting, so processes sharing the cores do not spin.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import numpy as np  # noqa: E402
import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402
from torch import nn  # noqa: E402

from mnist_lab.data.idx import read_idx  # noqa: E402

RECIPE = {
    "channels": (16, 32, 64),
    "lr": 0.01,
    "batch_size": 128,
    "epochs": 2,
    "val_fraction": 0.1,  # held out, as the lab does, so both train on the same 54,000 images
    "split_seed": 12345,
    "mean": 0.1307,
    "std": 0.3081,
}


def build_net(channels: Sequence[int] = RECIPE["channels"]) -> nn.Sequential:
    """(3x3 conv without bias -> BatchNorm -> ReLU -> 2x2 max-pool) per channel count -> linear."""
    layers: list[nn.Module] = []
    in_channels, size = 1, 28
    for out_channels in channels:
        layers += [
            nn.Conv2d(in_channels, out_channels, 3, padding=1, bias=False),
            nn.BatchNorm2d(out_channels),
            nn.ReLU(),
            nn.MaxPool2d(2),
        ]
        in_channels, size = out_channels, size // 2
    return nn.Sequential(*layers, nn.Flatten(), nn.Linear(in_channels * size * size, 10))


def load(data_dir: Path, split: str) -> tuple[torch.Tensor, torch.Tensor]:
    """Standardised float images [n, 1, 28, 28] and int64 labels of one official split."""
    prefix = "train" if split == "train" else "t10k"
    images = read_idx(data_dir / "MNIST" / "raw" / f"{prefix}-images-idx3-ubyte")
    labels = read_idx(data_dir / "MNIST" / "raw" / f"{prefix}-labels-idx1-ubyte")
    x = torch.from_numpy(images.copy()).unsqueeze(1).float().div_(255)
    x = x.sub_(RECIPE["mean"]).div_(RECIPE["std"])
    return x, torch.from_numpy(labels.astype(np.int64))


def main(argv: Sequence[str] | None = None) -> float:
    """Train the recipe and return its test accuracy (printed with the seconds since start)."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data-dir", default=os.environ.get("MNIST_LAB_DATA_DIR", "data"))
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--epochs", type=int, default=RECIPE["epochs"])
    parser.add_argument("--precision", default="32", choices=["32", "bf16-mixed"])
    parser.add_argument("--threads", type=int, help="torch's intra-op threads (default: all)")
    args = parser.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)

    images, labels = load(Path(args.data_dir), "train")
    n = len(labels)
    order = np.random.default_rng(RECIPE["split_seed"]).permutation(n)
    train = torch.from_numpy(np.sort(order[: n - round(n * RECIPE["val_fraction"])]))
    images, labels = images[train], labels[train]
    test_images, test_labels = load(Path(args.data_dir), "test")

    torch.manual_seed(args.seed)
    net = build_net().to(memory_format=torch.channels_last)
    optimizer = torch.optim.Adam(net.parameters(), lr=RECIPE["lr"])
    batch_size = RECIPE["batch_size"]
    steps = args.epochs * -(-len(labels) // batch_size)
    schedule = torch.optim.lr_scheduler.OneCycleLR(optimizer, RECIPE["lr"], total_steps=steps)
    bf16 = args.precision == "bf16-mixed"
    training_started = time.perf_counter()
    for epoch in range(args.epochs):
        shuffle = torch.randperm(
            len(labels), generator=torch.Generator().manual_seed(args.seed + epoch)
        )
        x_epoch, y_epoch = images[shuffle], labels[shuffle]
        for start in range(0, len(labels), batch_size):
            x, y = x_epoch[start : start + batch_size], y_epoch[start : start + batch_size]
            with torch.autocast("cpu", torch.bfloat16, enabled=bf16):
                loss = F.cross_entropy(net(x), y)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            schedule.step()
    training_seconds = time.perf_counter() - training_started

    net.eval()
    with torch.inference_mode():
        predictions = torch.cat([net(x).argmax(1) for x in test_images.split(2000)])
    accuracy = (predictions == test_labels).float().mean().item()
    seconds = time.perf_counter() - STARTED
    print(
        f"test accuracy {accuracy:.4f} on {len(test_labels)} images; {seconds:.1f} s since "
        f"start, {training_seconds:.2f} s training ({args.precision})"
    )
    return accuracy


if __name__ == "__main__":
    main()
