"""Where the MNIST-style datasets live on disk, how to fetch them, and how to load a split.

Torch-free on purpose: `visualize` and config-only commands load data without paying for torch.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

import numpy as np

from mnist_lab import LabError
from mnist_lab.data.idx import IMAGES_MAGIC, LABELS_MAGIC, IDXFormatError, read_idx

SPLIT_FILES = {
    "train": ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
    "test": ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"),
}
FILE_STEMS = tuple(stem for pair in SPLIT_FILES.values() for stem in pair)
# Both datasets' images are 28x28; the nets are sized for that (runtime.rules.IMAGE_SHAPE).
IMAGE_SIZE = (28, 28)


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


# What a failed fetch means, found in its exception's words: requests and urllib bury the cause
# (no network, a refused connection) deep inside one long repr of nested exceptions.
_FETCH_FAILURES = (
    (
        (
            "NameResolutionError",
            "Name or service not known",
            "name resolution",
            "getaddrinfo failed",
            "nodename nor servname",
        ),
        "host not found, no network?",
    ),
    (("timed out", "Timeout"), "timed out"),
    (("Connection refused",), "connection refused"),
    (("IncompleteRead", "Connection broken"), "connection broken during the transfer"),
    (("does not match the known hash",), "MD5 checksum mismatch, download deleted"),
)


def fetch_failure(error: BaseException) -> str:
    """A few words saying why fetching a file failed, for a one-line error."""
    # requests puts the status on the response, urllib on the error itself
    status = getattr(getattr(error, "response", None), "status_code", getattr(error, "code", None))
    if isinstance(status, int):
        return f"HTTP {status}"
    text = repr(error)
    for words, reason in _FETCH_FAILURES:
        if any(word in text for word in words):
            return reason
    return f"{type(error).__name__}: {str(error).splitlines()[0].split('. ')[0][:120]}"


def download(spec: DatasetSpec, folder: Path, stems: Sequence[str], timeout: float = 60) -> None:
    """Fetch `<stem>.gz` from the first mirror that serves it with the published MD5.

    A failure leaves no folder this call created empty behind (`data.data_dir=/nonexistent`
    offline must not create `/nonexistent/MNIST/raw/`); files fetched whole are kept.
    """
    import pooch  # only when something is missing: keeps the offline path import-light

    # Pooch logs two lines per file and mirror; one line of ours says it all.
    pooch.get_logger().setLevel("WARNING")
    print(f"downloading {len(stems)} {spec.name} file(s) into {folder}", file=sys.stderr)
    created = [part for part in (folder, *folder.parents) if not part.exists()]
    downloader = pooch.HTTPDownloader(progressbar=True, timeout=timeout)
    try:
        for stem in stems:
            failures: dict[str, list[str]] = {}
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
                    failures.setdefault(fetch_failure(error), []).append(urlsplit(mirror).netloc)
            else:
                raise DataNotFoundError(
                    "; ".join(f"{', '.join(hosts)}: {reason}" for reason, hosts in failures.items())
                )
    finally:
        for part in created:  # deepest first; the first one holding a file ends it
            try:
                part.rmdir()
            except OSError:
                break


def ensure_files(spec: DatasetSpec, data_dir: str | Path, allow_download: bool) -> dict[str, Path]:
    """Return the path of each of the four IDX files, downloading missing ones if allowed."""
    folder = raw_dir(data_dir, spec)
    # The nearest part of the path that exists must be a folder, or nothing can be read from
    # or downloaded into it (data.data_dir=/dev/null).
    existing = next(part for part in (folder, *folder.parents) if part.exists())
    if not existing.is_dir():
        raise DataNotFoundError(f"data directory {existing} is not a directory")
    # Without read and search permission every file would look missing; say what is wrong.
    for part in (Path(data_dir).expanduser(), folder.parent, folder):
        if part.is_dir() and not os.access(part, os.R_OK | os.X_OK):
            raise DataNotFoundError(
                f"data directory {part} is not readable (permission denied); give this user read "
                f"access or point data.data_dir / MNIST_LAB_DATA_DIR elsewhere"
            )
    missing = [stem for stem in FILE_STEMS if _existing(folder, stem) is None]
    fetch = "set data.download=true and run with network access to download them"
    if missing and allow_download:
        try:
            download(spec, folder, missing)
        except DataNotFoundError as error:
            fetch = f"run again with network access to download them (the download failed: {error})"
        missing = [stem for stem in FILE_STEMS if _existing(folder, stem) is None]
    if missing:
        raise DataNotFoundError(
            f"{spec.name} files missing from {folder}: {', '.join(missing)} (plain or .gz); set "
            f"MNIST_LAB_DATA_DIR or data.data_dir to a folder whose {spec.folder}/raw/ holds them, "
            f"or {fetch}"
        )
    return {stem: _existing(folder, stem) for stem in FILE_STEMS}  # type: ignore[misc]


def load_split(
    spec: DatasetSpec, data_dir: str | Path, split: str, allow_download: bool = False
) -> tuple[np.ndarray, np.ndarray]:
    """Load one split as (images uint8 [n, 28, 28], labels int64 [n]), checked for consistency."""
    files = ensure_files(spec, data_dir, allow_download)
    images_stem, labels_stem = SPLIT_FILES[split]
    images = read_idx(files[images_stem], IMAGES_MAGIC, IMAGE_SIZE)
    labels = read_idx(files[labels_stem], LABELS_MAGIC, ())
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


def check_split_sizes(n: int, n_val: int, val_fraction: float) -> None:
    """Refuse a validation fraction that leaves the validation or the training part empty."""
    if not 0 < n_val < n:
        part = "validation" if n_val == 0 else "training"
        raise LabError(
            f"data.val_fraction={val_fraction} of {n} training images leaves no {part} images; "
            f"use a fraction from {1 / n:.2g} to {1 - 1 / n:.6g}"
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
    check_split_sizes(n, n_val, val_fraction)
    if val_split == "last":
        order = np.arange(n)
    else:
        order = np.random.default_rng(split_seed).permutation(n)
    train_idx, val_idx = order[: n - n_val], order[n - n_val :]
    if subset_size is not None:
        train_idx = train_idx[:subset_size]
    return np.sort(train_idx), np.sort(val_idx)
