"""Which figures a report draws, on hand-written run directories."""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from mnist_lab.analysis.figures import gan_figures, report_figures
from mnist_lab.runtime.rundir import RunDir


def test_gan_run_gets_loss_mode_collapse_and_sample_sequence_figures(tmp_path: Path) -> None:
    run_dir = tmp_path / "gan"
    (run_dir / ".hydra").mkdir(parents=True)
    (run_dir / ".hydra" / "overrides.yaml").write_text("- model=gan\n")
    (run_dir / ".hydra" / "config.yaml").write_text("seed: 42\n")
    columns = ["epoch", "step", "train/g_loss", "train/d_loss", "samples/classes_present"]
    rows = [[e, 10 * e, 1.0 + e, 0.5, 3 + e] for e in range(12)]
    (run_dir / "csv").mkdir()
    with (run_dir / "csv" / "metrics.csv").open("w", newline="") as file:
        csv.writer(file).writerows([columns, *rows])
    for epoch in range(1, 13):
        fig = Figure(figsize=(1, 1))
        fig.add_subplot().imshow(np.full((4, 4), epoch))
        fig.savefig(run_dir / f"samples_epoch_{epoch:03d}.png")

    figures = gan_figures(RunDir(run_dir).read(), most_grids=4)
    assert set(figures) == {"gan_losses.png", "mode_collapse.png", "samples_over_training.png"}
    # no loss or accuracy of the learning-curve panels: the report draws no empty figure
    drawn = report_figures([RunDir(run_dir).read()], threshold=0.97)
    assert "learning_curves.png" not in drawn and "gan_losses.png" in drawn
    titles = [ax.get_title() for ax in figures["samples_over_training.png"].axes if ax.get_title()]
    assert titles == ["epoch 1", "epoch 5", "epoch 8", "epoch 12"]
    (curve,) = figures["gan_losses.png"].axes[0].get_lines()[:1]
    assert list(curve.get_ydata()) == [1.0 + e for e in range(12)]


def test_value_labels_of_two_series_never_overlap() -> None:
    """Val and test accuracy one decimal apart, and equal: four labels, no two touching."""
    from mnist_lab.plots.curves import metric_vs_value_figure

    values = ["0.001", "0.01"]
    means = {"best val acc": [0.9752, 0.9733], "test acc": [0.9754, 0.9733]}
    errors = {name: [0.003, 0.003] for name in means}
    figure = metric_vs_value_figure(values, means, xlabel="lr", errors=errors)
    FigureCanvasAgg(figure)
    renderer = figure.canvas.get_renderer()
    boxes = [text.get_window_extent(renderer) for text in figure.axes[0].texts]
    assert len(boxes) == 4
    for i, box in enumerate(boxes):
        assert not any(box.overlaps(other) for other in boxes[i + 1 :])
