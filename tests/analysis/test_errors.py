"""Error analysis on hand-made predictions whose answers are worked out by hand."""

from __future__ import annotations

import csv
import io
import math

import numpy as np
import pytest
import torch

from mnist_lab.analysis.errors import (
    TEMPERATURE_RANGE,
    calibration_bins,
    confident_mistakes,
    confusion_counts,
    confusion_pairs,
    expected_calibration_error,
    fit_temperature,
    per_class_csv,
    per_class_markdown,
    per_class_table,
)
from mnist_lab.callbacks.errors import interleave_shares
from mnist_lab.data.datamodule import shard

NAMES = ["zero", "one", "two", "never"]
# true 0 -> 0, 0, 0, 1; true 1 -> 1, 1, 2; true 2 -> 2, 0, 0; class 3: no image, never predicted
LABELS = np.array([0, 0, 0, 0, 1, 1, 1, 2, 2, 2])
PREDICTIONS = np.array([0, 0, 0, 1, 1, 1, 2, 2, 0, 0])


def test_the_per_class_table_has_the_hand_worked_answers() -> None:
    matrix = confusion_counts(LABELS, PREDICTIONS, 4)
    assert matrix.tolist() == [[3, 1, 0, 0], [0, 2, 1, 0], [2, 0, 1, 0], [0, 0, 0, 0]]
    zero, one, two, never = per_class_table(matrix, NAMES)
    # precision = right / predicted as the class; recall = right / its images
    assert (zero.precision, zero.recall, zero.f1) == pytest.approx((3 / 5, 3 / 4, 2 / 3))
    assert (one.precision, one.recall, one.f1) == pytest.approx((2 / 3, 2 / 3, 2 / 3))
    assert (two.precision, two.recall, two.f1) == pytest.approx((1 / 2, 1 / 3, 0.4))
    assert [row.support for row in (zero, one, two, never)] == [4, 3, 3, 0]
    assert [(r.most_confused, r.confused_count) for r in (zero, one, two)] == [
        ("one", 1),
        ("two", 1),
        ("zero", 2),
    ]
    # A class without images and never predicted: zeros, and nothing it is confused with.
    assert (never.precision, never.recall, never.f1, never.most_confused) == (0, 0, 0, "")


def test_confused_pairs_count_both_ways_most_first_ties_in_class_order() -> None:
    matrix = confusion_counts(LABELS, PREDICTIONS, 4)
    assert confusion_pairs(matrix, 5) == [(0, 2, 0, 2), (0, 1, 1, 0), (1, 2, 1, 0)]
    assert confusion_pairs(matrix, 1) == [(0, 2, 0, 2)]
    assert confusion_pairs(np.eye(3, dtype=int) * 5, 4) == []  # never wrong: no pair


def test_the_markdown_and_csv_tables_carry_the_rows() -> None:
    matrix = confusion_counts(LABELS, PREDICTIONS, 4)
    rows = per_class_table(matrix, NAMES)
    text = per_class_markdown(rows, confusion_pairs(matrix, 2), "caption line")
    lines = text.splitlines()
    assert lines[0] == "caption line"
    assert "| two | 0.5000 | 0.3333 | 0.4000 | 3 | zero (2) |" in lines
    assert "| never | 0.0000 | 0.0000 | 0.0000 | 0 | - |" in lines
    assert "| zero ↔ two | 2 | 0 | 2 |" in lines
    parsed = list(csv.DictReader(io.StringIO(per_class_csv(rows))))
    assert [row["class"] for row in parsed] == NAMES
    assert float(parsed[0]["precision"]) == 0.6 and parsed[2]["most_confused"] == "zero"


def test_the_gallery_picks_each_classes_surest_wrong_predictions() -> None:
    # rows: (true label, probabilities); the most confident row of class 0 is right, so not shown
    samples = [
        (0, [0.99, 0.01, 0.00]),  # right, the surest of all
        (0, [0.20, 0.70, 0.10]),  # wrong, 0.7
        (0, [0.05, 0.05, 0.90]),  # wrong, 0.9
        (0, [0.30, 0.40, 0.30]),  # wrong, 0.4
        (1, [0.10, 0.80, 0.10]),  # right
        (2, [0.60, 0.30, 0.10]),  # wrong, 0.6
    ]
    labels = np.array([label for label, _ in samples])
    probabilities = np.array([p for _, p in samples])
    picks = confident_mistakes(labels, probabilities, per_class=2)
    assert set(picks) == {0, 2}  # class 1 was never wrong
    assert picks[0].tolist() == [2, 1] and picks[2].tolist() == [5]
    assert confident_mistakes(labels, probabilities, per_class=5)[0].tolist() == [2, 1, 3]


