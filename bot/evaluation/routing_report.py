"""Summaries of a routing evaluation: AUROC, the review/human split, reliability.

"human" is the prediction for out-of-scope: ``human_precision`` is the share of human-routed
rows that are out of scope, ``human_recall`` the share of out-of-scope rows routed to a
human; ``review_*`` likewise for answerable rows routed to review or auto.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from bot.domain import Decision
from bot.evaluation.metrics import (
    ReliabilityBin,
    auroc,
    expected_calibration_error,
    precision_recall,
    reliability,
)
from bot.evaluation.routing import RowOutcome


@dataclass(frozen=True, slots=True)
class SplitReport:
    """Metrics over one group of rows (all of them, or one KB)."""

    name: str
    rows: int
    answerable: int
    auroc: float | None
    review_precision: float
    review_recall: float
    human_precision: float
    human_recall: float
    decisions: dict[str, int] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class RoutingReport:
    """The whole evaluation: overall, per KB, and the reliability bins of the overall set."""

    overall: SplitReport
    per_kb: list[SplitReport]
    bins: list[ReliabilityBin]
    ece: float
    human_threshold: float

    def as_json(self) -> dict[str, Any]:
        """The ``eval routing --json`` contract, key order included."""
        o = self.overall
        return {
            "rows": o.rows,
            "auroc": _round(o.auroc),
            "review_precision": round(o.review_precision, 4),
            "review_recall": round(o.review_recall, 4),
            "human_precision": round(o.human_precision, 4),
            "human_recall": round(o.human_recall, 4),
        }


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 4)


def split_report(name: str, outcomes: Sequence[RowOutcome]) -> SplitReport:
    """Metrics of ``outcomes`` (see the module docstring for the split's definition)."""
    labels = [o.row.answerable for o in outcomes]
    human = [o.decision is Decision.HUMAN for o in outcomes]
    # Suppressed rows are neither answered nor handed over; they count as not-review.
    review = [o.decision in (Decision.REVIEW, Decision.AUTO) for o in outcomes]
    review_p, review_r = precision_recall(review, labels)
    human_p, human_r = precision_recall(human, [not y for y in labels])
    decisions: dict[str, int] = {}
    for o in outcomes:
        decisions[o.decision.value] = decisions.get(o.decision.value, 0) + 1
    return SplitReport(
        name=name,
        rows=len(outcomes),
        answerable=sum(labels),
        auroc=auroc(labels, [o.confidence for o in outcomes]),
        review_precision=review_p,
        review_recall=review_r,
        human_precision=human_p,
        human_recall=human_r,
        decisions=decisions,
    )


def summarise(outcomes: Sequence[RowOutcome], *, human_threshold: float) -> RoutingReport:
    """Overall and per-KB reports plus reliability bins of the confidence."""
    kbs = list(dict.fromkeys(o.kb for o in outcomes))
    bins = reliability([o.row.answerable for o in outcomes], [o.confidence for o in outcomes])
    return RoutingReport(
        overall=split_report("overall", outcomes),
        per_kb=[split_report(kb, [o for o in outcomes if o.kb == kb]) for kb in kbs]
        if len(kbs) > 1
        else [],
        bins=bins,
        ece=expected_calibration_error(bins),
        human_threshold=human_threshold,
    )


def format_table(report: RoutingReport) -> str:
    """A plain-text table: one line per KB and overall, then the reliability bins."""
    header = f"{'set':<22}{'rows':>6}{'ans':>6}" + "".join(
        f"{h:>8}" for h in ("AUROC", "rev P", "rev R", "hum P", "hum R")
    )
    lines = [f"routing eval (human threshold {report.human_threshold:.2f})", header]
    for split in [*report.per_kb, report.overall]:
        score = "   n/a" if split.auroc is None else f"{split.auroc:.3f}"
        lines.append(
            f"{split.name[:21]:<22}{split.rows:>6}{split.answerable:>6}{score:>8}"
            f"{split.review_precision:>8.3f}{split.review_recall:>8.3f}"
            f"{split.human_precision:>8.3f}{split.human_recall:>8.3f}"
        )
    lines.append(
        "decisions: " + ", ".join(f"{k} {v}" for k, v in sorted(report.overall.decisions.items()))
    )
    lines.append(f"reliability (ECE {report.ece:.3f}): confidence bin → share answerable (rows)")
    for b in report.bins:
        if b.count:
            lines.append(f"  {b.low:.1f}–{b.high:.1f}  {b.observed or 0.0:.2f}  ({b.count})")
    return "\n".join(lines)


def learning_table(outcomes: Sequence[RowOutcome]) -> str:
    """AUROC of each KB's stream in halves (prequential ``--learn`` runs): the second half is
    scored with what agents' decisions on the first half taught."""
    lines = ["learning (prequential): AUROC of the first half → second half of each stream"]
    for kb in dict.fromkeys(o.kb for o in outcomes):
        stream = sorted((o for o in outcomes if o.kb == kb), key=lambda o: o.position)
        half = len(stream) // 2
        parts = [stream[:half], stream[half:]]
        scores = [auroc([o.row.answerable for o in p], [o.confidence for o in p]) for p in parts]
        shown = ["  n/a" if s is None else f"{s:.3f}" for s in scores]
        lines.append(f"  {kb[:21]:<22}{shown[0]:>8} → {shown[1]}")
    return "\n".join(lines)
