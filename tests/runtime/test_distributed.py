"""Data-parallel training: per-rank shares of the data, and a real 2-process DDP sweep on CPU."""

from __future__ import annotations

import json
import os
import sys
from collections import Counter
from pathlib import Path
from types import SimpleNamespace

import pytest
import torch
from torch.utils.data import DistributedSampler

from mnist_lab import LabError
from mnist_lab.data.datamodule import EpochOrder, MNISTDataModule, shard
from mnist_lab.runtime.distributed import own_process_group, pin_child_processes, starts_processes
from mnist_lab.train import train
from tests.helpers import compose_config
from tests.helpers.cli import run_cli
from tests.helpers.seen_samples import fingerprints


@pytest.mark.parametrize(("size", "world_size"), [(10, 3), (12, 4), (5, 2), (2, 4)])
def test_padded_shares_are_torchs_distributed_sampler(size: int, world_size: int) -> None:
    for rank in range(world_size):
        sampler = DistributedSampler(range(size), world_size, rank, shuffle=False)
        assert shard(torch.arange(size), rank, world_size, pad=True).tolist() == list(sampler)


def test_padding_repeats_only_the_start_and_skips_nothing() -> None:
    order = torch.randperm(11, generator=torch.Generator().manual_seed(0))
    shares = [shard(order, rank, 4, pad=True) for rank in range(4)]
    assert [len(s) for s in shares] == [3, 3, 3, 3]
    counts = Counter(torch.cat(shares).tolist())
    assert set(counts) == set(range(11))  # none skipped
    assert sorted(i for i, n in counts.items() if n == 2) == sorted(order[:1].tolist())


def test_unpadded_shares_count_every_sample_once() -> None:
    shares = [shard(torch.arange(11), rank, 4, pad=False) for rank in range(4)]
    assert [len(s) for s in shares] == [3, 3, 3, 2]
    assert sorted(torch.cat(shares).tolist()) == list(range(11))


@pytest.mark.parametrize("order", ["shuffled", "by_label", "fixed"])
def test_each_rank_takes_every_second_entry_of_the_same_epoch_order(order: str) -> None:
    labels = torch.randint(0, 10, (20,), generator=torch.Generator().manual_seed(1))
    alone = EpochOrder(labels, order, seed=3)
    ranks = [EpochOrder(labels, order, seed=3, rank=r, world_size=2) for r in range(2)]
    for epoch in (0, 1):
        for sampler in (alone, *ranks):
            sampler.set_epoch(epoch)
        full = alone.indices() if order != "fixed" else torch.arange(20)
        assert [len(r) for r in ranks] == [10, 10]
        for rank, sampler in enumerate(ranks):
            assert torch.equal(sampler.indices(), full[rank::2])


def test_datamodule_shards_training_with_padding_and_evaluation_without(tiny_data_dir: Path):
    def loaders(rank: int) -> tuple[list, list]:
        datamodule = MNISTDataModule(
            data_dir=str(tiny_data_dir), download=False, batch_size=50, val_fraction=0.105
        )
        datamodule.setup()
        datamodule.trainer = SimpleNamespace(
            global_rank=rank,
            world_size=2,
            strategy=SimpleNamespace(root_device=torch.device("cpu")),
        )
        train, val = datamodule.train_dataloader(), datamodule.val_dataloader()
        assert len(train) == 6  # ceil(269 / 50) batches on every rank
        return [x for x, _ in train], [x for x, _ in val]

    (train_0, val_0), (train_1, val_1) = loaders(0), loaders(1)
    alone = MNISTDataModule(data_dir=str(tiny_data_dir), download=False, val_fraction=0.105)
    alone.setup()
    # 537 training samples: 269 per rank; the epoch's first sample is the one seen twice.
    counts = Counter(fingerprints(torch.cat(train_0 + train_1)))
    assert sum(counts.values()) == 538
    assert set(counts) == set(fingerprints(alone.splits["train"][0]))
    first = alone.train_dataloader().sampler.indices()[0]
    twice = [key for key, count in counts.items() if count == 2]
    assert twice == fingerprints(alone.splits["train"][0][first : first + 1])
    # 63 validation samples: 32 + 31, each counted exactly once.
    val_0, val_1 = torch.cat(val_0), torch.cat(val_1)
    assert (len(val_0), len(val_1)) == (32, 31)
    assert sorted(fingerprints(torch.cat([val_0, val_1]))) == sorted(
        fingerprints(alone.splits["val"][0])
    )


