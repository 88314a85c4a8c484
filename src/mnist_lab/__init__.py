"""mnist_lab: the classic deep-learning experiments on MNIST and Fashion-MNIST, one command each."""

import os

# OpenMP threads that spin while waiting make two torch processes on one small CPU slow each
# other down tenfold (a 2-epoch MLP run: 8 s alone, 77 s beside another run on 2 cores).
# Passive waiting removes that; it must be set before torch is imported. Users may override.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

__version__ = "0.1.0"


class LabError(Exception):
    """An error caused by the user's input; the entry points print it as one line and exit 2."""


# Last: the resolvers module imports nothing of the lab's, but every config reader needs them.
from mnist_lab.runtime.resolvers import register_resolvers  # noqa: E402

register_resolvers()
