"""What a run shows in TensorBoard beside its scalars: the HParams, Custom Scalars and Text tabs,
and the name of its TensorBoard run.

HParams. TensorBoard takes the column list (the experiment summary) of the whole logdir from
the first run that has one and sorts it by (swept first, name); its table ticks the first five
hyperparameters and the first five metrics. So every run writes the same curated columns: its
own command-line overrides (marked as the ones that differ, so they sort first and are ticked),
then a fixed core that is the same for every model kind (a value a run does not have is left
out of its row, never 'None'); and as metrics, the existing scalar tags: its recipe's main
metric first, then its recipe's others, then every other recipe's, so that a `--logdir` holding
classifiers, autoencoders and GANs offers every kind's metrics. Torch-free apart from `write_*`.
"""

from __future__ import annotations

import hashlib
import json
import re
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from hydra.core.hydra_config import HydraConfig
from omegaconf import DictConfig, ListConfig, OmegaConf

from mnist_lab.runtime.cli import CONF_DIR
from mnist_lab.runtime.rundir import is_bookkeeping

HParamValue = bool | int | float | str

# The fixed core, in order: the config keys every run is compared on, plus what the run
# measured about itself (`model` is the model config's name, `params` the exact parameter
# count, `device` the device's name, `trainer.precision` Lightning's precision). One type per
# column, whatever the model kind: a list or a conv GAN's single `channels` is text.
CORE_HPARAMS: dict[str, type] = {
    "model": str,
    "model.net.hidden_dims": str,
    "model.net.channels": str,
    "model.net.code_size": float,
    "model.net.latent_dim": float,
    "model.net.generator_dims": str,
    "model.net.discriminator_dims": str,
    "data.name": str,
    "model.optimizer.name": str,
    "model.optimizer.lr": float,
    "model.optimizer.weight_decay": float,
    "data.batch_size": float,
    "trainer.max_epochs": float,
    "seed": float,
    "params": float,
    "device": str,
    "trainer.precision": str,
}
MEASURED = ("model", "params", "device", "trainer.precision")

# Longest TensorBoard run name; a longer one is cut and keeps a digest of the whole.
MAX_RUN_NAME = 80
_UNSAFE = re.compile(r"[^\w.,=+\-\[\]]")

RECIPE_DIR = CONF_DIR / "recipe"
HPARAMS_EVENTS_SUFFIX = ".hparams"


def run_overrides() -> list[str]:
    """The run's own command-line overrides that say what it computes (Hydra's task overrides
    without paths and bookkeeping); none outside a Hydra app (compose_config, notebooks)."""
    if not HydraConfig.initialized():
        return []
    return setting_overrides(HydraConfig.get().overrides.task)


def setting_overrides(overrides: Sequence[str]) -> list[str]:
    """`overrides` without deletions (`~key`) and bookkeeping (paths, `callbacks.*`, `threads`,
    `ckpt_path`, ...: `rundir.BOOKKEEPING_OVERRIDES`)."""
    return [o for o in overrides if "=" in o and not is_bookkeeping(_override_key(o))]


def _override_key(override: str) -> str:
    return override.split("=", 1)[0].lstrip("+~")


def run_name(overrides: Sequence[str], default: str = "run") -> str:
    """A short, filesystem-safe TensorBoard run name from the overrides: `lr=0.01,seed=2`.

    Keys by their last part unless two overrides share it; `default` when there are none.
    """
    pairs = [(_override_key(o), o.split("=", 1)[1]) for o in overrides]
    lasts = [key.rsplit(".", 1)[-1] for key, _ in pairs]
    shown = [
        f"{last if lasts.count(last) == 1 else key}={value}"
        for (key, value), last in zip(pairs, lasts, strict=True)
    ]
    name = _UNSAFE.sub("_", ",".join(shown)) or default
    if len(name) > MAX_RUN_NAME:
        digest = hashlib.sha1(name.encode()).hexdigest()[:8]
        name = f"{name[: MAX_RUN_NAME - 9]}~{digest}"
    return name


