"""Which figures a report draws, on hand-written run directories."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from mnist_lab.analysis.figures import HIGHLIGHTED, gan_figures, report_figures, run_line
from mnist_lab.plots.curves import GREY, learning_curves_figure, metric_vs_value_figure
from mnist_lab.runtime.rundir import RunDir, find_runs
from tests.helpers.run_dirs import write_curves_run


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

    counts = [100, 90, 110, 100, 0, 100, 95, 105, 100, 200]
    RunDir(run_dir).write_judged_samples(counts, judge_test_acc=0.9861)

    figures = gan_figures(RunDir(run_dir).read(), most_grids=4)
    assert set(figures) == {
        "gan_losses.png",
        "mode_collapse.png",
        "judged_classes.png",
        "samples_over_training.png",
    }
    (histogram,) = figures["judged_classes.png"].axes
    assert [bar.get_height() for bar in histogram.patches] == counts
    assert any("0.9861" in text.get_text() for text in histogram.texts)
    assert "9 of 10 classes present" in histogram.get_title().replace("\n", " ")
    # no loss or accuracy of the learning-curve panels: the report draws no empty figure
    drawn = report_figures([RunDir(run_dir).read()], threshold=0.97)
    assert "learning_curves.png" not in drawn and "gan_losses.png" in drawn
    titles = [ax.get_title() for ax in figures["samples_over_training.png"].axes if ax.get_title()]
    assert titles == ["epoch 1", "epoch 5", "epoch 8", "epoch 12"]
    (curve,) = figures["gan_losses.png"].axes[0].get_lines()[:1]
    assert list(curve.get_ydata()) == [1.0 + e for e in range(12)]


def test_value_labels_of_two_series_never_overlap() -> None:
    """Val and test accuracy one decimal apart, and equal: four labels, no two touching."""
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


def _render(figure: Figure) -> None:
    FigureCanvasAgg(figure).draw()


def _legend_texts(figure: Figure) -> list[str]:
    return [text.get_text().replace("\n", " ") for text in figure.legends[0].get_texts()]


def _panels(figure: Figure) -> list:
    return [ax for ax in figure.axes if ax.get_visible()]


CLASSIFIER = "seed: 42\nmonitor: val/acc\nmonitor_mode: max\nmodel:\n  _target_: x.Classifier\n"
AUTOENCODER = "seed: 42\nmonitor: val/loss\nmonitor_mode: min\nmodel:\n  _target_: x.Autoencoder\n"


def _classifier_curves(scale: float, epochs: int = 3) -> dict[str, list[float]]:
    return {
        "train/loss_epoch": [scale / (e + 1) for e in range(epochs)],
        "val/loss": [1.5 * scale / (e + 1) for e in range(epochs)],
        "train/acc": [0.9 + 0.01 * e for e in range(epochs)],
        "val/acc": [0.88 + 0.01 * e for e in range(epochs)],
    }


def test_train_and_val_of_a_run_share_a_panel_and_its_scale(tmp_path: Path) -> None:
    """CS156 bonus §3's overfitting gap: the two losses on one axis, in the run's colour."""
    for name, wd in (("0", "0"), ("1", "0.001")):
        write_curves_run(
            tmp_path / name,
            [f"model.optimizer.weight_decay={wd}", "threads=1"],
            _classifier_curves(1.0 + float(wd)),
            config=CLASSIFIER,
        )
    figure = report_figures(find_runs(tmp_path))["learning_curves.png"]
    loss, accuracy = _panels(figure)
    assert loss.get_ylabel().startswith("cross-entropy") and "accuracy" in accuracy.get_ylabel()
    for panel in (loss, accuracy):
        lines = panel.get_lines()
        assert [line.get_linestyle() for line in lines] == ["-", "--", "-", "--"]
        assert lines[0].get_color() == lines[1].get_color() != lines[2].get_color()
    assert _legend_texts(figure) == ["weight_decay=0", "weight_decay=0.001"]


def test_an_autoencoder_gets_only_its_loss_panel_and_a_title_without_bookkeeping(
    tmp_path: Path,
) -> None:
    run = write_curves_run(
        tmp_path / "ae",
        [
            "experiment=autoencoder_fashion",
            "threads=1",
            "++callbacks.progress_bar=null",
            "++trainer.enable_progress_bar=false",
            "tensorboard.name=tensorboard",
            "logger.csv.flush_logs_every_n_steps=5",
        ],
        {"train/loss_epoch": [0.04, 0.02, 0.01], "val/loss": [0.03, 0.02, 0.015]},
        config=AUTOENCODER,
    )
    figure = report_figures(find_runs(run))["learning_curves.png"]
    (panel,) = _panels(figure)
    assert "MSE" in panel.get_ylabel() and panel.get_xlabel() == "epoch"
    assert figure.get_suptitle() == "Learning curves: experiment=autoencoder_fashion"


def test_one_epoch_runs_are_drawn_per_step(tmp_path: Path) -> None:
    """One point per epoch is no curve: the logged steps' loss, validation at the end."""
    steps = {49: 2.3, 99: 0.6, 149: 0.4}
    for name, p in (("0", "0.0"), ("1", "0.5")):
        write_curves_run(
            tmp_path / name,
            [f"model.net.dropout_p={p}"],
            _classifier_curves(1.0 + float(p), epochs=1),
            config=CLASSIFIER,
            step_losses={step: loss * (1 + float(p)) for step, loss in steps.items()},
        )
    figure = report_figures(find_runs(tmp_path))["learning_curves.png"]
    (panel,) = _panels(figure)
    assert "step" in panel.get_xlabel()
    train, val = panel.get_lines()[:2]
    assert list(train.get_xdata()) == list(steps) and list(train.get_ydata()) == list(
        steps.values()
    )
    assert list(val.get_xdata()) == [149] and val.get_linestyle() == "--"


