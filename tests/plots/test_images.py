"""Figures of images and points, measured as rendered."""

from __future__ import annotations

import numpy as np
import pytest
from matplotlib.backends.backend_agg import FigureCanvasAgg

from mnist_lab.plots.images import confusion_matrix_figure


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
