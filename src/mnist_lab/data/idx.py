"""Reader for the IDX format that MNIST and Fashion-MNIST are distributed in (plain or gzipped)."""

from __future__ import annotations

import gzip
import io
import math
import os
from pathlib import Path
from typing import BinaryIO

import numpy as np

from mnist_lab import LabError

IMAGES_MAGIC = 0x00000803  # unsigned bytes, 3 dimensions
LABELS_MAGIC = 0x00000801  # unsigned bytes, 1 dimension


class IDXFormatError(LabError):
    """The file is not a valid IDX file of the expected kind."""


def read_idx(
    path: str | Path, expected_magic: int | None = None, item_shape: tuple[int, ...] | None = None
) -> np.ndarray:
    """Read an IDX file of unsigned bytes (`.gz` allowed) into a uint8 array of its shape.

    The header is read and checked first (magic number, `item_shape` of each item after the
    count, the size it implies against the file's), so a wrong or huge file is refused before
    its contents are read.
    """
    path = Path(path)
    try:
        with gzip.open(path) if path.suffix == ".gz" else open(path, "rb") as file:
            return _read_checked(path, file, expected_magic, item_shape)
    except (OSError, EOFError, gzip.BadGzipFile) as error:
        raise IDXFormatError(f"cannot read {path}: {error}") from error


def _read_checked(
    path: Path, file: BinaryIO, expected_magic: int | None, item_shape: tuple[int, ...] | None
) -> np.ndarray:
    start = file.read(4)
    if len(start) < 4:
        raise IDXFormatError(f"{path} is {len(start)} bytes long, too short for an IDX header")
    magic = int.from_bytes(start, "big")
    if magic >> 8 != 0x08 or magic & 0xFF == 0:
        raise IDXFormatError(
            f"{path} has magic number 0x{magic:08x}, not an IDX file of unsigned bytes "
            f"(expected 0x{expected_magic or IMAGES_MAGIC:08x})"
        )
    if expected_magic is not None and magic != expected_magic:
        raise IDXFormatError(
            f"{path} has magic number 0x{magic:08x}, expected 0x{expected_magic:08x}"
        )
    ndim = magic & 0xFF
    header = 4 + 4 * ndim
    dims = file.read(4 * ndim)
    if len(dims) < 4 * ndim:
        raise IDXFormatError(f"{path} is truncated inside its header ({4 + len(dims)} bytes)")
    shape = tuple(int.from_bytes(dims[4 * i : 4 + 4 * i], "big") for i in range(ndim))
    if item_shape is not None and shape[1:] != item_shape:
        items = "x".join(map(str, shape[1:])) or "single values"
        expected_items = "x".join(map(str, item_shape)) or "single values"
        raise IDXFormatError(
            f"{path} holds items of {items}, expected {expected_items} (shape {shape})"
        )
    expected = header + math.prod(shape)
    # A plain file's size is known without reading it; a gzipped one is read up to one byte
    # past what the header promises, then counted.
    size = os.fstat(file.fileno()).st_size if isinstance(file, io.BufferedReader) else None
    payload = file.read(expected - header + 1) if size is None or size == expected else b""
    if size is None:
        size = (
            header
            + len(payload)
            + sum(len(chunk) for chunk in iter(lambda: file.read(1 << 20), b""))
        )
    if size != expected:
        problem = "truncated" if size < expected else "longer than its header says"
        raise IDXFormatError(
            f"{path} is {problem}: header says shape {shape} ({expected} bytes), "
            f"file has {size} bytes"
        )
    return np.frombuffer(payload, dtype=np.uint8).reshape(shape)


def write_idx(path: str | Path, array: np.ndarray) -> None:
    """Write a uint8 array as an IDX file (gzipped when the name ends in `.gz`)."""
    array = np.ascontiguousarray(array, dtype=np.uint8)
    header = (0x0800 + array.ndim).to_bytes(4, "big")
    header += b"".join(int(n).to_bytes(4, "big") for n in array.shape)
    payload = header + array.tobytes()
    path = Path(path)
    path.write_bytes(gzip.compress(payload) if path.suffix == ".gz" else payload)