def test_ddp_is_recognised_and_refused_under_launchers_that_cannot_start_ranks(tmp_path: Path):
    assert starts_processes(compose_config("train", ["trainer=ddp"], tmp_path))
    assert not starts_processes(compose_config("train", [], tmp_path))
    assert not starts_processes(
        compose_config("train", ["trainer=ddp", "trainer.devices=1"], tmp_path)
    )
    spawn = compose_config("train", ["trainer=ddp", "trainer.strategy=ddp_spawn"], tmp_path)
    assert not starts_processes(spawn)

    cfg = compose_config("train", ["trainer=ddp"], tmp_path)
    hydra = SimpleNamespace(launcher={"_target_": "hydra_plugins.joblib.JoblibLauncher"})
    with (
        pytest.MonkeyPatch.context() as patch,
        pytest.raises(LabError, match="cannot run under hydra/launcher=joblib"),
    ):
        patch.setattr("mnist_lab.runtime.distributed.HydraConfig.initialized", lambda: True)
        patch.setattr("mnist_lab.runtime.distributed.HydraConfig.get", lambda: hydra)
        patch.setattr(sys, "argv", list(sys.argv))
        pin_child_processes(cfg)


def test_a_finished_run_leaves_no_process_group_behind(tmp_path: Path, monkeypatch) -> None:
    """The next sweep member in this process must start its own group, not join a dead one."""
    import torch.distributed as dist

    monkeypatch.setenv("MASTER_PORT", "29999")  # the user's own setting survives
    monkeypatch.delenv("WORLD_SIZE", raising=False)
    with own_process_group():
        os.environ.update(MASTER_PORT="12345", WORLD_SIZE="1")  # as Lightning's launcher does
        dist.init_process_group("gloo", init_method=f"file://{tmp_path / 'store'}", rank=0,
                                world_size=1)  # fmt: skip
        assert dist.is_initialized()
    assert not dist.is_initialized()
    assert os.environ["MASTER_PORT"] == "29999" and "WORLD_SIZE" not in os.environ


def _evaluate_alone(checkpoint: Path, data_dir: Path, stage: str) -> dict[str, float]:
    """The metrics of one process evaluating `checkpoint` on the whole split."""
    import lightning as L

    from mnist_lab.models.classifier import Classifier

    datamodule = MNISTDataModule(data_dir=str(data_dir), download=False, val_fraction=0.105)
    trainer = L.Trainer(
        accelerator="cpu", devices=1, logger=False, enable_progress_bar=False,
        enable_model_summary=False, enable_checkpointing=False,
    )  # fmt: skip
    model = Classifier.load_from_checkpoint(checkpoint)
    run = trainer.validate if stage == "val" else trainer.test
    (metrics,) = run(model, datamodule=datamodule, verbose=False)
    return metrics


