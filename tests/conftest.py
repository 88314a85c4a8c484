"""Shared fixtures: small generated IDX datasets, the real data folder, composed configs."""

from __future__ import annotations

import gzip
import hashlib
import http.server
import os
import shutil
import threading
from dataclasses import replace
from functools import partial
from pathlib import Path

import pytest
from omegaconf import DictConfig

from mnist_lab.data.datasets import DATASET_SPECS, FILE_STEMS
from tests.helpers import ROOT, compose_config
from tests.helpers.data import write_dataset


@pytest.fixture(scope="session")
def tiny_data_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """MNIST (plain files) and Fashion-MNIST (.gz files) with 600 train and 200 test images."""
    root = tmp_path_factory.mktemp("tiny_data")
    write_dataset(root, DATASET_SPECS["mnist"].folder, 600, 200, seed=1, gz=False)
    write_dataset(root, DATASET_SPECS["fashion_mnist"].folder, 600, 200, seed=2, gz=True)
    return root


@pytest.fixture
def broken_copy(tmp_path: Path, tiny_data_dir: Path) -> Path:
    """A copy of the tiny dataset's folder that a test may break; returns its MNIST/raw."""
    shutil.copytree(tiny_data_dir / "MNIST", tmp_path / "data" / "MNIST")
    return tmp_path / "data" / "MNIST" / "raw"


@pytest.fixture(scope="session")
def real_data_dir() -> Path:
    """The real MNIST / Fashion-MNIST files (CI: ../shared/data); skips when absent."""
    candidates = [os.environ.get("MNIST_LAB_DATA_DIR"), ROOT.parent / "shared" / "data"]
    for candidate in candidates:
        if candidate and (Path(candidate) / "MNIST" / "raw").is_dir():
            return Path(candidate)
    pytest.skip("real MNIST files not found (set MNIST_LAB_DATA_DIR)")


@pytest.fixture
def train_config(tmp_path: Path, tiny_data_dir: Path):
    """Factory: the composed train config on the tiny data, writing into tmp_path."""

    def make(*overrides: str, run: str = "run") -> DictConfig:
        return compose_config("train", list(overrides), tmp_path / run, tiny_data_dir)

    return make


class _MirrorHandler(http.server.SimpleHTTPRequestHandler):
    """Serves the mirror folder; under /drop/ it hangs up halfway through the file."""

    def do_GET(self) -> None:
        if not self.path.startswith("/drop/"):
            return super().do_GET()
        payload = (Path(self.directory) / self.path.removeprefix("/drop/")).read_bytes()
        self.send_response(200)
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload[: len(payload) // 2])
        self.close_connection = True

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def local_mirror(tmp_path: Path, tiny_data_dir: Path):
    """An HTTP server on 127.0.0.1 serving the tiny MNIST files gzipped, like the real mirrors.

    Its `/drop/` mirror sends each file's headers and half its bytes, then closes the connection.
    """
    served = tmp_path / "mirror"
    served.mkdir()
    md5 = {}
    for stem in FILE_STEMS:
        payload = gzip.compress((tiny_data_dir / "MNIST" / "raw" / stem).read_bytes())
        (served / f"{stem}.gz").write_bytes(payload)
        md5[stem] = hashlib.md5(payload).hexdigest()
    server = http.server.ThreadingHTTPServer(
        ("127.0.0.1", 0), partial(_MirrorHandler, directory=str(served))
    )
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    spec = replace(
        DATASET_SPECS["mnist"], mirrors=(f"http://127.0.0.1:{server.server_port}/",), gz_md5=md5
    )
    yield spec
    server.shutdown()