def test_a_search_highlights_its_best_runs_by_validation_and_names_their_settings(
    tmp_path: Path,
) -> None:
    """Nine runs over two settings; test accuracy ranks them backwards and must not count."""
    for i in range(9):
        curves = _classifier_curves(1.0)
        curves["val/acc"] = [0.5 + 0.01 * i] * 3
        write_curves_run(
            tmp_path / str(i),
            [f"model.optimizer.lr=0.00{i + 1}", f"model.net.dropout_p=0.{i}"],
            curves,
            config=CLASSIFIER,
            metrics={"test/acc": 0.99 - 0.01 * i, "val/acc_best": 0.5 + 0.01 * i},
        )
    figure = report_figures(find_runs(tmp_path))["learning_curves.png"]
    names = _legend_texts(figure)
    assert names == [f"lr=0.00{i + 1}, dropout_p=0.{i}" for i in (8, 7, 6, 5, 4)] + [
        "other runs (4, grey)"
    ]
    coloured = {line.get_color() for line in _panels(figure)[0].get_lines()} - {GREY}
    assert len(coloured) == HIGHLIGHTED
    assert "5 best of 9" in figure.get_suptitle()


def test_a_diverged_setting_is_marked_where_it_stopped(tmp_path: Path) -> None:
    """lr=1 went NaN in epoch 1 for both seeds: no curve, a cross named in the legend."""
    for i, (lr, seed) in enumerate([("0.1", 1), ("0.1", 2), ("1", 1), ("1", 2)]):
        diverged = lr == "1"
        write_curves_run(
            tmp_path / str(i),
            [f"model.optimizer.lr={lr}", f"seed={seed}"],
            {} if diverged else _classifier_curves(1.0 + seed / 10),
            config=CLASSIFIER,
            metrics=None if diverged else {"val/acc_best": 0.9, "test/acc": 0.9},
            failed="training loss became nan at step 21 (epoch 0)" if diverged else None,
        )
    figures = report_figures(find_runs(tmp_path))
    figure = figures["learning_curves.png"]
    assert _legend_texts(figure) == ["lr=0.1 (n=2)", "lr=1 (2 of 2 runs diverged in epoch 1)"]
    for panel in _panels(figure):
        (cross,) = [line for line in panel.get_lines() if line.get_marker() == "X"]
        assert list(cross.get_xdata()) == [1]
    # the accuracy figure keeps the setting's place, saying why it has no points
    (ax,) = figures["accuracy_vs_model_optimizer_lr.png"].axes
    assert [tick.get_text() for tick in ax.get_xticklabels()][-1] == "1\n(2 of 2 diverged)"
    assert ax.get_xlim()[1] > 1


def test_a_failed_run_is_named_by_its_epoch(tmp_path: Path) -> None:
    run = write_curves_run(
        tmp_path / "run",
        ["model.optimizer.lr=1"],
        _classifier_curves(1.0, epochs=2),
        failed="interrupted by SIGTERM",
    )
    line = run_line("lr=1 (failed)", find_runs(run)[0])
    assert (line.label, line.stopped) == ("lr=1 (failed in epoch 3)", 3)


