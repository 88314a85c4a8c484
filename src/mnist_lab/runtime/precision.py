"""Which floating-point precision a run trains in: `trainer.precision`, with `auto` per machine.

`auto` (the default) picks bf16-mixed on a CPU with native bf16 matrix instructions (AMX, or
AVX512-BF16), 32 on other CPUs, and the usual mixed precision on a GPU: bf16-mixed where the GPU
supports it, else 16-mixed. On a CPU with AVX512-BF16 and no AMX (2 cores, one thread),
bf16-mixed took 0.82x the fp32 time per training step for cnn_fast, 0.92x for E7's CNN and 0.65x
for the default MLP, so the rule asks for either instruction set, not AMX alone. The convnets'
accuracies stayed within seed noise; the MLP's validation accuracy did not, so dense nets keep
fp32 (FP32_NETS; README, Speed). Autocast without those instructions emulates bf16 and is
slower than fp32, hence 32 there.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mnist_lab import LabError

if TYPE_CHECKING:
    import torch

AUTO = "auto"
# /proc/cpuinfo flag -> the name the printout gives it
BF16_CPU_FLAGS = {"amx_bf16": "AMX", "avx512_bf16": "AVX512-BF16"}
# fp16 autocast has no fast CPU kernels; Lightning would silently switch to bf16
GPU_ONLY = ("16", "16-mixed", "16-true")
# Nets that auto keeps in fp32 on a CPU: bf16 moved the default MLP's best validation accuracy
# beyond seed noise (0.9780 +- 0.0011 in fp32, 0.9769 +- 0.0006 in bf16, n=3, Welch p = 0.03).
FP32_NETS = {"mnist_lab.nets.mlp.MLP": "dense nets"}


@dataclass(frozen=True)
class PrecisionChoice:
    """The precision a run trains in and why: `bf16-mixed`, `auto: the CPU has AMX`."""

    precision: str
    reason: str

    def autocast(self, device_type: str) -> torch.autocast:
        """The forward pass's context in a hand-written loop that trains as this precision does
        (the benchmarks' plain loops; 16-mixed would also need a gradient scaler).
        """
        import torch

        mixed = {"bf16-mixed": torch.bfloat16, "16-mixed": torch.float16}
        dtype = mixed.get(self.precision, torch.float32)
        return torch.autocast(device_type, dtype, enabled=self.precision in mixed)

    def summary(self) -> str:
        """`bf16-mixed (auto: the CPU has AVX512-BF16)`, as the run records and prints it."""
        return f"{self.precision} ({self.reason})"


def cpu_flags(cpuinfo: Path = Path("/proc/cpuinfo")) -> set[str]:
    """The CPU's feature flags as the kernel lists them (empty where there is no /proc/cpuinfo)."""
    if not cpuinfo.is_file():
        return set()
    for line in cpuinfo.read_text(errors="replace").splitlines():
        key, _, value = line.partition(":")
        if key.strip() == "flags":
            return set(value.split())
    return set()


def uses_gpu(accelerator: str) -> bool:
    """Whether `trainer.accelerator` puts the run on a CUDA GPU (`auto` does when there is one)."""
    if accelerator in ("gpu", "cuda"):
        return True
    if accelerator == AUTO:
        import torch

        return torch.cuda.is_available()
    return False


def auto_precision(
    accelerator: str, flags: set[str] | None = None, net: str | None = None
) -> PrecisionChoice:
    """What `trainer.precision=auto` means on this machine for `accelerator` and the network
    class `net` (its `_target_`)."""
    if uses_gpu(accelerator):
        import torch

        if torch.cuda.is_available() and torch.cuda.is_bf16_supported():
            return PrecisionChoice("bf16-mixed", "auto: the GPU supports bf16")
        return PrecisionChoice("16-mixed", "auto: the GPU has no bf16")
    if accelerator not in ("cpu", AUTO):
        return PrecisionChoice("32-true", f"auto: no mixed precision chosen for {accelerator}")
    flags = cpu_flags() if flags is None else flags
    units = [name for flag, name in BF16_CPU_FLAGS.items() if flag in flags]
    if units and net in FP32_NETS:
        return PrecisionChoice("32-true", f"auto: fp32 for {FP32_NETS[net]}, which bf16 changes")
    if units:
        return PrecisionChoice("bf16-mixed", f"auto: the CPU has {' and '.join(units)}")
    return PrecisionChoice("32-true", "auto: the CPU has no bf16 matrix instructions")


def choose_precision(trainer: Mapping[str, Any], net: str | None = None) -> PrecisionChoice:
    """`trainer.precision` resolved for `trainer.accelerator`; fp16 on a CPU is refused."""
    value, accelerator = str(trainer.get("precision", AUTO)), str(trainer.get("accelerator"))
    if value == AUTO:
        return auto_precision(accelerator, net=net)
    if value in GPU_ONLY and not uses_gpu(accelerator):
        raise LabError(
            f"trainer.precision={value} needs a GPU (trainer.accelerator={accelerator}); "
            "on the CPU choose auto, 32 or bf16-mixed"
        )
    return PrecisionChoice(value, "set by trainer.precision")
