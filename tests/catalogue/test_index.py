"""index.md: the summary table, per-entry commands, targets, report tables and figures."""

from __future__ import annotations

from pathlib import Path

from mnist_lab.catalogue.index import render_index, seeds_per_setting
from mnist_lab.catalogue.runner import EntryResult, StepResult
from mnist_lab.catalogue.schema import Entry

from .conftest import entry_with, target


def test_index_shows_commands_targets_tables_and_figures_with_relative_links(
    sweep: StepResult,
) -> None:
    out = sweep.directory.parent.parent
    goal = target(metric="test/acc", where={"width": "64"}, at_least=0.975, what="wide enough")
    other = target(metric="test/acc", entry="E03", above=0.5, what="needs E03")
    entry = entry_with(goal, other)
    result = EntryResult(entry, out / entry.slug, [sweep], 75)
    missing = Entry("E03", "Not run", ())
    index = render_index(out, [entry, missing], {"E02": result}, {"commit": "abc"})
    assert "- commit: abc" in index
    assert "| E02 | [Width sweep](#e02_widths) | ok, but train: 1 of 3 runs failed" in index
    assert "| 1 min 15 s | 1 of 2 met, 1 missing |" in index
    assert "| E03 | [Not run](#e03) | not run yet | - | - |" in index
    assert "| wide enough (`test/acc [width=64] >= 0.975`) | " in index
    assert "| 0.9800 | **met** |" in index
    assert "missing: E03 was not run" in index
    assert "Some targets read the runs of [E03](#e03)." in index
    assert "![learning_curves.png](E02_widths/train/learning_curves.png)" in index
    assert "[log](E02_widths/train.log)" in index
    assert "| 1 | 64 |" in index  # the report's table


def test_the_index_gives_each_entry_its_seeds_and_names_the_single_seed_ones(
    sweep, tmp_path: Path
) -> None:
    result = EntryResult(entry_with(), sweep.directory.parent, [sweep])
    assert seeds_per_setting(result) == 1
    index = render_index(tmp_path, [result.entry], {"E02": result}, {})
    assert "| # | experiment | status | seeds | wall time | targets |" in index
    assert "One seed: E02 (thresholds on one model" in index