def test_a_run_that_failed_before_training_is_not_said_to_stop_in_an_epoch(tmp_path: Path) -> None:
    """E19's GPU members on a CPU machine: refused while starting, nothing logged."""
    reason = "trainer.accelerator='gpu' cannot be used here: No supported gpu backend found!"
    finished = {"val/acc_best": 0.9, "test/acc": 0.9}
    for seed in (1, 2):
        cpu, gpu = tmp_path / f"cpu{seed}", tmp_path / f"gpu{seed}"
        curves = _classifier_curves(1.0 + seed / 10)
        write_curves_run(cpu, ["accelerator=cpu", f"seed={seed}"], curves, metrics=finished)
        write_curves_run(gpu, ["accelerator=gpu", f"seed={seed}"], {}, failed=reason)
    runs = find_runs(tmp_path)
    figure = report_figures(runs)["learning_curves.png"]
    assert "accelerator=gpu (2 of 2 runs failed before training)" in _legend_texts(figure)
    gpu = next(run for run in runs if run.path.name == "gpu1")
    line = run_line("accelerator=gpu (failed)", gpu)
    assert line.label == "accelerator=gpu (failed before training)"


def test_the_last_mini_batch_losses_get_a_figure(tmp_path: Path) -> None:
    """CS541 HW3 Problem 2.3: the last 20 mini-batches' losses, drawn from the saved file."""
    losses = [0.3 - 0.01 * i for i in range(20)]
    for seed in (1, 2):
        write_curves_run(
            tmp_path / str(seed),
            [f"seed={seed}"],
            _classifier_curves(1.0),
            config=CLASSIFIER,
            last_batches=[loss * seed for loss in losses],
        )
    figures = report_figures(find_runs(tmp_path))
    first, second = figures["last_batch_losses.png"].axes[0].get_lines()
    assert list(first.get_xdata()) == list(range(-20, 0))
    assert list(first.get_ydata()) == losses
    assert list(second.get_ydata()) == [2 * loss for loss in losses]
    without = write_curves_run(tmp_path / "other" / "0", ["seed=1"], _classifier_curves(1.0))
    assert "last_batch_losses.png" not in report_figures(find_runs(without))


def _overlapping_labels(figure: Figure) -> list[tuple[str, str]]:
    _render(figure)
    texts = figure.axes[0].texts
    boxes = [text.get_window_extent() for text in texts]
    return [
        (texts[i].get_text(), texts[j].get_text())
        for i in range(len(boxes))
        for j in range(i + 1, len(boxes))
        if boxes[i].overlaps(boxes[j])
    ]


def test_values_spanning_decades_with_zero_get_a_log_axis_and_readable_ticks() -> None:
    """E03's lambdas: 0 left of the break, then 1e-5 ... 1e-2, the labels of two series with
    error bars (equal at one lambda, close at the others) apart."""
    values = ["0", "1e-05", "0.0001", "0.001", "0.01"]
    means = {
        "best val acc": [0.9780, 0.9770, 0.9777, 0.9757, 0.9619],
        "test acc": [0.9770, 0.9788, 0.9776, 0.9757, 0.9628],
    }
    errors = {name: [0.001, 0.004, 0.002, 0.001, 0.001] for name in means}
    figure = metric_vs_value_figure(values, means, xlabel="weight_decay", errors=errors)
    ax = figure.axes[0]
    assert ax.get_xscale() == "log" and "log scale" in ax.get_xlabel()
    ticks = [tick.get_text() for tick in ax.get_xticklabels()]
    assert ticks == ["0", "1e-5", "1e-4", "1e-3", "1e-2"]
    positions = list(ax.get_xticks())
    assert positions[0] < positions[1] == 1e-5  # zero one step left, where a log axis has room
    assert len(ax.texts) == 10 and _overlapping_labels(figure) == []


def test_crowded_values_become_ordered_categories() -> None:
    """1 and 1.01 beside 2: on a linear axis their ticks and labels would print on top of
    each other, so the values are set out in order, and the axis says it is not to scale."""
    values = ["1", "1.01", "2"]
    means = {"best val acc": [0.975, 0.9751, 0.976], "test acc": [0.97, 0.9701, 0.971]}
    figure = metric_vs_value_figure(values, means, xlabel="x", min_span=0.02)
    ax = figure.axes[0]
    assert list(ax.get_xticks()) == [0, 1, 2] and "not to scale" in ax.get_xlabel()
    assert [tick.get_text() for tick in ax.get_xticklabels()] == values
    assert _overlapping_labels(figure) == []