def default_run_name() -> str:
    """The name of a run without overrides: its experiment, else its model (`mlp`)."""
    if not HydraConfig.initialized():
        return "run"
    choices = HydraConfig.get().runtime.choices
    return str(choices.get("experiment") or choices.get("model") or "run")


def model_name(cfg: DictConfig) -> str:
    """The model config's name (`cnn`, `linear`) in a Hydra app, else the net's class name."""
    if HydraConfig.initialized() and HydraConfig.get().runtime.choices.get("model"):
        return str(HydraConfig.get().runtime.choices["model"])
    return str(cfg.model.net._target_).rsplit(".", 1)[-1]


def _value(node: Any) -> HParamValue | None:
    """A config value as the hparams plugin takes it: lists as short text, None left out."""
    if isinstance(node, ListConfig):
        return json.dumps(OmegaConf.to_container(node, resolve=True), separators=(",", ":"))
    if node is None or isinstance(node, DictConfig):
        return None
    return node


def _as(kind: type, value: HParamValue) -> HParamValue:
    """`value` in its core column's type: text columns take numbers as text."""
    return str(value) if kind is str and not isinstance(value, str) else value


def curated_hparams(
    cfg: DictConfig, overrides: Sequence[str], measured: Mapping[str, HParamValue]
) -> dict[str, HParamValue]:
    """The run's hparams row: its overrides in the order given, then the core (CORE_HPARAMS).

    `measured` holds the core values that are not config keys (MEASURED). An override naming
    a config group (`model=cnn`, `experiment=l2_sweep`) shows the option's name.
    """
    row: dict[str, HParamValue] = {}
    for override in overrides:
        key, given = _override_key(override), override.split("=", 1)[1]
        node = OmegaConf.select(cfg, key, default=given)
        value = given if isinstance(node, DictConfig) else _value(node)
        if value is not None:
            row[key] = _as(CORE_HPARAMS[key], value) if key in CORE_HPARAMS else value
    for key, kind in CORE_HPARAMS.items():
        if key in row:
            continue
        value = measured.get(key) if key in MEASURED else _value(OmegaConf.select(cfg, key))
        if value is not None:
            row[key] = _as(kind, value)
    return row


def _recipe_tags(recipe: DictConfig) -> list[str]:
    """A recipe's metrics: main, monitored and optimized, then its charts' plain tags."""
    tags = [recipe.get("main_metric"), recipe.get("monitor"), recipe.get("optimized_metric")]
    for patterns in (recipe.get("custom_scalars") or {}).values():
        tags += [p for p in patterns if re.escape(p) == p]
    return [t for t in tags if t]


def metric_tags(cfg: DictConfig, test_split: str = "test") -> list[str]:
    """The hparams metrics, all existing scalar tags: this recipe's main metric first, then its
    others, then every recipe's in conf/recipe/. `test/` becomes the data's test split name
    (a gate's rows are its truth table: `truth_table/acc`)."""
    own = [
        f"{test_split}/{tag.removeprefix('test/')}" if tag.startswith("test/") else tag
        for tag in _recipe_tags(cfg)
    ]
    others = [
        tag
        for path in sorted(RECIPE_DIR.glob("*.yaml"))
        for tag in _recipe_tags(OmegaConf.load(path))
    ]
    return list(dict.fromkeys([*own, *others]))


def config_markdown(cfg: DictConfig) -> str:
    """The composed config, resolved, as a YAML code block for TensorBoard's text tab."""
    return f"```yaml\n{OmegaConf.to_yaml(cfg, resolve=True)}```"


def chart_layout(charts: Mapping[str, Sequence[str]]) -> dict[str, dict[str, list]]:
    """Custom Scalars' layout (`SummaryWriter.add_custom_scalars`): one category, a chart per
    entry that overlays every tag matching its regular expressions (train and val).

    TensorBoard merges the runs' layouts, one chart per distinct title and tags.
    """
    return {"overlays": {title: ["Multiline", list(tags)] for title, tags in charts.items()}}


