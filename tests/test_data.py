"""IDX reading, data-folder errors, downloads and the tensor-resident DataModule."""

from __future__ import annotations

import gzip
import hashlib
import http.server
import threading
from dataclasses import replace
from functools import partial
from pathlib import Path

import numpy as np
import pytest
import torch

from mnist_lab import LabError
from mnist_lab.data.datamodule import MNISTDataModule
from mnist_lab.data.datasets import (
    DATASETS,
    FILE_STEMS,
    DataNotFoundError,
    ensure_files,
    load_split,
)
from mnist_lab.data.idx import IMAGES_MAGIC, LABELS_MAGIC, IDXFormatError, read_idx, write_idx


@pytest.mark.parametrize("name", ["images.idx", "images.idx.gz"])
def test_idx_round_trip_plain_and_gz(tmp_path: Path, name: str) -> None:
    array = np.arange(3 * 28 * 28, dtype=np.uint32).astype(np.uint8).reshape(3, 28, 28)
    write_idx(tmp_path / name, array)
    back = read_idx(tmp_path / name, IMAGES_MAGIC)
    assert back.shape == (3, 28, 28)
    assert np.array_equal(back, array)


def test_idx_wrong_magic_names_file_and_both_numbers(tmp_path: Path) -> None:
    write_idx(tmp_path / "labels", np.zeros(5, dtype=np.uint8))
    with pytest.raises(
        IDXFormatError, match=r"labels has magic number 0x00000801, expected 0x00000803"
    ):
        read_idx(tmp_path / "labels", IMAGES_MAGIC)


def test_idx_not_an_idx_file(tmp_path: Path) -> None:
    (tmp_path / "notes.txt").write_bytes(b"hello world, not idx")
    with pytest.raises(IDXFormatError, match="not an IDX file"):
        read_idx(tmp_path / "notes.txt")


def test_idx_truncated_payload(tmp_path: Path) -> None:
    write_idx(tmp_path / "images", np.zeros((4, 28, 28), dtype=np.uint8))
    data = (tmp_path / "images").read_bytes()
    (tmp_path / "images").write_bytes(data[:-100])
    with pytest.raises(IDXFormatError, match=r"truncated: header says shape \(4, 28, 28\)"):
        read_idx(tmp_path / "images", IMAGES_MAGIC)


def test_idx_truncated_header(tmp_path: Path) -> None:
    (tmp_path / "images").write_bytes(IMAGES_MAGIC.to_bytes(4, "big") + b"\x00\x00")
    with pytest.raises(IDXFormatError, match="truncated inside its header"):
        read_idx(tmp_path / "images")


def test_idx_trailing_bytes(tmp_path: Path) -> None:
    write_idx(tmp_path / "labels", np.zeros(5, dtype=np.uint8))
    with open(tmp_path / "labels", "ab") as handle:
        handle.write(b"\x00\x00")
    with pytest.raises(IDXFormatError, match="longer than its header says"):
        read_idx(tmp_path / "labels", LABELS_MAGIC)


def test_idx_corrupt_gzip(tmp_path: Path) -> None:
    (tmp_path / "labels.gz").write_bytes(b"\x1f\x8b\x08\x00garbage")
    with pytest.raises(IDXFormatError, match="cannot read"):
        read_idx(tmp_path / "labels.gz")


def test_image_and_label_counts_must_match(tmp_path: Path) -> None:
    raw = tmp_path / "MNIST" / "raw"
    raw.mkdir(parents=True)
    for stem in FILE_STEMS:
        if "images" in stem:
            write_idx(raw / stem, np.zeros((10, 28, 28), dtype=np.uint8))
        else:
            write_idx(raw / stem, np.zeros(9, dtype=np.uint8))
    with pytest.raises(IDXFormatError, match="holds 10 images but .* holds 9 labels"):
        load_split(DATASETS["mnist"], tmp_path, "train")


def test_missing_files_error_names_folder_and_all_four_files(tmp_path: Path) -> None:
    with pytest.raises(DataNotFoundError) as caught:
        ensure_files(DATASETS["fashion_mnist"], tmp_path, allow_download=False)
    message = str(caught.value)
    assert str(tmp_path / "FashionMNIST" / "raw") in message
    assert all(stem in message for stem in FILE_STEMS)
    assert "\n" not in message


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def local_mirror(tmp_path: Path, tiny_data_dir: Path):
    """An HTTP server on 127.0.0.1 serving the tiny MNIST files gzipped, like the real mirrors."""
    served = tmp_path / "mirror"
    served.mkdir()
    md5 = {}
    for stem in FILE_STEMS:
        payload = gzip.compress((tiny_data_dir / "MNIST" / "raw" / stem).read_bytes())
        (served / f"{stem}.gz").write_bytes(payload)
        md5[stem] = hashlib.md5(payload).hexdigest()
    server = http.server.ThreadingHTTPServer(
        ("127.0.0.1", 0), partial(_QuietHandler, directory=str(served))
    )
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    spec = replace(
        DATASETS["mnist"], mirrors=(f"http://127.0.0.1:{server.server_port}/",), gz_md5=md5
    )
    yield spec
    server.shutdown()


def test_download_from_mirror_with_checksums(tmp_path: Path, local_mirror, tiny_data_dir) -> None:
    target = tmp_path / "fresh"
    files = ensure_files(local_mirror, target, allow_download=True)
    assert all(path.suffix == ".gz" for path in files.values())
    images, labels = load_split(local_mirror, target, "train")
    expected = read_idx(tiny_data_dir / "MNIST" / "raw" / "train-images-idx3-ubyte")
    assert np.array_equal(images, expected)
    assert len(labels) == 600


def test_download_checksum_mismatch_is_refused(tmp_path: Path, local_mirror) -> None:
    wrong = replace(local_mirror, gz_md5={stem: "0" * 32 for stem in FILE_STEMS})
    with pytest.raises(DataNotFoundError, match="download failed") as caught:
        ensure_files(wrong, tmp_path / "fresh", allow_download=True)
    assert "hash" in str(caught.value).lower()
    assert not list((tmp_path / "fresh").rglob("*.gz")), "a file failing its checksum was kept"


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
    val_raw = (val_x * DATASETS["mnist"].std + DATASETS["mnist"].mean) * 255
    assert all(tuple(r.round().tolist()) in rows for r in val_raw.reshape(120, -1))


def test_last_split_is_seed_003_first_80_last_20(tiny_data_dir: Path) -> None:
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


def test_batch_larger_than_training_set_is_refused(tiny_data_dir: Path) -> None:
    with pytest.raises(
        LabError, match=r"data.batch_size=1000 is larger than the training set \(540"
    ):
        make_datamodule(tiny_data_dir, batch_size=1000)


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
    spec = DATASETS[name]
    train_images, train_labels = load_split(spec, real_data_dir, "train")
    test_images, test_labels = load_split(spec, real_data_dir, "test")
    assert train_images.shape == (60000, 28, 28) and test_images.shape == (10000, 28, 28)
    assert (train_labels[0], test_labels[0]) == (first_train, first_test)
    assert train_images.mean() == pytest.approx(pixel_mean, abs=1e-3)
    assert np.bincount(test_labels).sum() == 10000
