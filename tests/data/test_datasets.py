"""IDX reading, data-folder errors, downloads and the tensor-resident DataModule."""

from __future__ import annotations

import socket
from pathlib import Path
from urllib.error import HTTPError, URLError

import numpy as np
import pytest
import torch

from mnist_lab.data.datamodule import MNISTDataModule
from mnist_lab.data.datasets import (
    DATASET_SPECS,
    FILE_STEMS,
    DataNotFoundError,
    ensure_files,
    fetch_failure,
    load_split,
)
from mnist_lab.data.idx import IMAGES_MAGIC, read_idx, write_idx


@pytest.mark.parametrize("name", ["images.idx", "images.idx.gz"])
def test_idx_round_trip_plain_and_gz(tmp_path: Path, name: str) -> None:
    array = np.arange(3 * 28 * 28, dtype=np.uint32).astype(np.uint8).reshape(3, 28, 28)
    write_idx(tmp_path / name, array)
    back = read_idx(tmp_path / name, IMAGES_MAGIC)
    assert back.shape == (3, 28, 28)
    assert np.array_equal(back, array)


def test_missing_files_error_names_folder_and_all_four_files(tmp_path: Path) -> None:
    with pytest.raises(DataNotFoundError) as caught:
        ensure_files(DATASET_SPECS["fashion_mnist"], tmp_path, allow_download=False)
    message = str(caught.value)
    assert str(tmp_path / "FashionMNIST" / "raw") in message
    assert all(stem in message for stem in FILE_STEMS)
    assert "\n" not in message


def test_download_from_mirror_with_checksums(tmp_path: Path, local_mirror, tiny_data_dir) -> None:
    target = tmp_path / "fresh"
    files = ensure_files(local_mirror, target, allow_download=True)
    assert all(path.suffix == ".gz" for path in files.values())
    images, labels = load_split(local_mirror, target, "train")
    expected = read_idx(tiny_data_dir / "MNIST" / "raw" / "train-images-idx3-ubyte")
    assert np.array_equal(images, expected)
    assert len(labels) == 600


def _no_network(*args, **kwargs):
    raise socket.gaierror(socket.EAI_AGAIN, "Temporary failure in name resolution")


