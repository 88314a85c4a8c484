"""The GAN judge: a small CNN classifier that labels generated images for `ModeCollapse`."""

from __future__ import annotations

import torch
from torch import nn

from mnist_lab.nets.cnn import CNN


def train_judge(
    images: torch.Tensor, labels: torch.Tensor, num_classes: int, epochs: int = 1, seed: int = 0
) -> nn.Module:
    """A small CNN classifier trained in a plain loop (a nested Trainer would log into the run).

    Its own seeded random stream: the run's generator must not depend on whether the judge
    was trained now or loaded from the cache.
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
        for _ in range(epochs):
            order = torch.randperm(len(labels), device=labels.device)
            for start in range(0, len(labels), 128):
                batch = order[start : start + 128]
                loss = torch.nn.functional.cross_entropy(judge(images[batch]), labels[batch])
                optimizer.zero_grad()
                loss.backward()
                optimizer.step()
    return judge.eval()
