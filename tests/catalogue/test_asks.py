"""The assignments' asks: the real list loads against the catalogue, and the index judges each."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from mnist_lab.catalogue.asks import Ask, load_asks
from mnist_lab.catalogue.index import ask_kind, asks_summary, asks_table, render_index
from mnist_lab.catalogue.judge import Verdict
from mnist_lab.catalogue.runner import EntryResult, StepResult
from mnist_lab.catalogue.schema import load_catalogue
from tests.helpers import ROOT

from .conftest import entry_with, target

CATALOGUE = load_catalogue()
ASKS = load_asks(CATALOGUE.entries)
COURSES = ("CS156 bonus", "CS155 set 4", "APML ex3", "CS7643 A1", "CS541 HW3")


def test_every_course_lists_its_asks_and_the_theory_left_to_people() -> None:
    assert {ask.course for ask in ASKS} == set(COURSES)
    assert len(ASKS) >= 50
    assert all(ask.answered_by or ask.not_answered for ask in ASKS)
    derivations = [ask for ask in ASKS if "derivation" in ask.not_answered]
    assert {ask.course for ask in derivations} >= {"CS156 bonus", "CS7643 A1", "CS541 HW3"}


def test_every_target_of_the_catalogue_names_an_ask() -> None:
    keys = {ask.key for ask in ASKS}
    named = {
        (entry.id, target.assignment)
        for entry in CATALOGUE.entries.values()
        for target in entry.targets
    }
    assert {(entry, assignment) for entry, assignment in named if assignment not in keys} == set()
    # and every ask answered by an experiment names experiments that exist
    assert all(entry in CATALOGUE.entries for ask in ASKS for entry in ask.answered_by)


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        (
            {"course": "CS999", "section": "§1", "ask": "x", "answered_by": ["E01"]},
            "course 'CS999'",
        ),
        ({"course": "A", "section": "§1", "ask": "x"}, "give answered_by or not_answered"),
        ({"course": "A", "section": "§1", "ask": "x", "answered_by": ["E77"]}, "no entry E77"),
        ({"course": "A", "section": "§1", "asks": "x", "not_answered": "w"}, "unknown key asks"),
    ],
)
def test_a_malformed_ask_is_refused_naming_it(tmp_path: Path, spec: dict, message: str) -> None:
    path = tmp_path / "asks.yaml"
    path.write_text(yaml.safe_dump({"courses": {"A": "a course"}, "asks": [spec]}))
    with pytest.raises(Exception, match=message):
        load_asks(CATALOGUE.entries, path)


def test_each_ask_gets_its_targets_verdict_or_reported_or_why_not(sweep: StepResult) -> None:
    judged = entry_with(
        target(metric="test/acc", where={"width": "64"}, at_least=0.975, assignment="A §2"),
        target(metric="test/acc", where={"width": "8"}, at_least=0.975, assignment="A §3"),
    )
    results = {"E02": EntryResult(judged, sweep.directory.parent, [sweep])}
    entries = {"E02": judged}
    asks = [
        Ask("A", "§2", "met ask", ("E02",)),
        Ask("A", "§3", "failed ask", ("E02",)),
        Ask("A", "§4", "no target", ("E02",)),
        Ask("A", "§5", "derive it", not_answered="a derivation"),
        Ask("A", "§6", "elsewhere", ("E07",)),
    ]
    table, kinds = asks_table(asks, entries, results, quick=False)
    assert kinds == ["met", "not met", "reported", "not answered", "not run"]
    assert "| A | §2 | met ask | [E02](#e02_widths) | 1 of 1 met |" in table
    assert "| A | §5 | derive it | - | not answered (a derivation) |" in table
    summary = asks_summary(kinds)
    assert summary == "5 asks: 1 met, 1 not met, 1 reported, 1 not answered, 1 not run"
    index = render_index(Path("."), [judged], results, {}, asks=asks)
    assert '<a id="asks"></a>' in index and summary in index


def test_docs_assignments_lists_the_same_asks_by_course_and_section() -> None:
    """docs/assignments.md explains each ask; asks.yaml judges it: neither may drop one."""
    documented, course = set(), None
    for line in (ROOT / "docs" / "assignments.md").read_text().splitlines():
        if line.startswith("## "):
            course = next((c for c in COURSES if line.startswith(f"## {c} (")), None)
        elif course and line.startswith("| ") and not line.startswith("| section |"):
            documented.add(f"{course} {line.split('|')[1].strip()}")
    assert documented == {ask.key for ask in ASKS}


@pytest.mark.parametrize(
    ("statuses", "kind"),
    [
        (["met", "met"], "met"),
        (["met", "not met", "not resolved at n=3 vs 3"], "not met"),
        (["met", "not resolved at n=3"], "not resolved"),
        (["met", "missing: E13 was not run"], "missing"),
        (["reported"], "reported"),
        (["quick: not judged"], "quick"),
    ],
)
def test_an_ask_is_met_only_when_every_target_is(statuses: list[str], kind: str) -> None:
    assert ask_kind("", [Verdict(0.5, status) for status in statuses]) == kind
