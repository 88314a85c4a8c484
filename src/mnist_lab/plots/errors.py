"""Error-analysis figures: galleries of misclassified images, and the reliability diagram."""

from __future__ import annotations

import textwrap
from collections.abc import Mapping, Sequence

import numpy as np
from matplotlib.figure import Figure
from matplotlib.ticker import FuncFormatter

from mnist_lab.analysis.errors import CalibrationBins

# (row label, indices into the images, one caption per index)
GalleryRow = tuple[str, Sequence[int], Sequence[str]]


def gallery_figure(images: np.ndarray, rows: Sequence[GalleryRow], title: str) -> Figure:
    """Rows of captioned images (e.g. each class's most confident mistakes), labelled at the
    left; images [n, h, w] or [n, 1, h, w], each drawn on its own grey scale."""
    images = np.asarray(images)
    if images.ndim == 4:
        images = images[:, 0]
    columns = max((len(indices) for _, indices, _ in rows), default=1)
    # Sizes in inches. A cell is wide enough for the longest caption at 7 points (about 0.058
    # inch a character), the margin for the longest row label at 10 points (about 0.08); the
    # title is wrapped at about 8 characters an inch.
    longest = max((len(caption) for _, _, captions in rows for caption in captions), default=0)
    label = max((len(line) for text, _, _ in rows for line in text.splitlines()), default=0)
    cell_width, cell_height, side = max(1.2, 0.058 * longest + 0.15), 1.4, 1.0
    left = max(1.0, 0.08 * label + 0.3)
    width = left + columns * cell_width + 0.1
    heading = textwrap.wrap(title, int(8 * width))
    top = 0.3 + 0.25 * len(heading)
    height = top + len(rows) * cell_height
    fig = Figure(figsize=(width, height))
    ax = fig.add_axes((0, 0, 1, 1))
    ax.set_axis_off()
    # Every image goes into one canvas drawn once, at the images' own pixels per inch: 80
    # images drawn one by one, or in axes of their own, would take ~1 s.
    per_inch = images.shape[-1] / side
    canvas = np.zeros((round(height * per_inch), round(width * per_inch)))
    for row, (label, indices, captions) in enumerate(rows):
        image_top = height - top - row * cell_height - 0.25
        for column, (index, caption) in enumerate(zip(indices, captions, strict=True)):
            middle = left + (column + 0.5) * cell_width
            image = images[index].astype(float)
            # each image on its own scale, ink dark: normalised inputs keep their contrast
            spread = image.max() - image.min()
            y0 = round((height - image_top) * per_inch)
            x0 = round((middle - side / 2) * per_inch)
            canvas[y0 : y0 + image.shape[0], x0 : x0 + image.shape[1]] = (
                (image - image.min()) / spread if spread > 0 else 0.0
            )
            ax.text(middle, image_top + 0.04, caption, fontsize=7, ha="center", va="bottom")
        ax.text(left - 0.1, image_top - side / 2, label, ha="right", va="center")
    ax.imshow(
        canvas,
        cmap="gray_r",
        vmin=0,
        vmax=1,
        extent=(0, canvas.shape[1] / per_inch, height - canvas.shape[0] / per_inch, height),
        interpolation="nearest",
    )
    ax.set_xlim(0, width)
    ax.set_ylim(0, height)
    ax.set_aspect("auto")
    fig.suptitle("\n".join(heading), y=1 - 0.12 / height, va="top")
    return fig


def reliability_figure(panels: Mapping[str, CalibrationBins], title: str) -> Figure:
    """Accuracy against confidence per bin, one column per titled panel (e.g. before and
    after temperature scaling, each title giving its ECE), with the gap to the diagonal and,
    below, how many samples each bin holds (log scale: a good classifier's are mostly in the
    last bin)."""
    fig = Figure(figsize=(4.4 * len(panels), 6.2))
    # A fixed grid: the constrained layout would double the cost of drawing these few axes.
    axes = fig.subplots(
        2,
        len(panels),
        squeeze=False,
        sharex=True,
        gridspec_kw={
            "height_ratios": [3, 1],
            "left": 0.7 / fig.get_figwidth(),
            "right": 1 - 0.15 / fig.get_figwidth(),
            "top": 0.81,
            "bottom": 0.09,
            "hspace": 0.08,
            "wspace": 0.28,
        },
    )
    for (heading, bins), top, bottom in zip(panels.items(), axes[0], axes[1], strict=True):
        low, width = bins.edges[:-1], np.diff(bins.edges)
        filled = bins.counts > 0
        top.bar(
            low[filled],
            bins.accuracy[filled],
            width[filled],
            align="edge",
            color="C0",
            edgecolor="white",
            label="accuracy",
        )
        # The gap from accuracy to mean confidence: hatched red, above the bar when the model
        # is overconfident, inside it when underconfident.
        top.bar(
            low[filled],
            bins.confidence[filled] - bins.accuracy[filled],
            width[filled],
            bottom=bins.accuracy[filled],
            align="edge",
            color="none",
            edgecolor="C3",
            hatch="///",
            label="gap to mean confidence",
        )
        top.plot([0, 1], [0, 1], "k--", lw=1, label="perfect calibration")
        top.set_xlim(0, 1)
        top.set_ylim(0, 1)
        top.set_ylabel("accuracy")
        top.set_title(heading)
        bottom.bar(low, bins.counts, width, align="edge", color="0.5")
        bottom.set_yscale("symlog", linthresh=1)
        # Plain numbers: the default 10^n labels go through mathtext, a third of the drawing.
        bottom.yaxis.set_major_formatter(FuncFormatter(lambda value, _: f"{value:g}"))
        bottom.set_xlabel("confidence (top softmax probability)")
        bottom.set_ylabel("samples")
    # One legend for the panels, under the title: inside a panel it would cover bars.
    handles, labels = axes[0, 0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="upper center", bbox_to_anchor=(0.5, 0.945), ncol=3, fontsize=8)
    fig.suptitle(title)
    return fig