def experiment_summary(
    row: Mapping[str, HParamValue], overrides: Sequence[str], metrics: Sequence[str]
) -> Any:
    """The hparams plugin's experiment summary: every override and core column, the metrics.

    Columns this run lacks are listed too (with their core type): TensorBoard shows the first
    run's list for the whole logdir, and a column needs a type to be filtered.
    """
    from tensorboard.plugins.hparams import api_pb2, plugin_data_pb2

    swept = [_override_key(o) for o in overrides if _override_key(o) in row]
    kinds = {key: type(value) for key, value in row.items()}
    columns = dict.fromkeys([*swept, *CORE_HPARAMS])
    infos = []
    for key in columns:
        kind = kinds.get(key, CORE_HPARAMS.get(key, str))
        info = api_pb2.HParamInfo(name=key, differs=key in swept)
        if kind is bool:
            info.type = api_pb2.DATA_TYPE_BOOL
            info.domain_discrete.extend([False, True])
        elif kind is str:
            info.type = api_pb2.DATA_TYPE_STRING
        else:
            info.type = api_pb2.DATA_TYPE_FLOAT64
        infos.append(info)
    experiment = api_pb2.Experiment(
        hparam_infos=infos,
        metric_infos=[api_pb2.MetricInfo(name=api_pb2.MetricName(tag=tag)) for tag in metrics],
        time_created_secs=time.time(),
    )
    return plugin_data_pb2.HParamsPluginData(experiment=experiment)


def write_charts_and_config(writer: Any, cfg: DictConfig) -> None:
    """At the start: the recipe's Custom Scalars layout and the config in the text tab.

    `writer` is the TensorBoard logger's SummaryWriter.
    """
    writer.add_custom_scalars(chart_layout(cfg.get("custom_scalars") or {}))
    writer.add_text("config", config_markdown(cfg), global_step=0)


def write_hparams(
    log_dir: str | Path,
    cfg: DictConfig,
    measured: Mapping[str, HParamValue],
    test_split: str,
    started: float,
) -> Path:
    """Write the run's hparams (experiment, session start and end) into their own events file.

    `measured` holds `params`, `device` and `trainer.precision`; `started` is the run's start
    (seconds since the epoch). Written once, at the end, when the metrics exist. The file
    replaces an earlier attempt's (a resumed run): TensorBoard keeps the first session it reads
    in a run, so the run keeps exactly one, with the config it finished with.
    """
    from tensorboard.compat.proto.summary_pb2 import Summary
    from tensorboard.plugins.hparams import api_pb2, metadata, plugin_data_pb2
    from torch.utils.tensorboard import SummaryWriter

    overrides = run_overrides()
    row = curated_hparams(cfg, overrides, {"model": model_name(cfg), **measured})
    log_dir = Path(log_dir)
    for earlier in log_dir.glob(f"*tfevents*{HPARAMS_EVENTS_SUFFIX}"):
        earlier.unlink()
    start = plugin_data_pb2.SessionStartInfo(start_time_secs=started)
    for key, value in row.items():
        if isinstance(value, bool):
            start.hparams[key].bool_value = value
        elif isinstance(value, (int, float)):
            start.hparams[key].number_value = value
        else:
            start.hparams[key].string_value = value
    end = plugin_data_pb2.SessionEndInfo(status=api_pb2.STATUS_SUCCESS, end_time_secs=time.time())
    summaries = {
        metadata.EXPERIMENT_TAG: experiment_summary(row, overrides, metric_tags(cfg, test_split)),
        metadata.SESSION_START_INFO_TAG: plugin_data_pb2.HParamsPluginData(
            session_start_info=start
        ),
        metadata.SESSION_END_INFO_TAG: plugin_data_pb2.HParamsPluginData(session_end_info=end),
    }
    writer = SummaryWriter(str(log_dir), filename_suffix=HPARAMS_EVENTS_SUFFIX)
    try:
        for tag, data in summaries.items():
            summary = Summary()
            summary.value.add(
                tag=tag,
                metadata=metadata.create_summary_metadata(data),
                tensor=metadata.NULL_TENSOR,
            )
            writer._get_file_writer().add_summary(summary)
    finally:
        writer.close()
    (path,) = log_dir.glob(f"*tfevents*{HPARAMS_EVENTS_SUFFIX}")
    return path
