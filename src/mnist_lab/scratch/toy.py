"""APML ex3's toy problem: a linear model and a toy convnet learn three functions of x in R^4.

For a fixed random W in R^4x4 the targets are y1 = sum(W x), y2 = max(x) and
y3 = logsumexp(W x). Both models train by plain SGD on the squared error plus L2 over all their
parameters, with backprop written out by hand. `python -m mnist_lab.scratch.toy` trains all six
pairs and saves `toy_loss_curves.png`.
"""

from __future__ import annotations

import math
import time
from pathlib import Path

import numpy as np
from omegaconf import DictConfig

from mnist_lab.runtime.cli import CONF_DIR, entry_point
from mnist_lab.runtime.environment import NUMPY_LIBRARIES, environment_line, run_environment
from mnist_lab.runtime.rundir import RunDir
from mnist_lab.runtime.task import run_task
from mnist_lab.scratch.data import batches
from mnist_lab.scratch.functions import relu

INPUT_SIZE = 4


def logsumexp(z: np.ndarray) -> np.ndarray:
    """log(sum_i e^{z_i}) per row, shifted by the row maximum so exp never overflows."""
    top = z.max(axis=1)
    return top + np.log(np.exp(z - top[:, None]).sum(axis=1))


def toy_targets(x: np.ndarray, w: np.ndarray) -> dict[str, np.ndarray]:
    """The three functions of APML ex3 evaluated on each row of x."""
    wx = x @ w.T
    return {
        "y1 = sum(Wx)": wx.sum(axis=1),
        "y2 = max(x)": x.max(axis=1),
        "y3 = logsumexp(Wx)": logsumexp(wx),
    }


def squared_error(prediction: np.ndarray, target: np.ndarray) -> float:
    """Mean of (p - y)^2 over the batch."""
    return float(((prediction - target) ** 2).mean())


def squared_error_gradient(prediction: np.ndarray, target: np.ndarray) -> np.ndarray:
    """d squared_error / d prediction."""
    return 2 * (prediction - target) / len(target)


class LinearModel:
    """p = w . x (no bias)."""

    biases: tuple[str, ...] = ()

    def __init__(self, init_std: float, rng: np.random.Generator) -> None:
        self.params = {"w": init_std * rng.standard_normal(INPUT_SIZE)}
        self.gradients = {"w": np.zeros(INPUT_SIZE)}

    def predict(self, x: np.ndarray) -> np.ndarray:
        return x @ self.params["w"]

    def loss_and_gradients(self, x: np.ndarray, y: np.ndarray) -> float:
        """Mean squared error on the batch; fills `gradients`."""
        prediction = self.predict(x)
        self.gradients = {"w": x.T @ squared_error_gradient(prediction, y)}
        return squared_error(prediction, y)


class ToyConvNet:
    """Two 3-tap filters w1, w2 slide over x (zero padding, stride 1), ReLU, max-pool of width 2,
    then p = u . (the 2 channels x 2 pooled positions), no biases.

    The filters are cross-correlations, as in every deep-learning library (torch's conv1d).
    """

    biases: tuple[str, ...] = ()

    def __init__(self, init_std: float, rng: np.random.Generator) -> None:
        self.params = {
            "w1": init_std * rng.standard_normal(3),
            "w2": init_std * rng.standard_normal(3),
            "u": init_std * rng.standard_normal(4),
        }
        self.gradients = {name: np.zeros_like(p) for name, p in self.params.items()}

    @staticmethod
    def _windows(x: np.ndarray) -> np.ndarray:
        """[n, 4 positions, 3 taps]: what each filter sees at each position."""
        padded = np.pad(x, ((0, 0), (1, 1)))
        return np.stack([padded[:, i : i + 3] for i in range(INPUT_SIZE)], axis=1)

    def _forward(self, x: np.ndarray) -> tuple[np.ndarray, ...]:
        filters = np.stack([self.params["w1"], self.params["w2"]])  # [2 channels, 3 taps]
        windows = self._windows(x)
        conv = np.einsum("nlk,ck->ncl", windows, filters)  # [n, 2 channels, 4 positions]
        pairs = relu(conv).reshape(len(x), 2, 2, 2)  # [n, channel, pooled position, pair]
        features = pairs.max(axis=3).reshape(len(x), 4)
        return windows, conv, pairs, features

    def predict(self, x: np.ndarray) -> np.ndarray:
        return self._forward(x)[3] @ self.params["u"]

    def loss_and_gradients(self, x: np.ndarray, y: np.ndarray) -> float:
        """Mean squared error on the batch; fills `gradients`."""
        windows, conv, pairs, features = self._forward(x)
        prediction = features @ self.params["u"]
        d_prediction = squared_error_gradient(prediction, y)
        d_features = d_prediction[:, None] * self.params["u"]
        # max-pool: the gradient goes to the larger of each pair only
        winner = pairs.argmax(axis=3)[..., None]
        d_pairs = np.zeros_like(pairs)
        np.put_along_axis(d_pairs, winner, d_features.reshape(len(x), 2, 2, 1), axis=3)
        d_conv = d_pairs.reshape(conv.shape) * (conv > 0)
        d_filters = np.einsum("ncl,nlk->ck", d_conv, windows)
        self.gradients = {"w1": d_filters[0], "w2": d_filters[1], "u": features.T @ d_prediction}
        return squared_error(prediction, y)


