"""Draw example images of each class: `python -m mnist_lab.visualize data=mnist|fashion_mnist`.

Needs neither torch nor Lightning: the IDX files are read with NumPy.
"""

from __future__ import annotations

from pathlib import Path

from hydra.utils import to_absolute_path
from omegaconf import DictConfig

from mnist_lab.runtime.cli import entry_point
from mnist_lab.runtime.task import run_task


def visualize(cfg: DictConfig) -> Path:
    """Save a grid of `per_class` random examples per class; returns the PNG's path."""
    from mnist_lab.data.datasets import DATASET_SPECS, load_split
    from mnist_lab.plots.images import sample_grid_figure

    spec = DATASET_SPECS[cfg.data.name]
    images, labels = load_split(
        spec, to_absolute_path(cfg.data.data_dir), cfg.split, cfg.data.download
    )
    fig = sample_grid_figure(
        images,
        labels,
        spec.classes,
        per_class=cfg.per_class,
        seed=cfg.seed,
        title=f"{spec.name}: {cfg.per_class} random {cfg.split} images per class",
    )
    path = Path(cfg.paths.output_dir) / f"samples_{spec.name}_{cfg.split}.png"
    fig.savefig(path, dpi=110)
    print(f"saved {path}")
    return path


def main(cfg: DictConfig) -> None:
    run_task(visualize, cfg)


if __name__ == "__main__":
    entry_point(main, "visualize")
