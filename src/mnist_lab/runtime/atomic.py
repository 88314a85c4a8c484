"""Files a reader sees either whole or not at all: checkpoints, metrics.json."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import BinaryIO


def atomic_write(path: str | Path, write: Callable[[BinaryIO], object]) -> Path:
    """Write `path` through `write(file)` into a temporary file beside it, fsync, rename.

    A process killed or failing midway leaves the previous file under the name (or none), never
    half a file; a temporary file beside the target makes the rename atomic (same filesystem).
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(temporary, 0o666 & ~umask)  # mkstemp makes it private; these files are not
        with os.fdopen(handle, "wb") as file:
            write(file)
            file.flush()
            os.fsync(file.fileno())
        os.replace(temporary, path)
    except OSError as error:
        Path(temporary).unlink(missing_ok=True)
        if error.filename is not None:
            raise
        # A full disk or a failing device says only why; the one-line error also says where.
        raise OSError(error.errno, error.strerror or str(error), str(path)) from error
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
    # The rename itself is only durable once the directory entry is on disk.
    directory = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(directory)
    finally:
        os.close(directory)
    return path


def atomic_write_text(path: str | Path, text: str) -> Path:
    """`atomic_write` for text (UTF-8)."""
    return atomic_write(path, lambda file: file.write(text.encode()))
