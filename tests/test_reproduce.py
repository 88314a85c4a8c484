"""The reproduce command: --help and --dry-run stay light, bad input, one quick run end to end."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from mnist_lab.reproduce import main
from tests.helpers.cli import run_cli

HEAVY_IMPORTS_AFTER = """
import sys
from mnist_lab.reproduce import main
try:
    main(sys.argv[1:])
except SystemExit:
    pass
heavy = sorted(m for m in ("torch", "lightning", "torchmetrics") if m in sys.modules)
print("HEAVY:", ",".join(heavy) or "none")
"""


@pytest.mark.parametrize("arguments", [["--help"], ["--dry-run"], ["--dry-run", "--quick"]])
def test_help_and_dry_run_never_import_torch_or_lightning(tmp_path: Path, arguments) -> None:
    result = run_cli("", *arguments, log_dir=tmp_path, code=HEAVY_IMPORTS_AFTER)
    assert result.returncode == 0, result.stderr
    assert "HEAVY: none" in result.stdout
    assert not (tmp_path / "reproduce").exists()


def test_dry_run_prints_every_command_with_its_folder(tmp_path: Path, capsys) -> None:
    assert main(["--dry-run", "--only", "e13", "--out", str(tmp_path / "r")]) == 0
    printed = capsys.readouterr().out
    folder = tmp_path / "r" / "E13_fashion_mlp"
    assert f"hparams_search=fashion_mlp hydra.sweep.dir={folder / 'search'}" in printed
    # The retrain reads the search's result from the search step's folder.
    assert (
        f"from_search={folder / 'search'} seed=1,2,3 hydra.sweep.dir={folder / 'retrain'}"
        in printed
    )
    assert "planned:" in printed
    assert not (tmp_path / "r").exists()


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        (["--only", "E06,E99"], "error: --only 'E06,E99' names no experiment E99; choose from E01"),
        (["--jobs", "0"], "--jobs: '0' is not accepted; expected an integer >= 1"),
    ],
)
def test_bad_arguments_stop_with_one_line_and_status_2(
    tmp_path: Path, arguments: list[str], message: str
) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "mnist_lab.reproduce", *arguments, "--dry-run"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 2
    assert message in result.stderr


def test_quick_run_of_one_experiment_end_to_end(
    tmp_path: Path, tiny_data_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MNIST_LAB_DATA_DIR", str(tiny_data_dir))
    monkeypatch.setenv("MNIST_LAB_LOG_DIR", str(tmp_path / "outputs"))
    out = tmp_path / "reproduce"
    assert main(["--quick", "--only", "E12", "--out", str(out)]) == 0
    index = (out / "index.md").read_text()
    assert "| E12 | [Dying ReLU on data sorted by label](#e12_dying_relu) | ok |" in index
    assert "quick: not judged" in index and "**met**" not in index
    sweep = out / "E12_dying_relu" / "train"
    for member in ("0", "1"):
        assert json.loads((sweep / member / "metrics.json").read_text())["threads"] >= 1
    assert (sweep / "dead_units.png").stat().st_size > 10_000
    assert "![dead_units.png](E12_dying_relu/train/dead_units.png)" in index
    assert main(["--quick", "--only", "E12", "--out", str(out)]) == 2  # never overwrites
    # The index can be drawn again from what the run left, the same but for the line saying so.
    steps = json.loads((out / "E12_dying_relu" / "steps.json").read_text())
    assert [step["step"] for step in steps["steps"]] == ["train"]
    assert steps["steps"][0]["returncode"] == 0
    (out / "index.md").unlink()
    assert main(["--reindex", "--only", "E12", "--out", str(out)]) == 0
    again = (out / "index.md").read_text().splitlines()
    assert [line for line in again if line.startswith("- index drawn again: ")]
    assert [line for line in again if not line.startswith("- index drawn again: ")] == [
        line for line in index.splitlines()
    ]


def test_reindex_needs_a_finished_run(tmp_path: Path, capsys) -> None:
    assert main(["--reindex"]) == 2
    assert "--reindex needs --out" in capsys.readouterr().err
    assert main(["--reindex", "--out", str(tmp_path)]) == 2
    assert "holds no finished reproduce run (header.json missing)" in capsys.readouterr().err
