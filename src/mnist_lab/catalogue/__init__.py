"""The experiment catalogue `python -m mnist_lab.reproduce` runs: schema, runner, judge, index."""
