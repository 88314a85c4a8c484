"""Every yaml in conf/model/ and conf/data/ builds its objects and takes a training step.

The lists come from the folders, so a new model or dataset yaml is tested without editing here.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from mnist_lab.runtime.assemble import assemble
from tests.helpers import CONF_DIR

MODELS = sorted(p.stem for p in (CONF_DIR / "model").glob("*.yaml"))
DATASETS = sorted(p.stem for p in (CONF_DIR / "data").glob("*.yaml"))
# 2-D points, not images: only dense networks apply (the image models need 28x28 inputs)
POINT_DATASETS = {"toy2d"}


def _one_step(cfg) -> None:
    """Fit one training batch and check that the step changed the network's weights."""
    datamodule, model, trainer = assemble(cfg)
    before = [p.detach().clone() for p in model.parameters()]
    trainer.fit(model, datamodule=datamodule)
    assert trainer.global_step >= 1
    after = list(model.parameters())
    assert any(not torch.equal(b, a) for b, a in zip(before, after, strict=True))


@pytest.mark.parametrize("model", MODELS)
def test_every_model_yaml_builds_and_trains_one_step(train_config, tmp_path: Path, model: str):
    cfg = train_config(f"model={model}", "debug=fast_dev_run", "logger=none")
    if "mode_collapse" in cfg.callbacks:  # the GAN's judge: train it into this test's folder
        cfg.callbacks.mode_collapse.cache_dir = str(tmp_path / "judges")
        cfg.callbacks.mode_collapse.train_epochs = 1
    _one_step(cfg)


@pytest.mark.parametrize("data", DATASETS)
def test_every_data_yaml_builds_and_trains_one_step(train_config, data: str) -> None:
    model = "mlp" if data in POINT_DATASETS else "linear"
    _one_step(train_config(f"data={data}", f"model={model}", "debug=fast_dev_run", "logger=none"))
