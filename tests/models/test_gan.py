"""The GAN: shapes, both optimizers stepping, a fast run, and the mode-collapse measure."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import torch
from hydra.utils import instantiate

from mnist_lab.callbacks import ModeCollapse
from mnist_lab.models.gan import GAN
from mnist_lab.models.judge import train_judge
from mnist_lab.nets.gan import ConvGAN, DenseGAN
from mnist_lab.runtime.assemble import build_trainer
from mnist_lab.runtime.rundir import RunDir
from mnist_lab.train import train


@pytest.mark.parametrize("net_class", [DenseGAN, ConvGAN])
def test_generator_and_discriminator_shapes(net_class) -> None:
    net = net_class(latent_dim=16)
    images = net.generator(torch.randn(4, 16))
    assert images.shape == (4, 1, 28, 28)
    assert images.min() >= -1 and images.max() <= 1  # tanh
    assert net.discriminator(images).shape == (4, 1)


def test_one_training_step_moves_both_generator_and_discriminator(train_config) -> None:
    cfg = train_config(
        "model=gan",
        "logger=none",
        "debug=fast_dev_run",
        "~callbacks",
        "++trainer.limit_train_batches=1",
    )
    model: GAN = instantiate(cfg.model, _recursive_=False, _convert_="all")
    before = {name: p.detach().clone() for name, p in model.net.named_parameters()}
    datamodule = instantiate(cfg.data)
    datamodule.prepare_data()
    datamodule.setup("fit")
    trainer = build_trainer(cfg, [], False)  # trainer.precision=auto: the lab resolves it
    trainer.fit(model, datamodule=datamodule)
    changed = {name for name, p in model.net.named_parameters() if not torch.equal(p, before[name])}
    assert any(name.startswith("generator.") for name in changed)
    assert any(name.startswith("discriminator.") for name in changed)


def test_fast_dev_run_of_the_gan(train_config, tmp_path: Path) -> None:
    cfg = train_config("model=gan", "debug=fast_dev_run")
    cfg.callbacks.mode_collapse.cache_dir = str(tmp_path / "classifiers")
    metrics = train(cfg)
    assert 0 <= metrics["test/class_entropy"] <= 3.33
    assert 1 <= metrics["test/classes_present"] <= 10
    assert {"train/g_loss", "train/d_loss", "samples/classes_present"} <= set(metrics)
    assert (tmp_path / "run" / "samples_epoch_001.png").is_file()
    # the final histogram's counts and the judge's own test accuracy, for the report
    counts, judge_test_acc = RunDir(tmp_path / "run").judged_samples()
    assert len(counts) == 10 and sum(counts) == cfg.callbacks.mode_collapse.num_samples
    assert 0 <= judge_test_acc <= 1


def test_mode_collapse_measure_sees_ten_classes_in_real_images_and_one_in_copies(
    train_config, tmp_path: Path
) -> None:
    datamodule = instantiate(train_config("model=gan").data)
    datamodule.prepare_data()
    datamodule.setup("fit")
    measure = ModeCollapse(cache_dir=str(tmp_path), train_epochs=5)
    measure.load_judge(datamodule)
    images, _ = datamodule.splits["test"]
    entropy, present = measure.measure(images)
    assert present == 10 and entropy > 3.0
    entropy, present = measure.measure(images[:1].repeat(500, 1, 1, 1))
    assert present == 1 and entropy == 0
    assert list(tmp_path.glob("judge_mnist_*.pt"))  # cached: a second measure loads it
    again = ModeCollapse(cache_dir=str(tmp_path))
    again.load_judge(datamodule)
    assert again.measure(images[:1].repeat(10, 1, 1, 1))[1] == 1


def test_training_the_judge_leaves_the_runs_random_stream_alone() -> None:
    images, labels = torch.rand(64, 1, 28, 28), torch.randint(0, 10, (64,))
    torch.manual_seed(7)
    expected = torch.rand(3)
    torch.manual_seed(7)
    train_judge(images, labels, num_classes=10, epochs=1)
    assert torch.equal(torch.rand(3), expected)


def test_training_the_judge_says_so_in_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    images, labels = torch.rand(300, 1, 28, 28), torch.randint(0, 10, (300,))
    train_judge(images, labels, num_classes=10, epochs=2, saved_to=tmp_path / "judge.pt")
    printed = capsys.readouterr()
    (line,) = printed.out.splitlines()  # the progress bar is drawn on terminals only
    assert re.fullmatch(
        r"GAN judge: training a small CNN classifier on 300 training images \(2 epochs, about "
        rf"\d+ s\) to label the generated digits \(mode-collapse check\); saved to "
        rf"{re.escape(str(tmp_path / 'judge.pt'))} for later runs",
        line,
    ), line
    assert printed.err == ""
    train_judge(images[:0], labels[:0], num_classes=10, epochs=0)  # an empty one, to load into
    assert capsys.readouterr().out == ""
