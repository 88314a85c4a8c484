"""The training recipe: L1/L2 penalties reach weights only, optimizers and schedulers by name."""

from __future__ import annotations

from types import SimpleNamespace

import pytest
import torch
import torch.nn.functional as F
from torchmetrics.utilities.data import dim_zero_sum

from mnist_lab.models.classifier import Classifier, penalized_weights
from mnist_lab.models.epoch_means import EpochMeans
from mnist_lab.models.optimizers import FUSED, fused_allowed, make_optimizer
from mnist_lab.runtime.rules import OPTIMIZERS, SCHEDULERS

MLP_NET = {"_target_": "mnist_lab.nets.mlp.MLP", "hidden_dims": [6], "batch_norm": True}


def make(optimizer: dict, l1: float = 0.0) -> Classifier:
    torch.manual_seed(0)
    return Classifier(net=MLP_NET, optimizer=optimizer, l1=l1, num_classes=3, input_shape=[1, 2, 2])


def test_only_linear_and_conv_weights_are_penalized() -> None:
    model = make({"name": "sgd", "lr": 0.1})
    names = {
        n
        for n, p in model.net.named_parameters()
        if any(p is w for w in penalized_weights(model.net))
    }
    assert names == {"layers.1.weight", "layers.4.weight"}  # not biases, not BatchNorm's


def test_weight_decay_changes_weights_but_never_biases_or_norm_parameters() -> None:
    """One SGD step with and without L2: the difference is exactly -lr * lambda * w on weights."""
    x, y = torch.randn(8, 1, 2, 2), torch.randint(0, 3, (8,))
    after = {}
    for weight_decay in (0.0, 0.5):
        model = make({"name": "sgd", "lr": 0.1, "momentum": 0.0, "weight_decay": weight_decay})
        before = {n: p.detach().clone() for n, p in model.net.named_parameters()}
        optimizer = model.configure_optimizers()["optimizer"]
        F.cross_entropy(model(x), y).backward()
        optimizer.step()
        after[weight_decay] = {n: p.detach().clone() for n, p in model.net.named_parameters()}
    for name, start in before.items():
        delta = after[0.5][name] - after[0.0][name]
        if name in ("layers.1.weight", "layers.4.weight"):
            assert torch.allclose(delta, -0.1 * 0.5 * start, atol=1e-7), name
        else:
            assert torch.count_nonzero(delta) == 0, f"{name} was decayed"


def test_l1_penalty_is_added_for_weights_only() -> None:
    x, y = torch.randn(8, 1, 2, 2), torch.randint(0, 3, (8,))
    model = make({"name": "adam", "lr": 1e-3}, l1=0.01)
    model.log = lambda *args, **kwargs: None  # not attached to a Trainer
    loss = model.training_step((x, y), 0)
    expected_penalty = 0.01 * (
        model.net.layers[1].weight.abs().sum() + model.net.layers[4].weight.abs().sum()
    )
    data_loss = loss - expected_penalty
    assert data_loss.item() == pytest.approx(F.cross_entropy(model(x), y).item(), rel=1e-5)


@pytest.mark.parametrize("name", OPTIMIZERS)
def test_every_optimizer_by_name(name: str) -> None:
    optimizer = make({"name": name, "lr": 0.01, "momentum": 0.9, "weight_decay": 1e-4})
    built = optimizer.configure_optimizers()["optimizer"]
    assert type(built).__name__.lower() == name
    assert [g["weight_decay"] for g in built.param_groups] == [1e-4, 0.0]


@pytest.mark.parametrize("name", OPTIMIZERS)
def test_sgd_adam_and_adamw_take_torchs_fused_kernels_and_step_as_the_default_does(name) -> None:
    """Fused where torch has the kernels (not RMSprop), one step equal to the per-tensor loop's
    up to rounding; never under 16-mixed with gradient clipping, which Lightning refuses."""
    x, y = torch.randn(8, 1, 2, 2), torch.randint(0, 3, (8,))
    settings = {"name": name, "lr": 0.01, "momentum": 0.9, "weight_decay": 1e-4}
    stepped = {}
    for fused in (True, False):
        model = make(settings)
        built = make_optimizer(model.parameters(), settings, fused=fused)
        assert bool(built.defaults.get("fused")) == (fused and name in FUSED)
        F.cross_entropy(model(x), y).backward()
        built.step()
        stepped[fused] = torch.cat([p.detach().flatten() for p in model.parameters()])
    assert torch.allclose(stepped[True], stepped[False], atol=1e-6)
    clipped = SimpleNamespace(precision="16-mixed", gradient_clip_val=1.0)
    assert not fused_allowed(clipped) and fused_allowed(SimpleNamespace(precision="bf16-mixed"))
    assert fused_allowed(None)


def test_the_training_means_are_weighted_by_examples_and_reset_each_epoch() -> None:
    means = EpochMeans("loss", "acc")
    means.update(3, loss=torch.tensor(1.0), acc=torch.tensor(1.0))
    means.update(1, loss=torch.tensor(5.0), acc=torch.tensor(0.0))
    assert {k: v.item() for k, v in means.compute().items()} == {"loss": 2.0, "acc": 0.75}
    # summed over data-parallel ranks, as torchmetrics reduces its states
    assert all(means._reductions[k] is dim_zero_sum for k in ("examples", "sum_loss", "sum_acc"))
    means.reset()
    means.update(2, loss=torch.tensor(0.5), acc=torch.tensor(0.5))
    assert means.compute()["loss"].item() == 0.5


@pytest.mark.parametrize("name", SCHEDULERS)
def test_every_scheduler_by_name(name: str) -> None:
    """Schedulers are picked by branches, not a mapping: every accepted name reaches its own."""
    expected = {
        "none": None,
        "cosine": "CosineAnnealingLR",
        "onecycle": "OneCycleLR",
        "step": "StepLR",
    }
    settings = {"step": {"step_size": 2}}.get(name, {})
    torch.manual_seed(0)
    model = Classifier(
        net=MLP_NET,
        optimizer={"name": "sgd", "lr": 0.1},
        scheduler={"name": name, **settings},
        num_classes=3,
        input_shape=[1, 2, 2],
    )
    model.trainer = SimpleNamespace(estimated_stepping_batches=10, max_epochs=3)
    built = model.configure_optimizers().get("lr_scheduler")
    assert (built and type(built["scheduler"]).__name__) == expected[name]


def test_channels_last_stores_conv_kernels_nhwc_and_computes_the_same_logits() -> None:
    cnn = {"_target_": "mnist_lab.nets.cnn.CNN", "channels": [4, 8], "hidden_dims": []}
    models = {}
    for channels_last in (False, True):
        torch.manual_seed(0)
        models[channels_last] = Classifier(
            net=cnn, optimizer={"name": "adam", "lr": 1e-3}, channels_last=channels_last
        ).eval()
    # the second conv: the first has one input channel, contiguous in either order
    conv = [m for m in models[True].net.modules() if isinstance(m, torch.nn.Conv2d)][1].weight
    assert conv.is_contiguous(memory_format=torch.channels_last) and not conv.is_contiguous()
    x = torch.randn(3, 1, 28, 28)
    torch.testing.assert_close(models[True](x), models[False](x), rtol=1e-4, atol=1e-5)
