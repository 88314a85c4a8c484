"""Callbacks: what every run records (summary, timings, figures, guards) and opt-in probes.

`essentials` summarise, time and show a run's progress, `guards` stop a broken run and make a
resumed one exact, `figures` draw what a model learnt, `errors` what a classifier gets wrong
and how sure it is, and `probes` measure it as it trains.
The classes are re-exported here, so configs name them as `mnist_lab.callbacks.<Class>`.
"""

from mnist_lab.callbacks.errors import ErrorAnalysis
from mnist_lab.callbacks.essentials import (
    EpochTimer,
    LastBatchLosses,
    LayerSummary,
    LearningRates,
    ProgressBar,
    StepLogInterval,
)
from mnist_lab.callbacks.figures import (
    CodeEmbedding,
    ConfusionMatrixFigure,
    DecisionBoundary,
    GeneratedSamples,
    Reconstructions,
)
from mnist_lab.callbacks.guards import BoundedLoss, ExactResume, FiniteLoss
from mnist_lab.callbacks.probes import DeadUnits, ModeCollapse, ParameterTrajectory

__all__ = [
    "LayerSummary",
    "ProgressBar",
    "StepLogInterval",
    "LearningRates",
    "EpochTimer",
    "LastBatchLosses",
    "FiniteLoss",
    "BoundedLoss",
    "ExactResume",
    "ConfusionMatrixFigure",
    "ErrorAnalysis",
    "DecisionBoundary",
    "Reconstructions",
    "CodeEmbedding",
    "GeneratedSamples",
    "DeadUnits",
    "ParameterTrajectory",
    "ModeCollapse",
]
