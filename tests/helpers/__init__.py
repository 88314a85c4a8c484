"""What the tests share besides fixtures: the repository's paths and composing real configs."""

from __future__ import annotations

from pathlib import Path

from hydra import compose, initialize_config_dir
from omegaconf import DictConfig, open_dict

ROOT = Path(__file__).resolve().parents[2]
CONF_DIR = ROOT / "conf"


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
