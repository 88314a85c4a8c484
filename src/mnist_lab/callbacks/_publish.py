"""What the callbacks share to publish a run's figures and text: the file and TensorBoard."""

from __future__ import annotations

from pathlib import Path

import lightning as L
import numpy as np
from lightning.pytorch.loggers import TensorBoardLogger
from lightning.pytorch.trainer.states import TrainerFn
from matplotlib.figure import Figure


def tensorboard_logger(trainer: L.Trainer) -> TensorBoardLogger | None:
    """The run's TensorBoard logger, or None when it has none."""
    return next((lg for lg in trainer.loggers if isinstance(lg, TensorBoardLogger)), None)


def logged_step(trainer: L.Trainer) -> int:
    """The step at which the loggers write the scalars logged now: images go to the same step.

    While fitting, an epoch's training and validation scalars are written at the step of its
    last batch; test scalars one step after the last batch. `global_step` would not do: it
    counts optimizer steps, two per batch for the GAN.
    """
    loop = trainer.fit_loop.epoch_loop
    if trainer.state.fn == TrainerFn.FITTING:
        return max(loop.total_batch_idx, 0)
    return loop._batches_that_stepped


def render_figure(fig: Figure) -> np.ndarray:
    """The figure's RGBA pixels [h, w, 4] at 120 dpi, drawn once."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    fig.set_dpi(120)
    canvas = FigureCanvasAgg(fig)
    canvas.draw()
    return np.asarray(canvas.buffer_rgba())


def save_pixels(pixels: np.ndarray, output_dir: str | None, filename: str) -> Path | None:
    """Write rendered pixels as `<output_dir>/<filename>` (nothing without an output dir)."""
    import matplotlib.image

    if not output_dir:
        return None
    path = Path(output_dir) / filename
    path.parent.mkdir(parents=True, exist_ok=True)
    matplotlib.image.imsave(path, pixels)
    return path


def send_pixels(pixels: np.ndarray, trainer: L.Trainer, tag: str) -> None:
    """Send rendered pixels to TensorBoard as `tag` at the `logged_step` (if there is one)."""
    if (tensorboard := tensorboard_logger(trainer)) is not None:
        tensorboard.experiment.add_image(
            tag, pixels[..., :3], logged_step(trainer), dataformats="HWC"
        )


def publish_figure(
    fig: Figure, output_dir: str | None, filename: str, trainer: L.Trainer, tag: str
) -> Path | None:
    """Save a figure as `<output_dir>/<filename>` (when there is an output dir) and send the
    same pixels to TensorBoard as `tag`, at the `logged_step`.

    Drawing is most of a figure's cost, and `savefig` and `add_figure` would each draw it:
    this draws once (0.15 s instead of 0.45 s of CPU for the confusion matrix).
    """
    pixels = render_figure(fig)
    send_pixels(pixels, trainer, tag)
    return save_pixels(pixels, output_dir, filename)
