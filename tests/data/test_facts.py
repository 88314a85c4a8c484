"""CS155 set 4 §2B's data facts: counts per split and class, pixel range, mean and std."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from mnist_lab.data.datasets import DATASET_SPECS, load_split
from mnist_lab.data.facts import SPLITS, data_facts, facts_markdown, pixel_facts


def test_pixel_facts_match_numpy_on_the_scaled_pixels() -> None:
    images = np.random.default_rng(0).integers(3, 200, size=(25_000, 4, 4), dtype=np.uint8)
    facts = pixel_facts(images)  # more images than one chunk, so the chunks are added up
    scaled = images / 255.0
    assert (facts["min"], facts["max"]) == (images.min(), images.max())
    assert facts["mean"] == pytest.approx(scaled.mean(), rel=1e-12)
    assert facts["std"] == pytest.approx(scaled.std(), rel=1e-12)


def test_facts_count_the_official_files_and_the_labs_split(tiny_data_dir: Path) -> None:
    spec = DATASET_SPECS["fashion_mnist"]
    facts = data_facts(spec, tiny_data_dir, 0.1, "random", 12345, subset_size=100)
    train_images, train_labels = load_split(spec, tiny_data_dir, "train")
    _, test_labels = load_split(spec, tiny_data_dir, "test")
    assert (facts["image/channels"], facts["image/height"], facts["image/width"]) == (1, 28, 28)
    assert (facts["official_train/images"], facts["official_test/images"]) == (600, 200)
    # 10% of the 600 training images for validation; the training part cut to its first 100
    assert (facts["train/images"], facts["val/images"], facts["test/images"]) == (100, 60, 200)
    for split in SPLITS:
        per_class = [facts[f"{split}/class_{i}"] for i in range(10)]
        assert sum(per_class) == facts[f"{split}/images"]
    assert [facts[f"official_test/class_{i}"] for i in range(10)] == list(
        np.bincount(test_labels, minlength=10)
    )
    assert facts["official_train/pixel_max"] == 255  # the generated class bar
    assert facts["official_train/pixel_mean"] == pytest.approx((train_images / 255).mean())
    table = facts_markdown(facts, spec, "data.val_fraction=0.1")
    assert "| official_train | 600 | 0 | 255 |" in table
    assert "| 9 Ankle boot |" in table and "data.val_fraction=0.1" in table


def test_the_last_split_keeps_cs7643s_first_80_percent(tiny_data_dir: Path) -> None:
    facts = data_facts(DATASET_SPECS["mnist"], tiny_data_dir, 0.2, "last", 0)
    assert (facts["train/images"], facts["val/images"]) == (480, 120)


@pytest.mark.slow
@pytest.mark.parametrize("name", ["mnist", "fashion_mnist"])
def test_real_facts_are_the_published_ones(real_data_dir: Path, name: str) -> None:
    spec = DATASET_SPECS[name]
    facts = data_facts(spec, real_data_dir, 0.1, "random", 12345)
    assert (facts["official_train/images"], facts["official_test/images"]) == (60000, 10000)
    assert (facts["train/images"], facts["val/images"]) == (54000, 6000)
    assert (facts["official_train/pixel_min"], facts["official_train/pixel_max"]) == (0, 255)
    # the constants the lab standardises with are these files' own
    assert facts["official_train/pixel_mean"] == pytest.approx(spec.mean, abs=5e-5)
    assert facts["official_train/pixel_std"] == pytest.approx(spec.std, abs=5e-5)
