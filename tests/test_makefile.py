"""The Makefile: a bare `make` lists the targets with what they do, and installs nothing."""

from __future__ import annotations

import re
import shutil
import subprocess

import pytest

from tests.helpers import ROOT


@pytest.mark.skipif(shutil.which("make") is None, reason="make is not installed")
def test_a_bare_make_lists_every_target_with_its_comment() -> None:
    completed = subprocess.run(
        ["make", "-s"], cwd=ROOT, capture_output=True, text=True, check=False, timeout=30
    )
    assert completed.returncode == 0, completed.stderr
    listed = {line.split()[0] for line in completed.stdout.splitlines() if line.strip()}
    phony = re.search(r"^\.PHONY: (.*)$", (ROOT / "Makefile").read_text(), re.M)
    assert phony is not None
    assert listed == set(phony.group(1).split())
    # what a bare `make` would run: the listing, never the install
    dry_run = subprocess.run(
        ["make", "-n"], cwd=ROOT, capture_output=True, text=True, check=False, timeout=30
    )
    assert "grep" in dry_run.stdout and "pip" not in dry_run.stdout
