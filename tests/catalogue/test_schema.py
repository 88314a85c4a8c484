"""The catalogue's schema: the real catalogue loads and covers every experiment; bad ones fail."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from mnist_lab.catalogue.schema import load_catalogue
from tests.helpers import CONF_DIR

CATALOGUE = load_catalogue()
# Experiment yamls the catalogue leaves out on purpose, with the reason.
LEFT_OUT = {
    "cnn_fast": "a faster recipe for E07's CNN; its timings belong to the speed benchmark",
    "cnn_gpu": "a GPU recipe: the catalogue runs on the CPU, benchmarks/gpu_check.sh times it",
}


def test_catalogue_covers_every_experiment_yaml_and_plans_under_36_minutes() -> None:
    named = {
        argument.split("=", 1)[1]
        for entry in CATALOGUE.entries.values()
        for step in entry.steps
        for argument in step.arguments
        if argument.startswith(("experiment=", "hparams_search="))
    }
    named = {name for value in named for name in value.split(",")}
    yamls = {p.stem for p in (CONF_DIR / "experiment").glob("*.yaml")}
    assert yamls - named - set(LEFT_OUT) == set()
    assert {p.stem for p in (CONF_DIR / "hparams_search").glob("*.yaml")} <= named
    # Two experiments at a time on the 2-core CPU, plus about 2 minutes of process start-up
    # and reports. Every comparison over 3 seeds (issue 12) took it past the old 30 minutes
    # (29 min measured, 31 planned); the speed issue is to bring it back, and until then 36
    # minutes is the ceiling.
    assert sum(entry.expected_s for entry in CATALOGUE.entries.values()) / 2 < 34 * 60
    ids = list(CATALOGUE.entries)
    assert ids == sorted(ids) and ids[0] == "E01"


def test_a_malformed_catalogue_is_refused_naming_the_entry(tmp_path: Path) -> None:
    path = tmp_path / "catalogue.yaml"
    entry = {"id": "E01", "steps": {"train": "train"}, "targets": [{"metric": "test/acc"}]}
    entry["targets"][0].update(at_least=0.9, above=0.8)
    path.write_text(yaml.safe_dump({"experiments": [entry]}))
    with pytest.raises(Exception, match="E01 target 1: give one of .*not at_least, above"):
        load_catalogue(path)
    entry["targets"][0] = {"metric": "test/acc", "above": {"entry": "E99", "metric": "x"}}
    path.write_text(yaml.safe_dump({"experiments": [entry]}))
    with pytest.raises(Exception, match="E01: no entry 'E99'"):
        load_catalogue(path)


def test_only_an_entry_with_a_validation_accuracy_target_draws_a_threshold() -> None:
    """CS156 §2's 97% belongs to E02's report; Fashion, autoencoder and GAN reports have none."""
    drawn = {
        entry.id: entry.accuracy_threshold(step)
        for entry in CATALOGUE.entries.values()
        for step in entry.steps
        if entry.accuracy_threshold(step) is not None
    }
    assert drawn == {"E02": 0.97}
