"""Figures of images and points, measured as rendered."""

from __future__ import annotations

import numpy as np
import pytest
from matplotlib.backends.backend_agg import FigureCanvasAgg

from mnist_lab.plots.images import (
    code_manifold_figure,
    confusion_matrix_figure,
    interpolation_figure,
)


@pytest.mark.parametrize("classes", [2, 10])
def test_the_confusion_matrix_title_stays_inside_the_figure_and_off_the_colour_bar(classes):
    matrix = np.arange(classes * classes).reshape(classes, classes) + 1
    fig = confusion_matrix_figure(
        matrix, [str(i) for i in range(classes)], "gate_xor test confusion"
    )
    renderer = FigureCanvasAgg(fig).get_renderer()
    fig.draw(renderer)
    title = fig._suptitle.get_window_extent(renderer)
    matrix_axes, colour_bar = fig.axes
    assert fig.bbox.x0 <= title.x0 and title.x1 <= fig.bbox.x1 and title.y1 <= fig.bbox.y1
    assert not title.overlaps(colour_bar.get_tightbbox(renderer))
    assert not title.overlaps(matrix_axes.get_window_extent(renderer))
    assert "accuracy" in fig._suptitle.get_text()


def test_the_interpolation_strip_shows_each_row_in_order_with_its_t() -> None:
    rows, steps = 3, 10
    # image (r, s) is filled with r * steps + s: its place in the strip is readable from it
    values = np.arange(rows * steps, dtype=float).reshape(rows, steps) / (rows * steps)
    images = np.broadcast_to(values[:, :, None, None, None], (rows, steps, 1, 4, 4))
    fig = interpolation_figure(images, "strip")
    (ax,) = fig.axes
    (picture,) = ax.get_images()
    drawn = picture.get_array()
    for r in range(rows):
        for s in range(steps):
            assert drawn[r * 6 + 1, s * 6 + 1] == values[r, s]  # 4-pixel images, 2-pixel gaps
    labels = [tick.get_text() for tick in ax.get_xticklabels()]
    assert labels[0] == "0.00" and labels[-1] == "1.00" and len(labels) == steps


def test_the_code_manifold_puts_each_code_where_the_axes_say() -> None:
    xs, ys = [-2.0, 0.0, 2.0], [10.0, 20.0]
    # decoded image (i, j) is filled with a value naming its code (xs[j], ys[i])
    values = np.array([[0.1, 0.2, 0.3], [0.4, 0.5, 0.6]])
    images = np.broadcast_to(values[:, :, None, None, None], (2, 3, 1, 5, 5))
    fig = code_manifold_figure(images, xs, ys, "plane")
    (ax,) = fig.axes
    (picture,) = ax.get_images()
    left, right, bottom, top = picture.get_extent()
    assert (left, right, bottom, top) == (-3.0, 3.0, 5.0, 25.0)
    drawn = picture.get_array()
    # the top row of tiles is the highest y, the left column the lowest x
    assert drawn[0, 0] == values[1, 0] and drawn[-1, -1] == values[0, 2]
    assert drawn[0, -1] == values[1, 2] and drawn[-1, 0] == values[0, 0]
