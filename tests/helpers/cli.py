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
    command = (
        [sys.executable, "-c", code, *arguments]
        if code
        else [sys.executable, "-m", module, *arguments]
    )
    env = cli_environment(log_dir, data_dir)
    return subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)


def cli_environment(log_dir: Path, data_dir: Path | None = None, **extra: str) -> dict[str, str]:
    """The environment of a lab command run as a user runs it: its own log dir, the given data
    (else what the environment names), no display, and any `extra` variables."""
    env = dict(os.environ, MNIST_LAB_LOG_DIR=str(log_dir), MPLBACKEND="Agg", **extra)
    if data_dir is not None:
        env["MNIST_LAB_DATA_DIR"] = str(data_dir)
    return env


def start_cli(
    command: list[str], log_dir: Path, data_dir: Path | None = None, **extra: str
) -> subprocess.Popen:
    """`python <command>` from the repository root, started, not waited for (stdout and
    stderr piped: the caller's `communicate()` reads them)."""
    return subprocess.Popen(
        [sys.executable, *command],
        cwd=ROOT,
        env=cli_environment(log_dir, data_dir, **extra),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