def test_value_labels_placed_on_top_of_each_other_are_moved_apart() -> None:
    """Three series equal at one value: two labels go below the marker, one above; the
    measured boxes are moved until none overlaps."""
    means = {name: [0.97, 0.975] for name in ("best val acc", "test acc", "truth-table acc")}
    figure = metric_vs_value_figure(["a", "b"], means, xlabel="x", min_span=0.02)
    assert len(figure.axes[0].texts) == 6 and _overlapping_labels(figure) == []


def _gan_run(path: Path, model: str, seconds: list[float], distances: list[float]) -> None:
    (path / ".hydra").mkdir(parents=True)
    (path / ".hydra" / "overrides.yaml").write_text(f"- model={model}\n")
    (path / ".hydra" / "config.yaml").write_text("seed: 1\n")
    (path / "csv").mkdir()
    columns = ["epoch", "step", "time/epoch_s", "samples/feature_distance"]
    rows = [[e, 10 * e, s, d] for e, (s, d) in enumerate(zip(seconds, distances, strict=True))]
    with (path / "csv" / "metrics.csv").open("w", newline="") as file:
        csv.writer(file).writerows([columns, *rows])
    for epoch in range(1, len(seconds) + 1):
        fig = Figure(figsize=(1, 1))
        fig.add_subplot().imshow(np.full((4, 4), epoch))
        fig.savefig(path / f"samples_epoch_{epoch:03d}.png")
    counts = [100] * 9 + [0]
    RunDir(path).write_judged_samples(counts, 0.9861, distances[-1] * 0.9, 0.25)
    (path / "metrics.json").write_text(json.dumps({"test/feature_distance": distances[-1] * 0.9}))


def test_two_gan_runs_get_the_distance_over_time_and_their_last_grids_side_by_side(
    tmp_path: Path,
) -> None:
    _gan_run(tmp_path / "0", "gan", [10.0, 10.0, 10.0, 10.0], [80.0, 40.0, 20.0, 15.0])
    _gan_run(tmp_path / "1", "dcgan", [20.0, 20.0], [30.0, 5.0])
    figures = report_figures(find_runs(tmp_path))
    (ax,) = figures["feature_distance.png"].axes
    lines = {line.get_label(): line for line in ax.get_lines()}
    assert list(lines["model=gan"].get_xdata()) == [10.0, 20.0, 30.0, 40.0]  # time, not epochs
    assert list(lines["model=dcgan"].get_xdata()) == [20.0, 40.0]
    assert list(lines["model=dcgan"].get_ydata()) == [30.0, 5.0]
    floor = next(line for name, line in lines.items() if name.startswith("real training"))
    assert list(floor.get_ydata()) == [0.25, 0.25]
    # the judge's own accuracy beside the distances it measures
    assert "judge test acc 0.9861" in figures["feature_distance.png"]._suptitle.get_text()
    side = figures["final_samples_side_by_side.png"]
    titles = [a.get_title() for a in side.axes if a.get_title()]
    assert [title.replace("\n", " ") for title in titles] == [
        "model=gan: epoch 4: 9 classes, feature distance 13.5",
        "model=dcgan: epoch 2: 9 classes, feature distance 4.5",
    ]
    # GANs have no accuracy to draw against the swept setting
    assert "accuracy_vs_model.png" not in figures


def test_an_interval_is_shaded_only_where_the_metric_can_be() -> None:
    # seeds at accuracy 1.0 but one: the t-interval of the mean passes 1.0 and, for the loss, 0
    curves = {"run": {"train/acc": [0.9, 0.95], "train/loss_epoch": [0.3, 0.01]}}
    bands = {
        "run": {
            "train/acc": ([0.6, 0.7], [1.2, 1.3]),
            "train/loss_epoch": ([-0.2, -0.5], [0.8, 0.4]),
        }
    }
    fig = learning_curves_figure(curves, bands=bands)
    shaded = {
        ax.get_ylabel().split()[0]: ax.collections[0].get_paths()[0].vertices[:, 1]
        for ax in fig.axes
        if ax.collections
    }
    assert shaded["accuracy"].max() == 1.0 and shaded["accuracy"].min() == 0.6
    assert shaded["loss"].min() >= 0.0 and shaded["loss"].max() == 0.8
