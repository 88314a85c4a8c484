"""The GAN judge: a small CNN classifier that labels generated images for `ModeCollapse`, and
whose penultimate layer gives the features a Fréchet distance compares (FID without Inception:
nothing to download, and features made for digits)."""

from __future__ import annotations

import copy
import math
import time
from pathlib import Path

import torch
from rich.console import Console
from rich.progress import MofNCompleteColumn, Progress, TimeRemainingColumn
from torch import nn

from mnist_lab.nets.cnn import CNN

BATCH_SIZE = 128


@torch.no_grad()
def judge_features(
    judge: CNN, images: torch.Tensor, chunk: int = 1000
) -> tuple[torch.Tensor, torch.Tensor]:
    """(penultimate-layer features [n, d], predicted labels [n]) of `images` in [0, 1].

    One pass gives both: the features are the head's last hidden layer (after its ReLU), the
    labels the argmax of the logits the final Linear layer makes of them.
    """
    hidden, classify = judge.head[:-1], judge.head[-1]
    features, labels = [], []
    for part in images.split(chunk):
        vectors = hidden(judge.features(part))
        features.append(vectors)
        labels.append(classify(vectors).argmax(1))
    return torch.cat(features), torch.cat(labels)


def _step(judge: nn.Module, optimizer: torch.optim.Optimizer, images, labels) -> None:
    loss = torch.nn.functional.cross_entropy(judge(images), labels)
    optimizer.zero_grad()
    loss.backward()
    optimizer.step()


def _seconds_per_step(judge: nn.Module, images: torch.Tensor, labels: torch.Tensor) -> float:
    """One training step's wall time, measured on a copy so that the judge itself is untouched."""
    probe = copy.deepcopy(judge)
    optimizer = torch.optim.Adam(probe.parameters(), lr=1e-3)
    batch = slice(0, BATCH_SIZE)
    _step(probe, optimizer, images[batch], labels[batch])  # the first step pays for warm-up
    started = time.perf_counter()
    _step(probe, optimizer, images[batch], labels[batch])
    if images.device.type == "cuda":
        torch.cuda.synchronize(images.device)
    return time.perf_counter() - started


def train_judge(
    images: torch.Tensor,
    labels: torch.Tensor,
    num_classes: int,
    epochs: int = 1,
    seed: int = 0,
    saved_to: Path | None = None,
) -> CNN:
    """A small CNN classifier trained in a plain loop (a nested Trainer would log into the run).

    Its own seeded random stream: the run's generator must not depend on whether the judge
    was trained now or loaded from the cache. Training announces itself in one line (how long,
    where the caller keeps the result: `saved_to`) and shows a progress bar: on a CPU the first
    GAN run would otherwise sit silent for about a minute.
    """
    devices = [images.device] if images.device.type == "cuda" else []
    with torch.random.fork_rng(devices=devices):
        torch.manual_seed(seed)
        judge = CNN(
            input_shape=tuple(images.shape[1:]),
            num_classes=num_classes,
            channels=(16, 32),
            dropout_p=0.0,
            hidden_dims=(64,),
            head_dropout_p=0.0,
        ).to(images.device)
        optimizer = torch.optim.Adam(judge.parameters(), lr=1e-3)
        judge.train()
        steps = epochs * math.ceil(len(labels) / BATCH_SIZE)
        if steps == 0:  # an empty judge, for loading a saved state into
            return judge.eval()
        seconds = _seconds_per_step(judge, images, labels) * steps
        kept = f"saved to {saved_to} for later runs" if saved_to else "not saved (no cache_dir)"
        print(
            f"GAN judge: training a small CNN classifier on {len(labels):,} training images "
            f"({epochs} epoch{'s' * (epochs != 1)}, about {max(1, round(seconds))} s) to label "
            f"the generated digits (mode-collapse check); {kept}",
            flush=True,
        )
        columns = (*Progress.get_default_columns()[:2], MofNCompleteColumn(), TimeRemainingColumn())
        console = Console()
        # Transient: once trained, the bar gives way to Lightning's; logs get no bar at all.
        with Progress(
            *columns, console=console, transient=True, disable=not console.is_terminal
        ) as progress:
            task = progress.add_task("GAN judge", total=steps)
            for _ in range(epochs):
                order = torch.randperm(len(labels), device=labels.device)
                for start in range(0, len(labels), BATCH_SIZE):
                    batch = order[start : start + BATCH_SIZE]
                    _step(judge, optimizer, images[batch], labels[batch])
                    progress.advance(task)
    return judge.eval()
