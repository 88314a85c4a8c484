"""Where the MNIST-style datasets live on disk, how to fetch them, and how to load a split.

Torch-free on purpose: `visualize` and config-only commands load data without paying for torch.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from mnist_lab import LabError
from mnist_lab.data.idx import IMAGES_MAGIC, LABELS_MAGIC, IDXFormatError, read_idx

SPLIT_FILES = {
    "train": ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
    "test": ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"),
}
FILE_STEMS = tuple(stem for pair in SPLIT_FILES.values() for stem in pair)


@dataclass(frozen=True)
class DatasetSpec:
    """Everything that tells one MNIST-format dataset from another."""

    name: str
    folder: str  # torchvision's folder name: <data_dir>/<folder>/raw/
    classes: tuple[str, ...]
    mean: float  # of the training pixels, scaled to [0, 1]
    std: float
    mirrors: tuple[str, ...]
    gz_md5: dict[str, str]  # MD5 of each official `<stem>.gz`, as the authors publish them
    items: str = "images"  # what one sample is, in printouts ("10000 mnist test images")
    # the official files' sizes; other counts (swapped files, a subset someone made) warn
    official_counts: tuple[tuple[str, int], ...] = (("train", 60_000), ("test", 10_000))
    test_split: str = "test"  # the test numbers' prefix (`test/acc`), as Toy2DSpec's


# One entry per name in runtime.rules.DATASETS; a checked config names no other.
DATASET_SPECS: dict[str, DatasetSpec] = {
    "mnist": DatasetSpec(
        name="mnist",
        folder="MNIST",
        classes=tuple(str(digit) for digit in range(10)),
        mean=0.1307,
        std=0.3081,
        mirrors=(
            "https://ossci-datasets.s3.amazonaws.com/mnist/",
            "http://yann.lecun.com/exdb/mnist/",
        ),
        gz_md5={
            "train-images-idx3-ubyte": "f68b3c2dcbeaaa9fbdd348bbdeb94873",
            "train-labels-idx1-ubyte": "d53e105ee54ea40749a09fcbcd1e9432",
            "t10k-images-idx3-ubyte": "9fb629c4189551a2d022fa330f9573f3",
            "t10k-labels-idx1-ubyte": "ec29112dd5afa0611ce80d1b7f02629c",
        },
    ),
    "fashion_mnist": DatasetSpec(
        name="fashion_mnist",
        folder="FashionMNIST",
        classes=(
            "T-shirt/top",
            "Trouser",
            "Pullover",
            "Dress",
            "Coat",
            "Sandal",
            "Shirt",
            "Sneaker",
            "Bag",
            "Ankle boot",
        ),
        mean=0.2860,
        std=0.3530,
        mirrors=("http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/",),
        gz_md5={
            "train-images-idx3-ubyte": "8d4fb7e6c68d591d4c3dfef9ec88bf0d",
            "train-labels-idx1-ubyte": "25c81989df183df01b3e8a0aad5dffbe",
            "t10k-images-idx3-ubyte": "bef4ecab320f06d8554ea6380940ec79",
            "t10k-labels-idx1-ubyte": "bb300cfdad3c16e7a12a480ee83cd310",
        },
    ),
}


class DataNotFoundError(LabError):
    """The dataset files are missing and could not be downloaded."""


def raw_dir(data_dir: str | Path, spec: DatasetSpec) -> Path:
    """The folder that holds a dataset's IDX files (torchvision's layout)."""
    return Path(data_dir).expanduser() / spec.folder / "raw"


def _existing(folder: Path, stem: str) -> Path | None:
    for candidate in (folder / stem, folder / f"{stem}.gz"):
        if candidate.is_file():
            return candidate
    return None


def download(spec: DatasetSpec, folder: Path, stems: Sequence[str], timeout: float = 60) -> None:
    """Fetch `<stem>.gz` from the first mirror that serves it with the published MD5."""
    import pooch  # only when something is missing: keeps the offline path import-light

    folder.mkdir(parents=True, exist_ok=True)
    downloader = pooch.HTTPDownloader(progressbar=True, timeout=timeout)
    for stem in stems:
        failures = []
        for mirror in spec.mirrors:
            try:
                pooch.retrieve(
                    url=f"{mirror}{stem}.gz",
                    known_hash=f"md5:{spec.gz_md5[stem]}",
                    fname=f"{stem}.gz",
                    path=folder,
                    downloader=downloader,
                )
                break
            except Exception as error:  # noqa: BLE001 - any mirror failure means "try the next"
                # The first sentence says what went wrong; pooch's advice after it is long.
                reason = str(error).splitlines()[0].split(". ")[0][:200]
                failures.append(f"{mirror}: {reason}")
        else:
            raise DataNotFoundError(
                f"{spec.name} download failed: could not fetch {stem}.gz into {folder} "
                f"({'; '.join(failures)})"
            )


def ensure_files(spec: DatasetSpec, data_dir: str | Path, allow_download: bool) -> dict[str, Path]:
    """Return the path of each of the four IDX files, downloading missing ones if allowed."""
    folder = raw_dir(data_dir, spec)
    if folder.exists() and not folder.is_dir():
        raise DataNotFoundError(f"data directory {folder} is not a directory")
    # Without read and search permission every file would look missing; say what is wrong.
    for part in (Path(data_dir).expanduser(), folder.parent, folder):
        if part.is_dir() and not os.access(part, os.R_OK | os.X_OK):
            raise DataNotFoundError(
                f"data directory {part} is not readable (permission denied); give this user read "
                f"access or point data.data_dir / MNIST_LAB_DATA_DIR elsewhere"
            )
    missing = [stem for stem in FILE_STEMS if _existing(folder, stem) is None]
    remedy = (
        f"put {', '.join(FILE_STEMS)} (plain or .gz) in {folder}, or point data.data_dir / "
        f"MNIST_LAB_DATA_DIR at a folder holding {spec.folder}/raw/"
    )
    if missing and allow_download:
        try:
            download(spec, folder, missing)
        except DataNotFoundError as error:
            raise DataNotFoundError(f"{error}; {remedy}") from None
        missing = [stem for stem in FILE_STEMS if _existing(folder, stem) is None]
    if missing:
        raise DataNotFoundError(
            f"{spec.name} files missing from {folder}: {', '.join(missing)}; {remedy} "
            f"(or set data.download=true to fetch them)"
        )
    return {stem: _existing(folder, stem) for stem in FILE_STEMS}  # type: ignore[misc]


def load_split(
    spec: DatasetSpec, data_dir: str | Path, split: str, allow_download: bool = False
) -> tuple[np.ndarray, np.ndarray]:
    """Load one split as (images uint8 [n, 28, 28], labels int64 [n]), checked for consistency."""
    files = ensure_files(spec, data_dir, allow_download)
    images_stem, labels_stem = SPLIT_FILES[split]
    images = read_idx(files[images_stem], IMAGES_MAGIC)
    labels = read_idx(files[labels_stem], LABELS_MAGIC)
    if len(images) != len(labels):
        raise IDXFormatError(
            f"{files[images_stem]} holds {len(images)} images but {files[labels_stem]} "
            f"holds {len(labels)} labels"
        )
    if labels.size and labels.max() >= len(spec.classes):
        raise IDXFormatError(
            f"{files[labels_stem]} has label {labels.max()}, "
            f"but {spec.name} has only {len(spec.classes)} classes"
        )
    check_count(spec, split, files[images_stem], len(images))
    return images, labels.astype(np.int64)


_WARNED: set[Path] = set()


def check_count(spec: DatasetSpec, split: str, path: Path, count: int) -> None:
    """An empty split is an error; a count other than the official one warns, once per file."""
    if count == 0:
        raise IDXFormatError(f"{path} holds no images: the {spec.name} {split} split is empty")
    official = dict(spec.official_counts).get(split)
    if official not in (None, count) and path not in _WARNED:
        _WARNED.add(path)
        print(
            f"warning: {path} holds {count} images; the official {spec.name} {split} set has "
            f"{official} (files swapped, or not the official ones?)",
            file=sys.stderr,
        )


def split_train(
    n: int, val_fraction: float, val_split: str, split_seed: int, subset_size: int | None
) -> tuple[np.ndarray, np.ndarray]:
    """Indices of the training and validation parts of an official training set of `n` images.

    `val_split=random` draws the validation part with `split_seed`; `last` takes the end
    (CS7643 A1: first 80% train, last 20% validation). `subset_size` keeps only the first N
    training indices; the validation part stays whole.
    """
    n_val = int(round(n * val_fraction))
    if val_split == "last":
        order = np.arange(n)
    else:
        order = np.random.default_rng(split_seed).permutation(n)
    train_idx, val_idx = order[: n - n_val], order[n - n_val :]
    if subset_size is not None:
        train_idx = train_idx[:subset_size]
    return np.sort(train_idx), np.sort(val_idx)
