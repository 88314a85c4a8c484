"""The benchmark scripts: the plain cnn_fast script copies the lab's recipe, and the
time-to-accuracy mode times the lab and a plain loop doing identical work."""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
from pathlib import Path
from types import ModuleType

import pytest
import torch
from hydra.utils import instantiate

from mnist_lab.train import train
from tests.helpers import ROOT, compose_config


def load_script(name: str) -> ModuleType:
    """A script from benchmarks/ as a module (benchmarks/ is not a package)."""
    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.spec_from_file_location(name, ROOT / "benchmarks" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


def test_plain_script_trains_the_network_and_recipe_of_cnn_fast(tmp_path: Path) -> None:
    plain = load_script("plain_cnn_fast")
    cfg = compose_config("train", ["experiment=cnn_fast"], tmp_path)
    lab_net = instantiate(cfg.model.net, input_shape=[1, 28, 28], num_classes=10)
    plain_net = plain.build_net()
    lab_shapes = [tuple(t.shape) for t in lab_net.state_dict().values()]
    assert lab_shapes == [tuple(t.shape) for t in plain_net.state_dict().values()]
    assert sum(p.numel() for p in plain_net.parameters()) == 29_178
    recipe = plain.RECIPE
    assert list(cfg.model.net.channels) == list(recipe["channels"])
    assert (cfg.model.optimizer.name, cfg.model.scheduler.name) == ("adam", "onecycle")
    assert cfg.model.optimizer.lr == recipe["lr"] and cfg.model.channels_last
    assert cfg.data.batch_size == recipe["batch_size"]
    assert cfg.trainer.max_epochs == recipe["epochs"]
    assert (cfg.data.val_fraction, cfg.data.split_seed) == (
        recipe["val_fraction"],
        recipe["split_seed"],
    )


def test_plain_script_reports_a_test_accuracy(tiny_data_dir: Path, capsys) -> None:
    accuracy = load_script("plain_cnn_fast").main(["--data-dir", str(tiny_data_dir)])
    assert accuracy > 0.5  # 540 toy images, 10 steps: well above chance (0.1)
    assert f"test accuracy {accuracy:.4f} on 200 images" in capsys.readouterr().out


def test_accuracy_clock_stops_while_scoring_and_finds_first_crossings() -> None:
    benchmark = load_script("epoch_speed")
    images, labels = torch.zeros(4, 1, 28, 28), torch.zeros(4, dtype=torch.long)
    clock = benchmark.AccuracyClock(images, labels, eval_every=2)
    clock.history = [(1.0, 0.9, 0.97), (2.0, 1.8, 0.985), (3.0, 2.7, 0.992)]
    assert clock.seconds_to(0.98) == 2.0 and clock.seconds_to(0.99, clock=1) == 2.7
    assert clock.seconds_to(None) == 3.0
    assert clock.seconds_to(0.995) != clock.seconds_to(0.995)  # NaN: never reached

    clock.history = []
    clock.start()
    net = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(784, 10))
    for step in range(1, 6):
        clock.check(net, step, last=step == 5)
    assert len(clock.history) == 3  # steps 2, 4 and the last
    assert all(0.0 <= wall < 5.0 for wall, _, _ in clock.history)


def test_time_to_accuracy_lab_and_plain_loop_train_identically(tmp_path: Path, tiny_data_dir):
    """Same init, batches, optimizer and schedule: the same test accuracy at every check."""
    benchmark = load_script("epoch_speed")
    cfg = benchmark.recipe_config("cnn_fast", "cpu", str(tmp_path))
    cfg.paths.data_dir = str(tiny_data_dir)
    cfg.trainer.max_epochs = 1
    datamodule = instantiate(cfg.data)
    datamodule.setup("fit")
    test = datamodule.splits["test"]
    clocks = [benchmark.AccuracyClock(*test, eval_every=2) for _ in range(3)]
    benchmark.time_plain_recipe(cfg, datamodule, torch.device("cpu"), clocks[0])
    lab_datamodule, model, trainer = benchmark.assemble(cfg)
    trainer.callbacks.append(benchmark.LabAccuracyClock(clocks[1]))
    trainer.fit(model, datamodule=lab_datamodule)
    # the same module and data in a Trainer with nothing of the lab's around its loop
    lab_datamodule, model, _ = benchmark.assemble(cfg)
    bare = benchmark.bare_lightning_trainer(cfg, clocks[2])
    assert not bare.loggers and not bare.checkpoint_callback and not bare.progress_bar_callback
    bare.fit(model, datamodule=lab_datamodule)
    plain, lab, lightning = ([a for _, _, a in c.history] for c in clocks)
    assert len(plain) == 3  # 540 images in batches of 128: 5 steps, scored after 2, 4 and 5
    assert plain == lab == lightning


