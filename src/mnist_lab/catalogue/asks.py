"""Every ask of the five course assignments (`asks.yaml`) and what answers it, for the index."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import yaml

from mnist_lab import LabError
from mnist_lab.catalogue.judge import Verdict, judge
from mnist_lab.catalogue.runner import EntryResult
from mnist_lab.catalogue.schema import Entry

ASKS = Path(__file__).resolve().with_name("asks.yaml")
ASK_KEYS = {"course", "section", "ask", "answered_by", "how", "not_answered"}


@dataclass(frozen=True)
class Ask:
    """One ask of an assignment: where it is, and the entries that answer it or why none does."""

    course: str
    section: str
    ask: str
    answered_by: tuple[str, ...] = ()
    how: str = ""
    not_answered: str = ""

    @property
    def key(self) -> str:
        """`CS155 set 4 §3D`: what a catalogue target's `assignment` names to judge this ask."""
        return f"{self.course} {self.section}"


def load_asks(entries: Mapping[str, Entry], path: str | Path = ASKS) -> list[Ask]:
    """Read and check the asks against the catalogue's `entries`; LabError names a bad one."""
    path = Path(path)
    data = yaml.safe_load(path.read_text()) or {}
    courses = data.get("courses") or {}
    asks = []
    for number, spec in enumerate(data.get("asks") or [], start=1):
        where = f"{path.name}, ask {number}"
        unknown = set(spec) - ASK_KEYS
        if unknown:
            raise LabError(f"{where}: unknown key {', '.join(sorted(unknown))}")
        if spec.get("course") not in courses:
            raise LabError(
                f"{where}: course {spec.get('course')!r}; choose from {', '.join(courses)}"
            )
        ask = Ask(
            course=str(spec["course"]),
            section=str(spec.get("section", "")),
            ask=str(spec.get("ask", "")),
            answered_by=tuple(str(entry) for entry in spec.get("answered_by") or ()),
            how=str(spec.get("how", "")),
            not_answered=str(spec.get("not_answered", "")),
        )
        if bool(ask.answered_by) == bool(ask.not_answered):
            raise LabError(f"{where} ({ask.key}): give answered_by or not_answered, one of them")
        missing = [entry for entry in ask.answered_by if entry not in entries]
        if missing:
            raise LabError(f"{where} ({ask.key}): no entry {', '.join(missing)} in the catalogue")
        asks.append(ask)
    keys = [ask.key for ask in asks]
    twice = sorted({key for key in keys if keys.count(key) > 1})
    if twice:
        raise LabError(f"{path.name}: {', '.join(twice)} listed twice")
    return asks


def ask_verdict(
    ask: Ask, entries: Mapping[str, Entry], results: Mapping[str, EntryResult], quick: bool
) -> tuple[str, list[Verdict]]:
    """The ask's outcome in words and the verdicts of the targets that judge it.

    The targets of any entry whose `assignment` names the ask judge it; an ask without one is
    `reported` once its entries ran.
    """
    if ask.not_answered:
        return f"not answered ({ask.not_answered})", []
    verdicts = [
        judge(target, results, entry.id, quick)
        for entry in entries.values()
        for target in entry.targets
        if target.assignment == ask.key
    ]
    ran = [results[entry] for entry in ask.answered_by if entry in results]
    if not ran:
        return "not run", verdicts
    if verdicts:
        return "", verdicts
    failed = [result.entry.id for result in ran if result.status.startswith("failed")]
    return (f"failed ({', '.join(failed)})" if failed else "reported"), verdicts