def _two_class_logits(confidences: list[float], correct: list[bool]) -> tuple:
    """Logits whose softmax gives each sample `confidence` on class 0 or 1 (alternating), and
    labels that make it right or wrong."""
    rows, labels = [], []
    for index, (confidence, right) in enumerate(zip(confidences, correct, strict=True)):
        predicted = index % 2
        row = [math.log(1 - confidence)] * 2
        row[predicted] = math.log(confidence)
        rows.append(row)
        labels.append(predicted if right else 1 - predicted)
    return torch.tensor(rows, dtype=torch.float64), torch.tensor(labels)


def test_the_calibration_error_equals_a_hand_computation() -> None:
    logits, labels = _two_class_logits([0.9, 0.85, 0.7, 0.65, 0.55], [1, 0, 1, 0, 1])
    # 5 bins of 0.2: [0.4, 0.6) holds 0.55 (right); [0.6, 0.8) 0.7 and 0.65 (one right);
    # [0.8, 1] 0.9 and 0.85 (one right). ECE = sum of |accuracy - confidence| x share:
    hand = 1 / 5 * abs(1 - 0.55) + 2 / 5 * abs(0.5 - 0.675) + 2 / 5 * abs(0.5 - 0.875)
    assert hand == pytest.approx(0.31)
    assert expected_calibration_error(logits, labels, bins=5) == pytest.approx(hand)
    bins = calibration_bins(logits.softmax(1).numpy(), labels.numpy(), bins=5)
    assert bins.counts.tolist() == [0, 0, 1, 2, 2]
    assert bins.accuracy[2:].tolist() == pytest.approx([1.0, 0.5, 0.5])
    assert bins.confidence[2:].tolist() == pytest.approx([0.55, 0.675, 0.875])
    assert np.isnan(bins.accuracy[:2]).all()


def test_a_confidence_of_exactly_one_falls_in_the_last_bin() -> None:
    probabilities = np.array([[1.0, 0.0], [0.0, 1.0]])
    bins = calibration_bins(probabilities, np.array([0, 0]), bins=4)
    assert bins.counts.tolist() == [0, 0, 0, 2] and bins.accuracy[3] == 0.5


@pytest.mark.parametrize("temperature", [0.5, 2.5])
def test_temperature_scaling_recovers_the_temperature_of_synthetic_logits(temperature) -> None:
    generator = torch.Generator().manual_seed(0)
    calibrated = 3 * torch.randn(20_000, 10, generator=generator)
    # labels drawn from the calibrated probabilities; the model reports logits x 1/T
    labels = torch.multinomial(calibrated.softmax(1), 1, generator=generator).squeeze(1)
    fitted = fit_temperature(calibrated * temperature, labels)
    assert fitted == pytest.approx(temperature, rel=0.03)
    # and dividing by it makes the logits calibrated again: a lower ECE than before
    before = expected_calibration_error(calibrated * temperature, labels)
    after = expected_calibration_error(calibrated * temperature / fitted, labels)
    assert after < before / 2


def test_temperature_fitting_runs_in_inference_mode_and_stays_in_range() -> None:
    # Lightning tests under inference mode; a split it never gets wrong pushes T towards 0.
    with torch.inference_mode():
        logits = torch.tensor([[4.0, 0.0], [0.0, 4.0], [3.0, 1.0]])
        fitted = fit_temperature(logits, torch.tensor([0, 1, 0]))
    assert TEMPERATURE_RANGE[0] <= fitted < 1


@pytest.mark.parametrize(("size", "ranks"), [(11, 3), (12, 4), (5, 2)])
def test_gathered_shares_interleave_back_into_sample_order(size: int, ranks: int) -> None:
    samples = torch.arange(size)
    shares = [shard(samples, rank, ranks, pad=False) for rank in range(ranks)]
    longest = max(len(share) for share in shares)
    padded = torch.stack([torch.cat([s, s.new_full((longest - len(s),), -1)]) for s in shares])
    merged = interleave_shares(padded)
    assert merged[merged >= 0].tolist() == samples.tolist()
