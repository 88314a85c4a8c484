"""What training and evaluation share: building objects from config and recording results."""

from __future__ import annotations

import os
import warnings
from typing import Any

import lightning as L
import torch
from hydra.core.hydra_config import HydraConfig
from hydra.errors import InstantiationException
from hydra.utils import instantiate
from lightning.fabric.utilities.exceptions import MisconfigurationException
from lightning.pytorch.loggers import Logger
from omegaconf import DictConfig, OmegaConf

from mnist_lab import LabError
from mnist_lab.runtime.console import quiet_lightning
from mnist_lab.runtime.precision import choose_precision
from mnist_lab.runtime.rules import check_network


def build_trainer(
    cfg: DictConfig,
    callbacks: list[L.Callback],
    loggers: list[Logger] | bool,
    net: str | None = None,
) -> L.Trainer:
    """The Trainer from `cfg.trainer`, `precision: auto` resolved for this machine and the
    network class `net` (default: `cfg.model.net`'s; runtime/precision.py); an unusable device
    becomes a one-line error.
    """
    quiet_lightning()
    net = net or OmegaConf.select(cfg, "model.net._target_")
    precision = choose_precision(cfg.trainer, net).precision
    try:
        return instantiate(cfg.trainer, callbacks=callbacks, logger=loggers, precision=precision)
    except InstantiationException as error:
        cause = error.__cause__
        if isinstance(cause, MisconfigurationException):
            raise LabError(
                f"trainer.accelerator={cfg.trainer.accelerator!r} cannot be used here: {cause} "
                f"(choose cpu, or auto to use a GPU only when there is one)"
            ) from None
        raise


def assemble(cfg: DictConfig) -> tuple[L.LightningDataModule, L.LightningModule, L.Trainer]:
    """Seed, then build the data (loaded and checked), the model and the trainer of a run."""
    # Lightning 2.6 with torch 2.13 warns about its own use of a deprecated torch API each run.
    warnings.filterwarnings("ignore", message=r".*isinstance\(treespec, LeafSpec\)")
    # Under DDP, Lightning suggests sync_dist for epoch values logged as tensors; the lab's come
    # from torchmetrics' compute(), already summed over the ranks, or are the same on every rank
    # (the epoch time is rank 0's own).
    warnings.filterwarnings("ignore", message=r".*when logging on epoch level in distributed")
    # Short epochs get a shorter interval (callbacks.StepLogInterval), set after this warning.
    warnings.filterwarnings("ignore", message=r".*smaller than the logging interval")
    configure_threads(cfg.get("threads"))
    L.seed_everything(cfg.seed, workers=True, verbose=False)
    datamodule = instantiate(cfg.data)
    # A network that cannot take the data's shape, does not fit in memory or breaks the
    # experiment's limits fails here, built on the meta device before any data loads.
    check_network(
        cfg.model.net, datamodule.input_shape, datamodule.num_classes, cfg.get("constraints")
    )
    # Missing or corrupt data fails here, before any logger or checkpoint writes to the run dir.
    datamodule.prepare_data()
    datamodule.setup("fit")
    model = instantiate(
        cfg.model,
        num_classes=datamodule.num_classes,
        input_shape=list(datamodule.input_shape),
        _recursive_=False,
        _convert_="all",  # plain dicts and lists in the checkpoint's hparams
    )
    loggers = instantiate_all(cfg.get("logger"))
    callbacks = instantiate_all(cfg.get("callbacks"))
    trainer = build_trainer(cfg, callbacks, loggers)
    return datamodule, model, trainer


def configure_threads(threads: int | None) -> None:
    """Set torch's intra-op threads; by default split the cores among joblib sweep members."""
    if threads is None and HydraConfig.initialized():
        launcher = HydraConfig.get().launcher
        if "joblib" in str(launcher.get("_target_", "")):
            cores = os.cpu_count() or 1
            n_jobs = launcher.get("n_jobs") or -1
            n_jobs = cores if n_jobs < 1 else min(n_jobs, cores)
            threads = max(1, cores // n_jobs)
    if threads:
        torch.set_num_threads(threads)


def instantiate_all(group: DictConfig | None) -> list[Any]:
    """Instantiate every entry of a config group that is a dict of `_target_` nodes."""
    if not group:
        return []
    return [instantiate(node) for node in group.values() if node and "_target_" in node]


def scalar_metrics(metrics: dict[str, Any]) -> dict[str, float]:
    """Plain floats from Lightning's callback metrics (tensors on any device)."""
    return {key: float(value) for key, value in metrics.items()}


def flat_config(cfg: DictConfig) -> dict[str, Any]:
    """The composed config as `a.b.c: value` pairs, for TensorBoard's hparams tab."""
    flat: dict[str, Any] = {}

    def walk(node: Any, prefix: str) -> None:
        if isinstance(node, dict):
            for key, value in node.items():
                if not str(key).startswith("_"):
                    walk(value, f"{prefix}{key}.")
        else:
            flat[prefix[:-1]] = str(node) if isinstance(node, list) or node is None else node

    walk(OmegaConf.to_container(cfg, resolve=True), "")
    return flat
