"""Pure metrics for routing evaluation: AUROC, precision/recall, reliability bins.

Hand-written on purpose: they are a few lines each, exact (AUROC counts ties as half, as the
Mann-Whitney U statistic does), and keep scikit-learn out of the runtime dependencies.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from dataclasses import dataclass


def auroc(labels: Sequence[bool], scores: Sequence[float]) -> float | None:
    """Area under the ROC curve of ``scores`` for ``labels`` (True = positive).

    The probability that a random positive scores above a random negative, ties counting
    half. None when one class is missing (the area is undefined then).
    """
    if len(labels) != len(scores):
        raise ValueError("labels and scores differ in length")
    pairs = sorted(zip(scores, labels, strict=True), key=lambda p: p[0])
    positives = sum(1 for _, y in pairs if y)
    negatives = len(pairs) - positives
    if positives == 0 or negatives == 0:
        return None
    # Rank-sum with average ranks over tied scores (Mann-Whitney U).
    rank_sum = 0.0
    i = 0
    while i < len(pairs):
        j = i
        while j + 1 < len(pairs) and pairs[j + 1][0] == pairs[i][0]:
            j += 1
        average_rank = (i + j) / 2 + 1
        rank_sum += average_rank * sum(1 for _, y in pairs[i : j + 1] if y)
        i = j + 1
    u = rank_sum - positives * (positives + 1) / 2
    return u / (positives * negatives)


def precision_recall(predicted: Sequence[bool], actual: Sequence[bool]) -> tuple[float, float]:
    """Precision and recall of ``predicted`` against ``actual`` (0 when undefined)."""
    true_pos = sum(1 for p, a in zip(predicted, actual, strict=True) if p and a)
    predicted_pos = sum(predicted)
    actual_pos = sum(actual)
    precision = true_pos / predicted_pos if predicted_pos else 0.0
    recall = true_pos / actual_pos if actual_pos else 0.0
    return precision, recall


@dataclass(frozen=True, slots=True)
class ReliabilityBin:
    """One confidence bin: its range, how many rows fell in it, their mean confidence and
    the observed share of positives (None for an empty bin)."""

    low: float
    high: float
    count: int
    mean_confidence: float | None
    observed: float | None


def reliability(
    labels: Sequence[bool], scores: Sequence[float], bins: int = 10
) -> list[ReliabilityBin]:
    """Equal-width confidence bins over [0, 1]; a score of exactly 1 goes in the last bin."""
    grouped: list[list[tuple[float, bool]]] = [[] for _ in range(bins)]
    for score, label in zip(scores, labels, strict=True):
        index = min(bins - 1, max(0, int(score * bins)))
        grouped[index].append((score, label))
    result = []
    for index, members in enumerate(grouped):
        count = len(members)
        result.append(
            ReliabilityBin(
                low=index / bins,
                high=(index + 1) / bins,
                count=count,
                mean_confidence=sum(s for s, _ in members) / count if count else None,
                observed=sum(1 for _, y in members if y) / count if count else None,
            )
        )
    return result


def expected_calibration_error(bins: Sequence[ReliabilityBin]) -> float:
    """Count-weighted mean gap between confidence and observed rate over the bins."""
    total = sum(b.count for b in bins)
    if not total:
        return 0.0
    return (
        sum(b.count * abs((b.mean_confidence or 0.0) - (b.observed or 0.0)) for b in bins) / total
    )


def best_threshold(labels: Sequence[bool], scores: Sequence[float]) -> float:
    """The score cut that maximises balanced accuracy (Youden's J) for "positive ≥ cut".

    Candidates are midpoints between distinct sorted scores, so the cut never sits on a
    row. Used to choose the human threshold: below it, a message goes to a human.
    """
    distinct = sorted(set(scores))
    if len(distinct) < 2:
        return distinct[0] if distinct else 0.5
    positives = sum(labels) or 1
    negatives = (len(labels) - sum(labels)) or 1
    best_cut, best_j = distinct[0], -1.0
    for low, high in itertools.pairwise(distinct):
        cut = (low + high) / 2
        tpr = sum(1 for s, y in zip(scores, labels, strict=True) if y and s >= cut) / positives
        tnr = sum(1 for s, y in zip(scores, labels, strict=True) if not y and s < cut) / negatives
        if tpr + tnr - 1 > best_j:
            best_cut, best_j = cut, tpr + tnr - 1
    return best_cut
