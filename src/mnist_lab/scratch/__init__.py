"""Seed 003's classifiers and seed 002's toy convnet in plain NumPy, backprop written by hand.

Teaching code: no torch anywhere in this package (the tests compare it against torch).
`python -m mnist_lab.scratch` trains on MNIST; `python -m mnist_lab.scratch.toy` runs the toy.
"""

import os

from mnist_lab.cli import CONF_DIR

SCRATCH_CONF_DIR = CONF_DIR / "scratch"

# conf/scratch/*.yaml reach the lab's paths/ and hydra/ groups through this (see scratch.yaml).
os.environ.setdefault("MNIST_LAB_CONF_DIR", str(CONF_DIR))
