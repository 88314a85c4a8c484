"""Error-analysis figures: galleries of misclassified images, and the reliability diagram."""

from __future__ import annotations

import textwrap
from collections.abc import Mapping, Sequence

import numpy as np
from matplotlib.figure import Figure

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
    # Wide enough for the longest caption at 7 points (about 0.055 inch a character).
    longest = max((len(caption) for _, _, captions in rows for caption in captions), default=0)
    width = max(1.25, 0.058 * longest + 0.15)
    fig = Figure(figsize=(width * columns + 1.5, 1.45 * len(rows) + 0.4))
    # wrapped at about 8 characters an inch, the figure's width
    heading = textwrap.wrap(title, int(8 * fig.get_figwidth()))
    fig.set_figheight(fig.get_figheight() + 0.25 * len(heading))
    # A fixed grid, not the constrained layout: that would solve for dozens of axes, ~1 s.
    axes = fig.subplots(
        len(rows),
        columns,
        squeeze=False,
        gridspec_kw={
            "left": 1.4 / fig.get_figwidth(),
            "right": 0.99,
            "top": 1 - (0.4 + 0.25 * len(heading)) / fig.get_figheight(),
            "bottom": 0.02,
        },
    )
    fig.subplots_adjust(hspace=0.45, wspace=0.1)
    for (label, indices, captions), axes_row in zip(rows, axes, strict=True):
        for ax in axes_row:
            ax.set_axis_off()
        for ax, index, caption in zip(axes_row, indices, captions, strict=False):
            ax.imshow(images[index], cmap="gray_r")
            ax.set_title(caption, fontsize=7, pad=2)
        axes_row[0].text(
            -0.12, 0.5, label, transform=axes_row[0].transAxes, ha="right", va="center"
        )
    fig.suptitle("\n".join(heading))
    return fig


def reliability_figure(panels: Mapping[str, CalibrationBins], title: str) -> Figure:
    """Accuracy against confidence per bin, one column per titled panel (e.g. before and
    after temperature scaling, each title giving its ECE), with the gap to the diagonal and,
    below, how many samples each bin holds (log scale: a good classifier's are mostly in the
    last bin)."""
    fig = Figure(figsize=(4.4 * len(panels), 6.0), layout="constrained")
    axes = fig.subplots(
        2, len(panels), squeeze=False, sharex=True, gridspec_kw={"height_ratios": [3, 1]}
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
        top.legend(loc="upper left", fontsize=8)
        bottom.bar(low, bins.counts, width, align="edge", color="0.5")
        bottom.set_yscale("symlog", linthresh=1)
        bottom.set_xlabel("confidence (top softmax probability)")
        bottom.set_ylabel("samples")
    fig.suptitle(title)
    return fig
