"""Shared fixtures: small generated IDX datasets, the real data folder, composed configs."""

from __future__ import annotations

import gzip
import hashlib
import http.server
import os
import threading
from dataclasses import replace
from functools import partial
from pathlib import Path

import numpy as np
import pytest
from hydra import compose, initialize_config_dir
from omegaconf import DictConfig, open_dict

from mnist_lab.data.datasets import DATASET_SPECS, FILE_STEMS, SPLIT_FILES
from mnist_lab.data.idx import write_idx

ROOT = Path(__file__).resolve().parents[1]
CONF_DIR = ROOT / "conf"


def make_images(labels: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """28x28 uint8 images whose class is a bright horizontal bar at row 2 + 2*label, plus noise."""
    images = rng.integers(0, 60, size=(len(labels), 28, 28), dtype=np.uint8)
    for i, label in enumerate(labels):
        row = 2 + 2 * int(label)
        images[i, row : row + 2, 4:24] = 255
    return images


def write_dataset(root: Path, folder: str, n_train: int, n_test: int, seed: int, gz: bool) -> None:
    """Write the four IDX files of a learnable toy dataset in torchvision's layout."""
    rng = np.random.default_rng(seed)
    raw = root / folder / "raw"
    raw.mkdir(parents=True, exist_ok=True)
    suffix = ".gz" if gz else ""
    for split, n in (("train", n_train), ("test", n_test)):
        labels = rng.integers(0, 10, size=n).astype(np.uint8)
        images_stem, labels_stem = SPLIT_FILES[split]
        write_idx(raw / f"{images_stem}{suffix}", make_images(labels, rng))
        write_idx(raw / f"{labels_stem}{suffix}", labels)


@pytest.fixture(scope="session")
def tiny_data_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """MNIST (plain files) and Fashion-MNIST (.gz files) with 600 train and 200 test images."""
    root = tmp_path_factory.mktemp("tiny_data")
    write_dataset(root, DATASET_SPECS["mnist"].folder, 600, 200, seed=1, gz=False)
    write_dataset(root, DATASET_SPECS["fashion_mnist"].folder, 600, 200, seed=2, gz=True)
    return root


@pytest.fixture(scope="session")
def real_data_dir() -> Path:
    """The real MNIST / Fashion-MNIST files (CI: ../shared/data); skips when absent."""
    candidates = [os.environ.get("MNIST_LAB_DATA_DIR"), ROOT.parent / "shared" / "data"]
    for candidate in candidates:
        if candidate and (Path(candidate) / "MNIST" / "raw").is_dir():
            return Path(candidate)
    pytest.skip("real MNIST files not found (set MNIST_LAB_DATA_DIR)")


def compose_config(
    config_name: str, overrides: list[str], output_dir: Path, data_dir: Path | None = None
) -> DictConfig:
    """Compose a real config from conf/ as Hydra would, pointed at a test folder."""
    with initialize_config_dir(str(CONF_DIR), version_base="1.3"):
        cfg = compose(config_name, overrides=overrides)
    with open_dict(cfg):
        cfg.paths.output_dir = str(output_dir)
        if data_dir is not None:
            cfg.paths.data_dir = str(data_dir)
    return cfg


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
