"""The error-analysis figures, measured as rendered."""

from __future__ import annotations

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg

from mnist_lab.plots.errors import gallery_figure


def test_the_gallery_shows_the_chosen_images_on_their_own_scale_and_keeps_its_labels_inside():
    rng = np.random.default_rng(0)
    images = rng.normal(size=(6, 1, 5, 5))  # standardised inputs: negative values too
    rows = [("T-shirt/top ↔ Shirt\n3 + 1 wrong", [4, 1], ["a", "b"]), ("true 2", [3], ["c"])]
    fig = gallery_figure(images, rows, "a title long enough to be wrapped " * 3)
    (canvas,) = fig.axes[0].get_images()
    pixels = np.asarray(canvas.get_array())
    for index in (4, 1, 3):
        image = images[index, 0]
        scaled = (image - image.min()) / (image.max() - image.min())
        # found somewhere in the canvas, exactly: the picked image is drawn, rescaled to [0, 1]
        windows = np.lib.stride_tricks.sliding_window_view(pixels, image.shape)
        assert np.isclose(windows, scaled).all(axis=(2, 3)).sum() == 1, index
    assert np.isclose(pixels, 0).mean() > 0.5  # the rest is background
    renderer = FigureCanvasAgg(fig).get_renderer()
    for text in [*fig.axes[0].texts, fig._suptitle]:
        box = text.get_window_extent(renderer)
        assert fig.bbox.x0 <= box.x0 and box.x1 <= fig.bbox.x1 and box.y1 <= fig.bbox.y1
