# mnist_lab: common commands. `make` lists them; `make install` once, then `make train`.
PYTHON ?= python3
DATA_DIR ?= $(if $(MNIST_LAB_DATA_DIR),$(MNIST_LAB_DATA_DIR),data)

.PHONY: help install train test test-fast lint format tensorboard benchmark reproduce reproduce-quick clean
.DEFAULT_GOAL := help

help:  ## this list (a bare `make` shows it, rather than installing anything)
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | sed -E 's/:.*## /\t/' | expand -t 18

install:  ## CPU torch first (a plain `pip install torch` pulls GBs of CUDA), then the lab
	$(PYTHON) -m pip install torch==2.13.0
	$(PYTHON) -m pip install -e ".[dev,sweeps,slurm]"

train:  ## default run: MLP 784-200-100-10 on MNIST, CPU
	$(PYTHON) -m mnist_lab.train

test:  ## fast tests plus the short real-data runs
	$(PYTHON) -m pytest -q

test-fast:  ## skip the real-data training runs
	$(PYTHON) -m pytest -q -m "not slow"

lint:  ## ruff check
	$(PYTHON) -m ruff check src tests benchmarks

format:  ## ruff format
	$(PYTHON) -m ruff format src tests benchmarks

tensorboard:  ## TensorBoard over outputs/
	tensorboard --logdir outputs

benchmark:  ## seconds per epoch: lab vs plain PyTorch loop vs per-sample DataLoader
	$(PYTHON) benchmarks/epoch_speed.py

reproduce:  ## the whole catalogue E1-E31 at its budgets (about 31 min on 2 cores), with index.md
	$(PYTHON) -m mnist_lab.reproduce

reproduce-quick:  ## the same commands on tiny budgets (a few minutes): does everything run?
	$(PYTHON) -m mnist_lab.reproduce --quick

clean:  ## remove outputs/, multirun/, lightning_logs/ and the tool caches
	rm -rf outputs multirun lightning_logs .pytest_cache .ruff_cache
