"""What a classifier gets wrong: the per-class table, its confident mistakes, its calibration.

Plain functions on one pass's outputs (labels, logits or probabilities as arrays), so that the
`ErrorAnalysis` callback, `evaluate` and a notebook compute the same numbers.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F

# Guo et al. (2017), "On calibration of modern neural networks", bin confidences in 15.
CALIBRATION_BINS = 15
# A validation split the model gets entirely right makes the likelihood rise without end as
# the temperature falls; the fit stops at these bounds instead of running off to 0.
TEMPERATURE_RANGE = (0.01, 100.0)


def confusion_counts(labels: np.ndarray, predictions: np.ndarray, num_classes: int) -> np.ndarray:
    """Counts [true class, predicted class] of integer labels and predictions."""
    flat = np.asarray(labels) * num_classes + np.asarray(predictions)
    return np.bincount(flat, minlength=num_classes**2).reshape(num_classes, num_classes)


@dataclass(frozen=True)
class ClassRow:
    """One class's line of the per-class table."""

    name: str
    precision: float  # of the images predicted as this class, the share that are; 0 if none
    recall: float  # of this class's images, the share predicted right; 0 if it has none
    f1: float
    support: int  # images of this class
    most_confused: str  # the class its images are most often taken for; "" when never wrong
    confused_count: int  # how many of its images were taken for it


def per_class_table(matrix: np.ndarray, class_names: Sequence[str]) -> list[ClassRow]:
    """Precision, recall, F1, support and the most-confused class, per class of `matrix`
    ([true, predicted] counts)."""
    matrix = np.asarray(matrix)
    right = np.diag(matrix).astype(float)
    predicted, support = matrix.sum(axis=0), matrix.sum(axis=1)
    # 0 where a class was never predicted (or has no images), as scikit-learn's default
    precision = np.divide(right, predicted, out=np.zeros_like(right), where=predicted > 0)
    recall = np.divide(right, support, out=np.zeros_like(right), where=support > 0)
    both = precision + recall
    f1 = np.divide(2 * precision * recall, both, out=np.zeros_like(both), where=both > 0)
    wrong = matrix - np.diag(np.diag(matrix))
    rows = []
    for index, name in enumerate(class_names):
        other = int(wrong[index].argmax())
        count = int(wrong[index, other])
        rows.append(
            ClassRow(
                name=name,
                precision=float(precision[index]),
                recall=float(recall[index]),
                f1=float(f1[index]),
                support=int(support[index]),
                most_confused=class_names[other] if count else "",
                confused_count=count,
            )
        )
    return rows


def confusion_pairs(matrix: np.ndarray, count: int) -> list[tuple[int, int, int, int]]:
    """The `count` pairs of classes confused most often, either way round, as (a, b, a taken
    for b, b taken for a) with a < b; most mistakes first, pairs never confused left out."""
    matrix = np.asarray(matrix)
    pairs = [
        (a, b, int(matrix[a, b]), int(matrix[b, a]))
        for a in range(len(matrix))
        for b in range(a + 1, len(matrix))
        if matrix[a, b] + matrix[b, a] > 0
    ]
    # Ties keep the class order, so the same matrix always gives the same pairs.
    pairs.sort(key=lambda pair: -(pair[2] + pair[3]))
    return pairs[:count]


def most_confident(chosen: np.ndarray, confidence: np.ndarray, count: int) -> np.ndarray:
    """Indices of the `count` samples where `chosen` is true with the highest `confidence`,
    highest first (ties in index order)."""
    candidates = np.flatnonzero(chosen)
    order = np.argsort(-np.asarray(confidence)[candidates], kind="stable")
    return candidates[order[:count]]


def confident_mistakes(
    labels: np.ndarray, probabilities: np.ndarray, per_class: int
) -> dict[int, np.ndarray]:
    """True class -> the indices of its `per_class` wrongly predicted samples the model was
    surest of (its top probability), surest first; classes it never got wrong are left out."""
    labels = np.asarray(labels)
    predictions = probabilities.argmax(axis=1)
    confidence = probabilities.max(axis=1)
    picks = {}
    for label in range(probabilities.shape[1]):
        indices = most_confident((labels == label) & (predictions != label), confidence, per_class)
        if len(indices):
            picks[label] = indices
    return picks


