"""CS155 set 4 §2A: what a run records about the libraries and the device it ran on."""

from __future__ import annotations

import platform

import numpy as np
import torch

from mnist_lab.runtime.environment import (
    LIGHTNING_LIBRARIES,
    environment_line,
    run_environment,
    torch_device_name,
)


def test_the_environment_names_each_library_installed_and_the_device() -> None:
    environment = run_environment((*LIGHTNING_LIBRARIES, "no-such-package-here"), "cuda: X")
    assert environment["python"] == platform.python_version()
    assert environment["torch"] == torch.__version__ and environment["numpy"] == np.__version__
    assert environment["no-such-package-here"] == "not installed"
    assert environment["device"] == "cuda: X"
    line = environment_line(environment)
    assert line.startswith(f"versions: python {platform.python_version()}, torch ")
    assert line.endswith("; device cuda: X")


def test_the_numpy_runs_default_to_the_cpu() -> None:
    device = run_environment(())["device"]
    assert device.startswith("cpu: ") and len(device) > len("cpu: ")
    assert torch_device_name(torch.device("cpu")) == device
