"""mnist_lab: the classic deep-learning experiments on MNIST and Fashion-MNIST, one command each."""

__version__ = "0.1.0"


class LabError(Exception):
    """An error caused by the user's input; the entry points print it as one line and exit 2."""
