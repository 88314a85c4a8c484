"""The judge: targets measured on fake runs, met, not met, reported or missing with the reason."""

from __future__ import annotations

import pytest

from mnist_lab.catalogue.judge import judge
from mnist_lab.catalogue.runner import EntryResult, StepResult

from .conftest import entry_with, target


@pytest.mark.parametrize(
    ("spec", "quick", "measured", "status"),
    [
        ({"metric": "test/acc", "where": {"width": "64"}, "at_least": 0.975}, False, 0.98, "met"),
        (
            {"metric": "test/acc", "where": {"width": "8"}, "at_least": 0.975},
            False,
            0.90,
            "not met",
        ),
        (
            {"metric": "test/acc", "where": {"width": "8"}, "at_least": 0.975},
            True,
            0.90,
            "quick: not judged",
        ),
        ({"metric": "test/acc", "over": "max"}, False, 0.98, "reported"),
        (
            {"metric": "params", "over": "min", "among": {"metric": "val/acc_best", "above": 0.97}},
            False,
            900,
            "reported",
        ),
        ({"metric": "params", "over": "count", "at_least": 3}, False, 2, "not met"),
        (
            {
                "metric": "test/acc",
                "where": {"width": "64"},
                "above": {"metric": "test/acc", "where": {"width": "8"}},
            },
            False,
            0.98,
            "met",
        ),
        (
            {"metric": "test/loss", "where": {"width": "64"}, "below": 1},
            False,
            None,
            "missing: no finished run with test/loss (none has it)",
        ),
        (
            {"metric": "test/acc", "where": {"width": "1024"}, "above": 0.5},
            False,
            None,
            "missing: no finished run with test/acc (run 2 failed: loss became nan at step 3)",
        ),
        (
            {"metric": "params", "over": "min", "among": {"metric": "val/acc_best", "above": 0.99}},
            False,
            None,
            "missing: no finished run with val/acc_best > 0.99",
        ),
        (
            {"metric": "test/acc", "where": {"width": "3"}, "above": 0.5},
            False,
            None,
            "missing: no run of E02 train with width=3",
        ),
        (
            {"metric": "test/acc", "above": 0.5},
            False,
            None,
            "missing: 3 runs match; the catalogue must say `where` or `over`",
        ),
        (
            {
                "metric": "test/acc",
                "where": {"width": "64"},
                "above": {"entry": "E02", "step": "nope", "metric": "test/acc"},
            },
            False,
            0.98,
            "missing: E02 has no step nope",
        ),
    ],
)
def test_judging_targets_on_fake_runs(
    sweep: StepResult, spec: dict, quick: bool, measured: float | None, status: str
) -> None:
    result = EntryResult(entry_with(), sweep.directory.parent, [sweep])
    verdict = judge(target(**spec), {"E02": result}, "E02", quick)
    assert verdict.status == status
    assert verdict.measured == (pytest.approx(measured) if measured is not None else None)
