"""Example images of each class and the data's facts: `python -m mnist_lab.visualize data=mnist`.

Saves a grid of random images per class, and prints and saves what CS155 set 4 §2B asks about
the data: image shape, images per split and per class, pixel range, mean and std (`report.md`
for people, `metrics.json` for the catalogue). Needs neither torch nor Lightning: the IDX files
are read with NumPy.
"""

from __future__ import annotations

from pathlib import Path

from hydra.utils import to_absolute_path
from omegaconf import DictConfig

from mnist_lab.runtime.cli import entry_point
from mnist_lab.runtime.task import run_task


def visualize(cfg: DictConfig) -> Path:
    """Save a grid of `per_class` random examples per class and the data facts; returns the PNG."""
    from mnist_lab.data.datasets import DATASET_SPECS, load_split
    from mnist_lab.data.facts import data_facts, facts_markdown
    from mnist_lab.plots.images import sample_grid_figure
    from mnist_lab.runtime.atomic import atomic_write_text
    from mnist_lab.runtime.environment import NUMPY_LIBRARIES, run_environment
    from mnist_lab.runtime.rundir import REPORT_FILE, RunDir

    spec = DATASET_SPECS[cfg.data.name]
    data_dir = to_absolute_path(cfg.data.data_dir)
    data = cfg.data
    facts = data_facts(
        spec,
        data_dir,
        data.val_fraction,
        data.val_split,
        data.split_seed,
        data.subset_size,
        data.download,
    )
    settings = f"data.val_fraction={data.val_fraction}, data.val_split={data.val_split}"
    if data.val_split == "random":
        settings += f", data.split_seed={data.split_seed}"
    if data.subset_size is not None:
        settings += f", data.subset_size={data.subset_size}"
    table = facts_markdown(facts, spec, settings)
    run = RunDir(cfg.paths.output_dir)
    run.write_metrics({**facts, "environment": run_environment(NUMPY_LIBRARIES)})
    print(table)
    print(f"saved {atomic_write_text(run / REPORT_FILE, table)}")

    images, labels = load_split(spec, data_dir, cfg.split, data.download)
    fig = sample_grid_figure(
        images,
        labels,
        spec.classes,
        per_class=cfg.per_class,
        seed=cfg.seed,
        title=f"{spec.name}: {cfg.per_class} random {cfg.split} images per class",
    )
    path = run / f"samples_{spec.name}_{cfg.split}.png"
    fig.savefig(path, dpi=110)
    print(f"saved {path}")
    return path


def main(cfg: DictConfig) -> None:
    run_task(visualize, cfg)


if __name__ == "__main__":
    entry_point(main, "visualize")
