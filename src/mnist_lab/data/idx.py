"""Reader for the IDX format that MNIST and Fashion-MNIST are distributed in (plain or gzipped)."""

from __future__ import annotations

import gzip
from pathlib import Path

import numpy as np

from mnist_lab import LabError

IMAGES_MAGIC = 0x00000803  # unsigned bytes, 3 dimensions
LABELS_MAGIC = 0x00000801  # unsigned bytes, 1 dimension


class IDXFormatError(LabError):
    """The file is not a valid IDX file of the expected kind."""


def read_idx(path: str | Path, expected_magic: int | None = None) -> np.ndarray:
    """Read an IDX file of unsigned bytes (`.gz` allowed) into a uint8 array of its shape."""
    path = Path(path)
    try:
        raw = gzip.decompress(path.read_bytes()) if path.suffix == ".gz" else path.read_bytes()
    except (OSError, EOFError, gzip.BadGzipFile) as error:
        raise IDXFormatError(f"cannot read {path}: {error}") from error
    if len(raw) < 4:
        raise IDXFormatError(f"{path} is {len(raw)} bytes long, too short for an IDX header")
    magic = int.from_bytes(raw[:4], "big")
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
    if len(raw) < header:
        raise IDXFormatError(f"{path} is truncated inside its header ({len(raw)} bytes)")
    shape = tuple(int.from_bytes(raw[4 + 4 * i : 8 + 4 * i], "big") for i in range(ndim))
    expected = header + int(np.prod(shape))
    if len(raw) != expected:
        problem = "truncated" if len(raw) < expected else "longer than its header says"
        raise IDXFormatError(
            f"{path} is {problem}: header says shape {shape} ({expected} bytes), "
            f"file has {len(raw)} bytes"
        )
    return np.frombuffer(raw, dtype=np.uint8, offset=header).reshape(shape)


def write_idx(path: str | Path, array: np.ndarray) -> None:
    """Write a uint8 array as an IDX file (gzipped when the name ends in `.gz`)."""
    array = np.ascontiguousarray(array, dtype=np.uint8)
    header = (0x0800 + array.ndim).to_bytes(4, "big")
    header += b"".join(int(n).to_bytes(4, "big") for n in array.shape)
    payload = header + array.tobytes()
    path = Path(path)
    path.write_bytes(gzip.compress(payload) if path.suffix == ".gz" else payload)