def test_offline_download_is_one_clean_line_and_creates_no_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`data.data_dir=/nonexistent` offline: every host lookup fails, as with no network."""
    monkeypatch.setattr(socket, "getaddrinfo", _no_network)
    data_dir = tmp_path / "nonexistent" / "deeper"
    with pytest.raises(DataNotFoundError) as caught:
        ensure_files(DATASET_SPECS["mnist"], data_dir, allow_download=True)
    message = str(caught.value)
    raw = data_dir / "MNIST" / "raw"
    assert message == (
        f"mnist files missing from {raw}: {', '.join(FILE_STEMS)} (plain or .gz); set "
        "MNIST_LAB_DATA_DIR or data.data_dir to a folder whose MNIST/raw/ holds them, or run "
        "again with network access to download them (the download failed: "
        "ossci-datasets.s3.amazonaws.com, yann.lecun.com: host not found, no network?)"
    )
    assert not (tmp_path / "nonexistent").exists()


@pytest.mark.parametrize(
    ("error", "reason"),
    [
        (URLError(socket.gaierror(-2, "Name or service not known")), "host not found, no network?"),
        (URLError(ConnectionRefusedError(111, "Connection refused")), "connection refused"),
        (URLError(TimeoutError("timed out")), "timed out"),
        (HTTPError("https://x/a.gz", 404, "Not Found", {}, None), "HTTP 404"),
        (OSError("disk full. Free some space"), "OSError: disk full"),
    ],
)
def test_a_failed_fetch_is_named_in_a_few_words(error: Exception, reason: str) -> None:
    assert fetch_failure(error) == reason


def test_a_failed_fetch_through_requests_gives_its_http_status() -> None:
    requests = pytest.importorskip("requests")  # what pooch downloads with
    response = requests.Response()
    response.status_code = 503
    assert fetch_failure(requests.exceptions.HTTPError(response=response)) == "HTTP 503"


def make_datamodule(data_dir: Path, **kwargs) -> MNISTDataModule:
    datamodule = MNISTDataModule(data_dir=str(data_dir), download=False, **kwargs)
    datamodule.setup()
    return datamodule


def test_validation_is_carved_from_train_never_test(tiny_data_dir: Path) -> None:
    datamodule = make_datamodule(tiny_data_dir, val_fraction=0.2)
    train_x, _ = datamodule.splits["train"]
    val_x, _ = datamodule.splits["val"]
    test_x, _ = datamodule.splits["test"]
    assert (len(train_x), len(val_x), len(test_x)) == (480, 120, 200)
    official_train = read_idx(tiny_data_dir / "MNIST" / "raw" / "train-images-idx3-ubyte")
    official = torch.from_numpy(official_train.reshape(600, -1).astype(np.float32))
    rows = {tuple(r.tolist()) for r in official}
    val_raw = (val_x * DATASET_SPECS["mnist"].std + DATASET_SPECS["mnist"].mean) * 255
    assert all(tuple(r.round().tolist()) in rows for r in val_raw.reshape(120, -1))


def test_last_split_is_cs7643_a1_first_80_last_20(tiny_data_dir: Path) -> None:
    datamodule = make_datamodule(tiny_data_dir, val_fraction=0.2, val_split="last", normalize=False)
    official = read_idx(tiny_data_dir / "MNIST" / "raw" / "train-images-idx3-ubyte")
    train_x, _ = datamodule.splits["train"]
    val_x, _ = datamodule.splits["val"]
    assert torch.equal(
        (train_x[:, 0] * 255).round().byte(), torch.from_numpy(official[:480].copy())
    )
    assert torch.equal((val_x[:, 0] * 255).round().byte(), torch.from_numpy(official[480:].copy()))


def test_train_batches_visit_every_sample_once_per_epoch(tiny_data_dir: Path) -> None:
    datamodule = make_datamodule(tiny_data_dir, batch_size=64)
    loader = datamodule.train_dataloader()
    batches = list(loader)
    assert len(batches) == len(loader) == 9  # 540 samples: 8 full batches and one of 28
    seen = torch.cat([x.reshape(len(x), -1) for x, _ in batches])
    train_x, _ = datamodule.splits["train"]
    assert len(seen) == 540
    distinct = torch.unique(train_x.reshape(540, -1), dim=0)
    assert len(distinct) == 540  # noisy toy images: every sample is distinguishable
    assert torch.equal(torch.unique(seen, dim=0), distinct)


def test_shuffle_is_seeded_and_changes_every_epoch(tiny_data_dir: Path) -> None:
    def epoch_labels(seed: int, epoch: int) -> torch.Tensor:
        loader = make_datamodule(tiny_data_dir, seed=seed).train_dataloader()
        loader.sampler.set_epoch(epoch)
        return torch.cat([y for _, y in loader])

    assert torch.equal(epoch_labels(0, 0), epoch_labels(0, 0))
    assert not torch.equal(epoch_labels(0, 0), epoch_labels(0, 1))
    assert not torch.equal(epoch_labels(0, 0), epoch_labels(1, 0))


def test_by_label_order_sorts_and_does_not_shuffle(tiny_data_dir: Path) -> None:
    loader = make_datamodule(tiny_data_dir, order="by_label").train_dataloader()
    first = torch.cat([y for _, y in loader])
    loader.sampler.set_epoch(3)
    assert torch.equal(first, torch.cat([y for _, y in loader]))
    assert torch.equal(first, torch.sort(first).values)


def test_subset_size_limits_training_samples(tiny_data_dir: Path) -> None:
    datamodule = make_datamodule(tiny_data_dir, subset_size=100, batch_size=32)
    assert len(datamodule.splits["train"][1]) == 100
    assert len(datamodule.splits["val"][1]) == 60


def test_fashion_mnist_reads_gz_files(tiny_data_dir: Path) -> None:
    datamodule = make_datamodule(tiny_data_dir, name="fashion_mnist")
    assert datamodule.spec.classes[9] == "Ankle boot"
    assert len(datamodule.splits["test"][1]) == 200


@pytest.mark.parametrize(
    ("name", "first_train", "first_test", "pixel_mean"),
    [("mnist", 5, 7, 33.318), ("fashion_mnist", 9, 9, 72.940)],
)
def test_real_files_match_their_documentation(
    real_data_dir: Path, name: str, first_train: int, first_test: int, pixel_mean: float
) -> None:
    spec = DATASET_SPECS[name]
    train_images, train_labels = load_split(spec, real_data_dir, "train")
    test_images, test_labels = load_split(spec, real_data_dir, "test")
    assert train_images.shape == (60000, 28, 28) and test_images.shape == (10000, 28, 28)
    assert (train_labels[0], test_labels[0]) == (first_train, first_test)
    assert train_images.mean() == pytest.approx(pixel_mean, abs=1e-3)
    assert np.bincount(test_labels).sum() == 10000
