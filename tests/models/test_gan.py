"""The GAN: shapes, both optimizers stepping, a fast run, and the mode-collapse measure."""

from __future__ import annotations

import re
from pathlib import Path
from types import SimpleNamespace

import pytest
import torch
from hydra.utils import instantiate
from torch import nn

from mnist_lab.callbacks import ModeCollapse
from mnist_lab.models.gan import GAN
from mnist_lab.models.judge import train_judge
from mnist_lab.nets.gan import DCGAN, DenseGAN
from mnist_lab.runtime.assemble import build_trainer
from mnist_lab.runtime.rundir import RunDir
from mnist_lab.train import train

ADAM = {"name": "adam", "lr": 2e-4, "betas": [0.5, 0.999]}


@pytest.mark.parametrize("net_class", [DenseGAN, DCGAN])
def test_generator_and_discriminator_shapes(net_class) -> None:
    net = net_class(latent_dim=16)
    images = net.generator(torch.randn(4, 16))
    assert images.shape == (4, 1, 28, 28)
    assert images.min() >= -1 and images.max() <= 1  # tanh
    assert net.discriminator(images).shape == (4, 1)


def test_the_dcgan_upsamples_with_transposed_convolutions_and_downsamples_with_strides() -> None:
    net = DCGAN(latent_dim=8, channels=4)
    shapes, kinds = [], []
    x = torch.randn(3, 8)
    for layer in net.generator:
        x = layer(x)
        shapes.append(tuple(x.shape[1:]))
        kinds.append(type(layer))
    assert shapes == [
        (8 * 7 * 7,),
        (8 * 7 * 7,),
        (8 * 7 * 7,),
        (8, 7, 7),
        (4, 14, 14),
        (4, 14, 14),
        (4, 14, 14),
        (1, 28, 28),
        (1, 28, 28),
    ]
    assert kinds.count(nn.ConvTranspose2d) == 2 and kinds[-1] is nn.Tanh
    assert {nn.BatchNorm1d, nn.BatchNorm2d, nn.ReLU} <= set(kinds)
    strided = [m for m in net.discriminator if isinstance(m, nn.Conv2d)]
    assert [m.stride for m in strided] == [(2, 2), (2, 2)]
    assert not any(isinstance(m, nn.MaxPool2d | nn.AvgPool2d) for m in net.discriminator.modules())
    assert sum(isinstance(m, nn.LeakyReLU) for m in net.discriminator) == 2


def test_interpolation_ends_at_the_two_codes_own_images() -> None:
    torch.manual_seed(0)
    gan = GAN({"_target_": "mnist_lab.nets.gan.DCGAN", "latent_dim": 8, "channels": 4}, ADAM)
    gan.net.train()  # the interpolation runs in eval mode (BatchNorm's running statistics)
    start, end = torch.randn(2, 8)
    images = gan.interpolate(start, end, steps=10)
    assert images.shape == (10, 1, 28, 28) and gan.net.training
    own = gan.sample(2, torch.stack([start, end]))
    torch.testing.assert_close(images[[0, -1]], own)
    # the steps in between are new images, not copies of an end
    assert not torch.allclose(images[4], own[0]) and not torch.allclose(images[4], own[1])


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
    per_epoch = {"samples/classes_present", "samples/feature_distance"}
    assert {"train/g_loss", "train/d_loss", *per_epoch} <= set(metrics)
    assert (tmp_path / "run" / "samples_epoch_001.png").is_file()
    assert (tmp_path / "run" / "interpolation.png").is_file()
    # the final histogram's counts, distances and the judge's own test accuracy, for the report
    judged = RunDir(tmp_path / "run").judged_samples()
    assert len(judged.counts) == 10
    assert sum(judged.counts) == cfg.callbacks.mode_collapse.final_samples
    assert judged.judge_test_acc == pytest.approx(metrics["test/judge_acc"])
    assert 0 <= judged.judge_test_acc <= 1
    assert judged.feature_distance == pytest.approx(metrics["test/feature_distance"])
    # one training step draws noise, far from the real images' features
    assert judged.feature_distance > 10 * judged.feature_distance_floor


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


def test_the_judge_notes_the_first_epoch_with_every_class_and_measures_distances(
    train_config, tmp_path: Path
) -> None:
    datamodule = instantiate(train_config("model=gan").data)
    datamodule.prepare_data()
    datamodule.setup("fit")
    test_images, _ = datamodule.splits["test"]
    judge = ModeCollapse(cache_dir=str(tmp_path), train_epochs=5, num_samples=len(test_images))
    judge.load_judge(datamodule)

    class Generator:
        """Stands in for a GAN: one image over and over, then the real test images."""

        def __init__(self) -> None:
            self.logged: dict[str, float] = {}
            self.collapsed = True

        def sample(self, count: int) -> torch.Tensor:
            images = test_images[:1].repeat(count, 1, 1, 1) if self.collapsed else test_images
            return images[:count]

        def log(self, name: str, value: float) -> None:
            self.logged[name] = value

    gan = Generator()
    judge.on_train_epoch_end(SimpleNamespace(current_epoch=0), gan)
    assert gan.logged["samples/classes_present"] == 1 and judge.epochs_to_all_classes is None
    collapsed_distance = gan.logged["samples/feature_distance"]
    gan.collapsed = False
    for epoch in (1, 2):
        judge.on_train_epoch_end(SimpleNamespace(current_epoch=epoch), gan)
    assert gan.logged["samples/classes_present"] == 10
    assert judge.epochs_to_all_classes == 2  # the first epoch with every class, not the last
    # the test images themselves are at distance ~0 from the test images; one copied image far
    assert gan.logged["samples/feature_distance"] < 1e-6 < 1.0 < collapsed_distance
    assert judge.floor > 0 and 0 < judge.judge_test_acc <= 1
    # a resumed run still knows it
    resumed = ModeCollapse()
    resumed.load_state_dict(judge.state_dict())
    assert resumed.epochs_to_all_classes == 2
