"""Running a command of the lab the way a user does: a subprocess with its own log dir."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from tests.helpers import ROOT


def run_cli(
    module: str,
    *arguments: str,
    log_dir: Path,
    data_dir: Path | None = None,
    code: str | None = None,
) -> subprocess.CompletedProcess:
    """`python -m <module> <arguments>` (or `python -c <code>`) from the repository root."""
    env = dict(os.environ, MNIST_LAB_LOG_DIR=str(log_dir), MPLBACKEND="Agg")
    if data_dir is not None:
        env["MNIST_LAB_DATA_DIR"] = str(data_dir)
    command = (
        [sys.executable, "-c", code, *arguments]
        if code
        else [sys.executable, "-m", module, *arguments]
    )
    return subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