TOY_MODELS = {"linear": LinearModel, "convnet": ToyConvNet}


def train_toy(
    model: LinearModel | ToyConvNet,
    train: tuple[np.ndarray, np.ndarray],
    test: tuple[np.ndarray, np.ndarray],
    max_epochs: int,
    batch_size: int,
    lr: float,
    weight_decay: float,
    rng: np.random.Generator,
) -> dict[str, list[float]]:
    """SGD on squared error + L2; per epoch the mean training and the test squared error."""
    from mnist_lab.scratch.sgd import SGD, non_finite_loss

    optimizer = SGD(lr, weight_decay)
    curves: dict[str, list[float]] = {"train": [], "test": []}
    steps = 0
    for epoch in range(1, max_epochs + 1):
        losses = []
        for xb, yb in batches(*train, batch_size, rng):
            losses.append(model.loss_and_gradients(xb, yb))
            steps += 1
            if not math.isfinite(losses[-1]):
                raise non_finite_loss(losses[-1], steps, epoch, lr, xb, "toy.lr")
            optimizer.step(model)
        curves["train"].append(float(np.mean(losses)))
        curves["test"].append(squared_error(model.predict(test[0]), test[1]))
    return curves


def run_toy(cfg: DictConfig) -> dict[str, dict[str, float]]:
    """Train each model on each function; save the loss figure and the final test errors."""
    from tqdm.auto import tqdm

    from mnist_lab.plots.curves import loss_curves_by_panel_figure

    started = time.perf_counter()
    settings = cfg.toy
    rng = np.random.default_rng(cfg.seed)
    w = rng.standard_normal((INPUT_SIZE, INPUT_SIZE))
    x_train = rng.standard_normal((settings.n_train, INPUT_SIZE))
    x_test = rng.standard_normal((settings.n_test, INPUT_SIZE))
    train_targets, test_targets = toy_targets(x_train, w), toy_targets(x_test, w)

    curves: dict[str, dict[str, dict[str, list[float]]]] = {}
    baselines, final = {}, {}
    pairs = [(f, m) for f in train_targets for m in TOY_MODELS]
    for function, model_name in tqdm(pairs, desc="toy runs", disable=not cfg.progress):
        # every pair starts from the same seed, so the two models differ only in what they are
        pair_rng = np.random.default_rng(cfg.seed + 1)
        model = TOY_MODELS[model_name](settings.init_std, pair_rng)
        curves.setdefault(function, {})[model_name] = train_toy(
            model,
            (x_train, train_targets[function]),
            (x_test, test_targets[function]),
            settings.max_epochs,
            settings.batch_size,
            settings.lr,
            settings.weight_decay,
            pair_rng,
        )
        final.setdefault(function, {})[model_name] = curves[function][model_name]["test"][-1]
        baselines[function] = float(test_targets[function].var())

    run_dir = Path(cfg.paths.output_dir)
    fig = loss_curves_by_panel_figure(
        curves,
        baselines,
        title=(
            f"APML ex3's toy problem: squared error, SGD lr {settings.lr}, "
            f"L2 {settings.weight_decay}, {settings.n_train} training samples"
        ),
    )
    fig.savefig(run_dir / "toy_loss_curves.png", dpi=80)
    summary = {"test_squared_error": final, "target_variance": baselines}
    environment = run_environment(NUMPY_LIBRARIES)
    RunDir(run_dir).write_metrics(
        {**summary, "curves": curves, "W": w.tolist(), "environment": environment}
    )
    print(environment_line(environment))
    print(f"{'function':<20}{'linear':>10}{'convnet':>10}{'variance':>10}  (test squared error)")
    for function, errors in final.items():
        print(
            f"{function:<20}{errors['linear']:>10.4f}{errors['convnet']:>10.4f}"
            f"{baselines[function]:>10.4f}"
        )
    print(f"{time.perf_counter() - started:.1f} s; run dir {run_dir}")
    return final


def main(cfg: DictConfig) -> None:
    run_task(run_toy, cfg)


if __name__ == "__main__":
    entry_point(main, "toy", CONF_DIR / "scratch")
