"""LightningModules: the training recipes that wrap the plain networks of `mnist_lab.nets`.

`judge` is the one plain loop: the GAN judge, trained inside a run without a nested Trainer.
"""
