"""The lab's own OmegaConf resolvers, registered when `mnist_lab` is imported.

Hydra saves a run's config with its interpolations unresolved, so whatever reads
`.hydra/config.yaml` back (evaluate, the report, resume) needs them as much as training does.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from omegaconf import ListConfig, OmegaConf


def first(count: int, items: Sequence[Any]) -> ListConfig:
    """`${lab.first:n,list}`: the first n items; a search's depth picks its per-layer widths."""
    if not isinstance(count, int) or isinstance(count, bool) or not 0 <= count <= len(items):
        raise ValueError(
            f"cannot take the first {count!r} of {len(items)} items; expected a count from 0 to "
            f"{len(items)}"
        )
    # A node, not a plain list: OmegaConf.resolve (Hydra's --resolve) keeps only nodes.
    return ListConfig(list(items[:count]))


def command_groups(choices: Mapping[str, Any]) -> list[str]:
    """The config groups a composed config chose from (`hydra.runtime.choices`), Hydra's aside."""
    return sorted(g for g in choices if g != "hydra" and not g.startswith("hydra/"))


def help_groups(choices: Mapping[str, Any]) -> str:
    """`${lab.help_groups:${hydra.runtime.choices}}`: `--help`'s config groups, one per line.

    Hydra's own list is every folder on the config path, so train's help offered the NumPy
    commands' `scratch` groups and evaluate's the model groups it refuses; a command's groups
    are those its composed defaults chose from (Hydra's own `hydra/` ones: `--hydra-help`).
    """
    from hydra.core.global_hydra import GlobalHydra

    loader = GlobalHydra.instance().config_loader()
    lines = []
    for group in command_groups(choices):
        options = sorted(loader.get_group_options(group))
        if options:
            lines.append(f"{group}: {', '.join(options)}")
    return "\n".join(lines) or "(none: set the config's keys below)"


def register_resolvers() -> None:
    """Register the resolvers above (once: importing twice is harmless)."""
    if not OmegaConf.has_resolver("lab.first"):
        OmegaConf.register_new_resolver("lab.first", first)
    if not OmegaConf.has_resolver("lab.help_groups"):
        OmegaConf.register_new_resolver("lab.help_groups", help_groups)
