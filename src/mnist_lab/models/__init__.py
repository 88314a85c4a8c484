"""LightningModules: the training recipes that wrap the plain networks of `mnist_lab.nets`."""