@dataclass(frozen=True)
class CalibrationBins:
    """Top-1 confidence binned into equal widths on [0, 1]: what a reliability diagram draws."""

    edges: np.ndarray  # [bins + 1]
    counts: np.ndarray  # [bins] samples whose confidence falls in the bin
    accuracy: np.ndarray  # [bins] share of them predicted right (NaN for an empty bin)
    confidence: np.ndarray  # [bins] their mean confidence (NaN for an empty bin)


def calibration_bins(
    probabilities: np.ndarray, labels: np.ndarray, bins: int = CALIBRATION_BINS
) -> CalibrationBins:
    """Bin each sample's top probability; bins are [low, high), the last one [low, 1]."""
    confidence = np.asarray(probabilities).max(axis=1)
    correct = np.asarray(probabilities).argmax(axis=1) == np.asarray(labels)
    edges = np.linspace(0.0, 1.0, bins + 1)
    which = np.clip(np.searchsorted(edges, confidence, side="right") - 1, 0, bins - 1)
    counts = np.bincount(which, minlength=bins)
    with np.errstate(invalid="ignore", divide="ignore"):
        accuracy = np.bincount(which, correct, minlength=bins) / counts
        mean_confidence = np.bincount(which, confidence, minlength=bins) / counts
    return CalibrationBins(edges, counts, accuracy, mean_confidence)


def expected_calibration_error(
    logits: torch.Tensor, labels: torch.Tensor, bins: int = CALIBRATION_BINS
) -> float:
    """The top-1 expected calibration error of softmax(`logits`), by torchmetrics."""
    from torchmetrics.functional.classification import multiclass_calibration_error

    probabilities = logits.double().softmax(dim=1)
    error = multiclass_calibration_error(
        probabilities, labels, logits.shape[1], n_bins=bins, norm="l1"
    )
    return float(error)


def fit_temperature(logits: torch.Tensor, labels: torch.Tensor) -> float:
    """The temperature T minimising the mean negative log-likelihood of softmax(`logits` / T)
    on these (validation) samples: Guo et al.'s temperature scaling, fitted by L-BFGS."""
    # Lightning tests under inference mode, whose tensors take no part in autograd: the fit
    # works on copies made outside it.
    with torch.inference_mode(False), torch.enable_grad():
        logits, labels = logits.detach().double().clone(), labels.detach().clone()
        # log T keeps T positive; the likelihood is smooth in it: L-BFGS needs a few steps.
        log_temperature = torch.zeros(
            (), dtype=torch.float64, device=logits.device, requires_grad=True
        )
        optimizer = torch.optim.LBFGS(
            [log_temperature], lr=1.0, max_iter=100, line_search_fn="strong_wolfe"
        )

        def closure() -> torch.Tensor:
            optimizer.zero_grad()
            loss = F.cross_entropy(logits / log_temperature.exp(), labels)
            loss.backward()
            return loss

        optimizer.step(closure)
    return float(np.clip(log_temperature.exp().item(), *TEMPERATURE_RANGE))


def per_class_markdown(
    rows: Sequence[ClassRow], pairs: Sequence[tuple[int, int, int, int]], caption: str
) -> str:
    """The per-class table and the most frequent confusions, in Markdown under `caption`."""
    lines = [
        caption,
        "",
        "| class | precision | recall | F1 | support | most confused with |",
        "|---|---:|---:|---:|---:|---|",
    ]
    for row in rows:
        confused = f"{row.most_confused} ({row.confused_count})" if row.confused_count else "-"
        lines.append(
            f"| {row.name} | {row.precision:.4f} | {row.recall:.4f} | {row.f1:.4f} | "
            f"{row.support} | {confused} |"
        )
    if pairs:
        names = [row.name for row in rows]
        lines += ["", "| confused pair | mistakes | first taken for second | second for first |"]
        lines.append("|---|---:|---:|---:|")
        for a, b, a_as_b, b_as_a in pairs:
            lines.append(f"| {names[a]} ↔ {names[b]} | {a_as_b + b_as_a} | {a_as_b} | {b_as_a} |")
    return "\n".join(lines) + "\n"


def per_class_csv(rows: Sequence[ClassRow]) -> str:
    """The per-class table as CSV, numbers at full precision."""
    text = io.StringIO()
    writer = csv.writer(text, lineterminator="\n")
    writer.writerow(
        ["class", "precision", "recall", "f1", "support", "most_confused", "confused_count"]
    )
    for row in rows:
        writer.writerow(
            [
                row.name,
                row.precision,
                row.recall,
                row.f1,
                row.support,
                row.most_confused,
                row.confused_count,
            ]
        )
    return text.getvalue()
