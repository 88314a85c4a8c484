"""Figures as functions: data in, matplotlib Figure out; callers decide where to save them.

`curves` draws logged metrics (per epoch, or against a swept value), `images` draws images and
2-D data (confusion matrix, sample grids, reconstructions, embeddings, decision regions),
`landscape` the loss over a plane of weight space, and `errors` a classifier's mistakes and
its reliability diagram. Import from the submodule.
"""