def test_time_to_accuracy_refuses_recipes_the_plain_loop_cannot_copy(tmp_path: Path) -> None:
    benchmark = load_script("epoch_speed")
    with pytest.raises(SystemExit, match="fashion_mlp has model.scheduler.name=cosine, model.op"):
        benchmark.recipe_config("fashion_mlp", "cpu", str(tmp_path))


def test_plain_script_trains_in_bf16_when_asked(tiny_data_dir: Path, capsys) -> None:
    plain = load_script("plain_cnn_fast")
    accuracy = plain.main(["--data-dir", str(tiny_data_dir), "--precision", "bf16-mixed"])
    assert accuracy > 0.5
    assert "s training (bf16-mixed)" in capsys.readouterr().out


def test_gpu_check_script_parses() -> None:
    script = ROOT / "benchmarks" / "gpu_check.sh"
    checked = subprocess.run(["bash", "-n", str(script)], capture_output=True, text=True)
    assert checked.returncode == 0, checked.stderr


def test_cnn_gpu_composes_and_trains_a_few_steps_on_the_cpu(train_config, tmp_path: Path):
    cfg = train_config("experiment=cnn_gpu", "trainer.accelerator=cpu", "data.subset_size=256")
    assert list(cfg.model.net.channels) == [32, 64, 128] and cfg.trainer.max_epochs == 1
    assert cfg.model.scheduler.name == "onecycle"
    metrics = train(cfg)
    assert 0.0 <= metrics["test/acc"] <= 1.0 and metrics["time/epoch_s"] > 0


@pytest.mark.skipif(torch.cuda.is_available(), reason="here the gpu tests run")
def test_the_gpu_tests_skip_cleanly_without_a_gpu() -> None:
    ran = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-m", "gpu", "-p", "no:cacheprovider"]
        + [str(ROOT / "tests" / "test_gpu.py")],
        capture_output=True,
        text=True,
        cwd=ROOT,
    )
    assert ran.returncode == 0, ran.stdout[-2000:]
    assert " skipped" in ran.stdout and "passed" not in ran.stdout and "error" not in ran.stdout


def test_end_to_end_counts_cnn_fast_training_flops(tmp_path: Path) -> None:
    benchmark = load_script("epoch_speed")
    cfg = benchmark.recipe_config("cnn_fast", "cpu", str(tmp_path))
    per_image = benchmark.training_flops(cfg, images=1) / cfg.trainer.max_epochs
    # 3.85 MFLOP forward (the recipe's comment: 3.8 M), the backward pass about twice that
    assert 11.0e6 < per_image < 11.6e6
    assert benchmark.matmul_peak(torch.float32, size=256, repeats=2) > 0


def test_catalogue_time_splits_an_entry_into_training_runs_and_process(tmp_path: Path, capsys):
    timing = load_script("catalogue_time")
    entry = tmp_path / "E01_dense_baseline"
    steps = {"seconds": 10.0, "steps": [{"step": "train", "seconds": 9.5}]}
    (entry).mkdir()
    (entry / "steps.json").write_text(json.dumps(steps))
    for run, total in (("0", 3.0), ("1", 4.0)):
        (entry / "train" / run / "csv").mkdir(parents=True)
        (entry / "train" / run / "metrics.json").write_text(json.dumps({"time/total_s": total}))
        rows = "epoch,time/epoch_s,val/acc\n0,1.0,\n0,,0.9\n1,1.5,\n"
        (entry / "train" / run / "csv" / "metrics.csv").write_text(rows)
    measured = timing.entry_time(entry)
    assert (measured.processes, measured.runs) == (1, 2)
    assert (measured.training, measured.per_run, measured.process) == (5.0, 2.0, 3.0)
    sys.argv = ["catalogue_time.py", str(tmp_path)]
    timing.main()
    printed = capsys.readouterr().out
    assert "shares of the entry time: training 50%, per run 20%, process 30%" in printed
    with pytest.raises(SystemExit, match="holds no entry of a reproduce run"):
        sys.argv = ["catalogue_time.py", str(tmp_path / "E01_dense_baseline" / "train")]
        timing.main()
