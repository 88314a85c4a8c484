"""What a run ran on: the versions of the libraries behind its numbers and the device's name.

CS155 set 4 §2A asks for the versions installed; every run records them in `metrics.json`
under `environment` and prints them. Versions are read from the installed packages' metadata,
so nothing is imported: the NumPy runs stay torch-free and `--help` stays fast.
"""

from __future__ import annotations

import platform
from collections.abc import Sequence
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import torch

# The distributions (as pip names them) each kind of run computes with.
LIGHTNING_LIBRARIES = ("torch", "lightning", "hydra-core", "numpy")
NUMPY_LIBRARIES = ("hydra-core", "numpy")


def cpu_name() -> str:
    """The CPU's model name (`AMD EPYC 7B13`) where the system tells it, else its architecture."""
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.is_file():
        for line in cpuinfo.read_text(errors="replace").splitlines():
            key, _, value = line.partition(":")
            if key.strip() == "model name" and value.strip():
                return value.strip()
    return platform.processor() or platform.machine() or "unknown CPU"


def torch_device_name(device: torch.device) -> str:
    """`cpu: <CPU model>`, `cuda: <GPU name>`, or the device type for others (`mps`)."""
    import torch

    if device.type == "cuda":
        return f"cuda: {torch.cuda.get_device_name(device)}"
    if device.type == "cpu":
        return f"cpu: {cpu_name()}"
    return device.type


def run_environment(
    libraries: Sequence[str], device: str | None = None, precision: str | None = None
) -> dict[str, str]:
    """Python's version, each library's installed version ("not installed" if absent), the
    device (by default this machine's CPU: the NumPy runs compute nowhere else) and, for a
    Lightning run, the precision it trained in and why (`bf16-mixed (auto: the CPU has AMX)`).
    """
    environment = {"python": platform.python_version()}
    for library in libraries:
        try:
            environment[library] = version(library)
        except PackageNotFoundError:
            environment[library] = "not installed"
    environment["device"] = device or f"cpu: {cpu_name()}"
    if precision is not None:
        environment["precision"] = precision
    return environment


def environment_line(environment: dict[str, str]) -> str:
    """`versions: python 3.12.3, torch 2.13.0+cpu, ...; device cpu: AMD EPYC` for the printout,
    then `; precision bf16-mixed (auto: the CPU has AMX)` where the run names one.
    """
    versions = ", ".join(
        f"{name} {value}"
        for name, value in environment.items()
        if name not in ("device", "precision")
    )
    line = f"versions: {versions}; device {environment.get('device', 'unknown')}"
    if "precision" in environment:
        line += f"; precision {environment['precision']}"
    return line
