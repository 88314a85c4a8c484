"""The autoencoder: its network's shapes, a fast run, and the AE-vs-PCA separation score."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from mnist_lab.analysis.probes import knn_accuracy
from mnist_lab.nets.autoencoder import DenseAutoencoder
from mnist_lab.train import train


def test_encoder_and_decoder_shapes_are_cs541_hw3s() -> None:
    net = DenseAutoencoder(hidden_dims=[128], code_size=64)
    images = torch.rand(5, 1, 28, 28)
    code = net.encode(images)
    assert code.shape == (5, 64)
    rebuilt = net.decode(code)
    assert rebuilt.shape == images.shape
    assert rebuilt.min() >= 0 and rebuilt.max() <= 1  # sigmoid output
    widths = [m.out_features for m in net.modules() if isinstance(m, torch.nn.Linear)]
    assert widths == [128, 64, 128, 784]


def test_linear_code_can_be_negative() -> None:
    net = DenseAutoencoder(hidden_dims=[16], code_size=2, code_activation=False)
    assert (net.encode(torch.rand(200, 1, 28, 28)) < 0).any()


def test_fast_dev_run_of_the_autoencoder(train_config, tmp_path: Path) -> None:
    metrics = train(train_config("model=autoencoder", "data=fashion_mnist", "debug=fast_dev_run"))
    assert 0 < metrics["test/loss"] < 1
    assert "test/acc" not in metrics
    assert (tmp_path / "run" / "reconstructions.png").stat().st_size > 5_000


def test_2d_experiment_scores_both_embeddings_and_draws_them(train_config, tmp_path) -> None:
    cfg = train_config(
        "experiment=autoencoder_2d",
        "trainer.max_epochs=1",
        "model.net.hidden_dims=[32]",
        "callbacks.code_embedding.num_points=100",
    )
    assert cfg.callbacks.model_checkpoint.monitor == "val/loss"
    assert cfg.callbacks.model_checkpoint.mode == "min"
    metrics = train(cfg)
    assert 0 <= metrics["test/knn_acc_ae"] <= 1 and 0 <= metrics["test/knn_acc_pca"] <= 1
    run = tmp_path / "run"
    assert (run / "code_vs_pca.png").is_file()
    assert (run / "checkpoints" / "best.ckpt").is_file()
    assert list((run / "tensorboard").glob("**/projector_config.pbtxt"))


def test_knn_score_prefers_a_separable_embedding_to_a_random_one() -> None:
    rng = np.random.default_rng(0)
    labels = rng.integers(0, 10, size=1000)
    angles = labels * 2 * np.pi / 10
    centres = np.stack([np.cos(angles), np.sin(angles)], 1) * 5
    separable = centres + rng.normal(scale=0.3, size=(1000, 2))
    random = rng.normal(size=(1000, 2))
    assert knn_accuracy(separable, labels) > 0.95
    assert knn_accuracy(random, labels) < 0.2


def test_cli_evaluate_reports_an_autoencoders_own_test_metrics(tmp_path: Path, tiny_data_dir):
    from tests.helpers.cli import run_cli

    outputs = tmp_path / "outputs"
    trained = run_cli(
        "mnist_lab.train",
        "model=autoencoder",
        "trainer.max_epochs=1",
        log_dir=outputs,
        data_dir=tiny_data_dir,
    )
    assert trained.returncode == 0, trained.stderr[-3000:]
    (run,) = list((outputs / "train" / "runs").iterdir())
    evaluated = run_cli(
        "mnist_lab.evaluate", f"ckpt_path={run}", log_dir=outputs, data_dir=tiny_data_dir
    )
    assert evaluated.returncode == 0, evaluated.stderr[-3000:]
    assert "test/loss 0." in evaluated.stdout and "200 mnist test images" in evaluated.stdout
    assert "confusion matrix" not in evaluated.stdout
