"""Datasets: IDX files on disk, their download, and the tensor-resident DataModule."""
