"""The lab's own OmegaConf resolvers, registered when `mnist_lab` is imported.

Hydra saves a run's config with its interpolations unresolved, so whatever reads
`.hydra/config.yaml` back (evaluate, the report, resume) needs them as much as training does.
"""

from __future__ import annotations

from collections.abc import Sequence
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


def register_resolvers() -> None:
    """Register the resolvers above (once: importing twice is harmless)."""
    if not OmegaConf.has_resolver("lab.first"):
        OmegaConf.register_new_resolver("lab.first", first)