@pytest.mark.filterwarnings("ignore:.*LeafSpec")
def test_ddp_on_two_cpu_processes_shards_data_and_reduces_metrics(
    tmp_path: Path, tiny_data_dir: Path, train_config
) -> None:
    """A sweep member trained by 2 gloo ranks; Lightning starts rank 1 as a new process."""
    outputs, probe = tmp_path / "outputs", tmp_path / "seen"
    settings = [
        "trainer.max_epochs=2",
        "model.net.hidden_dims=[]",  # softmax regression, slow SGD: accuracy stays below 1
        "model.optimizer.name=sgd",
        "model.optimizer.lr=3e-4",
        "data.subset_size=536",  # divisible by 2: every sample exactly once per epoch
        "data.val_fraction=0.105",  # 63 validation images: shares of 32 and 31
    ]
    result = run_cli(
        "mnist_lab.train",
        "-m",
        "trainer=ddp",
        "trainer.devices=2",
        "data.batch_size=32",
        *settings,
        "+callbacks.seen._target_=tests.helpers.seen_samples.SeenSamples",
        f"+callbacks.seen.output_dir={probe}",
        log_dir=outputs,
        data_dir=tiny_data_dir,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert not (outputs / "train" / "runs").exists()  # the ranks started no runs of their own
    (sweep,) = (outputs / "train" / "multiruns").iterdir()
    (member,) = (p for p in sweep.iterdir() if p.is_dir())

    datamodule = MNISTDataModule(
        data_dir=str(tiny_data_dir), download=False, subset_size=536, val_fraction=0.105
    )
    datamodule.setup()
    train_set = sorted(fingerprints(datamodule.splits["train"][0]))
    val_set = sorted(fingerprints(datamodule.splits["val"][0]))

    def seen(stage: str, rank: int, epoch: int) -> list[str]:
        return json.loads((probe / f"{stage}_rank{rank}_epoch{epoch}.json").read_text())

    for epoch in (0, 1):
        shares = [seen("train", rank, epoch) for rank in (0, 1)]
        assert [len(share) for share in shares] == [268, 268]
        assert sorted(shares[0] + shares[1]) == train_set  # none twice, none skipped
        val = [seen("val", rank, epoch) for rank in (0, 1)]
        assert [len(share) for share in val] == [32, 31]
        assert sorted(val[0] + val[1]) == val_set
    assert seen("train", 0, 0) != seen("train", 0, 1)  # a new permutation every epoch

    # Rank r takes entries r, r+2, ... of the permutation, so one step of 2 x 32 samples is
    # the same 64 samples as one process's batch of 64: the same training, up to rounding.
    train(train_config(*settings, "data.batch_size=64", "logger=none", run="alone"))
    weights = torch.load(member / "checkpoints" / "last.ckpt", weights_only=True)["state_dict"]
    alone = torch.load(tmp_path / "alone/checkpoints/last.ckpt", weights_only=True)["state_dict"]
    for name, tensor in alone.items():
        assert torch.allclose(weights[name], tensor, rtol=1e-4, atol=1e-6), name

    metrics = json.loads((member / "metrics.json").read_text())
    # Logged values are over all ranks: equal to one process evaluating the same checkpoint.
    alone = _evaluate_alone(member / "checkpoints" / "last.ckpt", tiny_data_dir, "val")
    assert metrics["val/acc"] < 1  # not saturated, so equal accuracies mean something
    assert metrics["val/acc"] == pytest.approx(alone["val/acc"], abs=1e-7)
    assert metrics["val/loss"] == pytest.approx(alone["val/loss"], rel=1e-5)
    alone = _evaluate_alone(member / "checkpoints" / "best.ckpt", tiny_data_dir, "test")
    assert metrics["test/acc"] == pytest.approx(alone["test/acc"], abs=1e-7)
    assert metrics["test/loss"] == pytest.approx(alone["test/loss"], rel=1e-5)
    # Only rank 0 writes: one run's files, plus the other rank's Hydra log.
    files = {p.relative_to(member).as_posix() for p in member.rglob("*") if p.is_file()}
    assert {"metrics.json", "checkpoints/best.ckpt", "checkpoints/last.ckpt"} <= files
    assert {"csv/metrics.csv", "confusion_matrix.png", "train_ddp_process_1.log"} <= files
    # The error analysis gathers both ranks' test logits: every test image once, none padded.
    assert {"per_class.md", "reliability.png"} <= files
    supports = [int(row.split(",")[4]) for row in (member / "per_class.csv").open().readlines()[1:]]
    test_labels = datamodule.splits["test"][1]
    assert supports == torch.bincount(test_labels, minlength=10).tolist()
    assert not any("version_" in name or "failed" in name for name in files)
    assert json.loads((member / "member.json").read_text())["overrides"][0] == "trainer=ddp"
