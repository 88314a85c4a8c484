"""trainer.precision: auto picks per machine and says why; every precision is deterministic."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from mnist_lab import LabError
from mnist_lab.runtime.precision import (
    PrecisionChoice,
    auto_precision,
    choose_precision,
    cpu_flags,
)
from mnist_lab.runtime.rules import ConfigError, check_config
from mnist_lab.train import train
from tests.helpers import compose_config

# The precisions a CPU trains in: fp32 everywhere, bf16 autocast everywhere (emulated where the
# CPU has no bf16 instructions, so slower there, but the same numbers on a rerun).
CPU_PRECISIONS = ("32", "bf16-mixed")


@pytest.mark.parametrize(
    ("flags", "expected"),
    [
        (
            {"avx512f", "amx_bf16", "amx_tile"},
            PrecisionChoice("bf16-mixed", "auto: the CPU has AMX"),
        ),
        (
            {"avx512f", "avx512_bf16"},
            PrecisionChoice("bf16-mixed", "auto: the CPU has AVX512-BF16"),
        ),
        (
            {"avx2", "fma"},
            PrecisionChoice("32-true", "auto: the CPU has no bf16 matrix instructions"),
        ),
    ],
)
def test_auto_picks_bf16_only_on_cpus_with_bf16_instructions(flags, expected) -> None:
    assert auto_precision("cpu", flags) == expected


def test_auto_keeps_dense_nets_in_fp32_where_bf16_changed_their_accuracy() -> None:
    flags = {"avx512_bf16"}
    dense = auto_precision("cpu", flags, net="mnist_lab.nets.mlp.MLP")
    assert dense == PrecisionChoice("32-true", "auto: fp32 for dense nets, which bf16 changes")
    assert auto_precision("cpu", flags, net="mnist_lab.nets.cnn.CNN").precision == "bf16-mixed"
    assert auto_precision("cpu", {"avx2"}, net="mnist_lab.nets.cnn.CNN").precision == "32-true"


def test_cpu_flags_are_read_from_cpuinfo(tmp_path: Path) -> None:
    cpuinfo = tmp_path / "cpuinfo"
    cpuinfo.write_text("processor\t: 0\nmodel name\t: X\nflags\t\t: fpu avx512_bf16 sse\n")
    assert cpu_flags(cpuinfo) == {"fpu", "avx512_bf16", "sse"}
    assert cpu_flags(tmp_path / "absent") == set()


@pytest.mark.skipif(torch.cuda.is_available(), reason="auto and gpu mean a GPU here")
def test_a_set_precision_is_kept_and_fp16_on_the_cpu_is_refused() -> None:
    choice = choose_precision({"precision": "bf16-mixed", "accelerator": "cpu"})
    assert choice == PrecisionChoice("bf16-mixed", "set by trainer.precision")
    assert choose_precision({"precision": 32, "accelerator": "cpu"}).precision == "32"
    with pytest.raises(LabError, match=r"^trainer.precision=16-mixed needs a GPU .*auto, 32 or"):
        choose_precision({"precision": "16-mixed", "accelerator": "auto"})
    # auto without a GPU is the CPU's rule
    assert choose_precision({"accelerator": "auto"}) == auto_precision("cpu")
    net = "mnist_lab.nets.mlp.MLP"
    assert choose_precision({"precision": "auto", "accelerator": "cpu"}, net) == auto_precision(
        "cpu", net=net
    )


def test_the_rules_accept_auto_and_refuse_other_names(tmp_path: Path) -> None:
    cfg = compose_config("train", [], tmp_path)
    assert cfg.trainer.precision == "auto"
    check_config(cfg)
    cfg.trainer.precision = "fp8"
    with pytest.raises(ConfigError, match=r"trainer.precision='fp8' is not accepted; .* auto$"):
        check_config(cfg)


@pytest.mark.parametrize("precision", CPU_PRECISIONS)
def test_same_config_seed_and_precision_give_the_same_numbers(train_config, precision) -> None:
    overrides = ("trainer.max_epochs=1", "data.subset_size=256", f"trainer.precision={precision}")
    first, again = (train(train_config(*overrides, run=run)) for run in ("first", "again"))
    keys = ("train/loss_epoch", "val/loss", "val/acc", "test/loss", "test/acc")
    assert [first[k] for k in keys] == [again[k] for k in keys]


def test_the_run_records_and_prints_its_precision(train_config, tmp_path: Path, capsys) -> None:
    train(train_config("debug=fast_dev_run", "trainer.precision=bf16-mixed"))
    printed = capsys.readouterr().out
    assert "; precision bf16-mixed (set by trainer.precision)\n" in printed
