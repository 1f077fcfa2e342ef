"""Confidence that a draft can go out: an explainable logistic combination of signals.

    z = bias + w_top·top_score + w_margin·margin + w_cov·coverage + w_self·self_rating
        + w_learned·(2·learned_agreement − 1)   [only when a learned answer was compared]
        − w_frustration·frustration
    value = 1 / (1 + e^−z)

Every part is in [0, 1] and kept on the result with its contribution to ``z``, so the card
can show why a draft scored as it did. The weights live in ``Calibration``; the defaults
below are hand-set so that a strong, unambiguous, well-covered answer the drafter is sure
of lands around 0.85–0.95 and a weak one below 0.3. A later job can fit them (logistic
regression on approve/reject learning signals) and pass its own ``Calibration`` in.

Passage scores are similarities in [0, 1]: ``metadata["dense_score"]`` (raw cosine) when
retrieval provides it, else ``Passage.score`` (see ``retrieval_score``); values outside are
clamped.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from types import MappingProxyType

from bot.domain import DraftResult, Passage
from bot.drafting.base import retrieval_score
from bot.drafting.text import content_words
from bot.triage import Triage


@dataclass(frozen=True, slots=True)
class Calibration:
    """Weights of the logistic combination. Defaults are documented in the module docstring.

    ``margin_scale`` is the score gap to the next distinct source that counts as fully
    unambiguous (gaps are small in practice: 0.2 is already decisive).
    """

    bias: float = -4.0
    top_score: float = 3.0
    margin: float = 1.5
    coverage: float = 2.0
    self_rating: float = 2.5
    learned_agreement: float = 1.5
    frustration: float = 1.0
    margin_scale: float = 0.2


DEFAULT_CALIBRATION = Calibration()


@dataclass(frozen=True, slots=True)
class Confidence:
    """A confidence in [0, 1], its parts (each in [0, 1] or None), and readable reasons."""

    value: float
    parts: Mapping[str, float | None] = field(default_factory=lambda: MappingProxyType({}))
    contributions: Mapping[str, float] = field(default_factory=lambda: MappingProxyType({}))
    reasons: list[str] = field(default_factory=list)


def _clamp(value: float) -> float:
    return max(0.0, min(1.0, value))


def _margin(ranked: Sequence[Passage], scale: float) -> float:
    """Gap between the top passage and the best passage of a *different* source.

    Two chunks of the same source agreeing is not ambiguity; two sources scoring alike is.
    """
    top = ranked[0]
    rival = next((p for p in ranked[1:] if p.source_id != top.source_id), None)
    gap = _clamp(retrieval_score(top)) - (_clamp(retrieval_score(rival)) if rival else 0.0)
    return _clamp(gap / scale) if scale > 0 else 1.0


def _coverage(question: str, passage: Passage) -> float:
    wanted = content_words(question)
    if not wanted:
        return 0.0
    return len(wanted & content_words(f"{passage.title}\n{passage.text}")) / len(wanted)


def _describe(parts: Mapping[str, float | None], frustration: float) -> list[str]:
    top, margin, coverage = parts["top_score"] or 0.0, parts["margin"] or 0.0, parts["coverage"]
    strength = "strong" if top >= 0.7 else "fair" if top >= 0.45 else "weak"
    reasons = [
        f"best passage score {top:.2f} ({strength})",
        f"margin to next source {margin:.2f} ({'clear' if margin >= 0.5 else 'ambiguous'})",
        f"{(coverage or 0.0):.0%} of the question's words appear in the best passage",
        f"drafter self-rating {(parts['self_rating'] or 0.0):.2f}",
    ]
    learned = parts["learned_agreement"]
    if learned is None:
        reasons.append("no approved answer to compare with")
    else:
        verdict = "agrees with" if learned >= 0.5 else "differs from"
        reasons.append(f"{verdict} an approved answer ({learned:.2f})")
    if frustration > 0:
        reasons.append(f"customer frustration {frustration:.2f} lowers confidence")
    return reasons


def score_confidence(
    *,
    passages: Sequence[Passage],
    draft: DraftResult,
    learned_agreement: float | None,
    triage: Triage,
    question: str = "",
    calibration: Calibration | None = None,
) -> Confidence:
    """Score a draft. ``question`` is the customer text (with subject) used for coverage.

    A drafter error or an empty reply scores 0; no passages scores 0 (nothing grounds it).
    """
    weights = calibration or DEFAULT_CALIBRATION
    if draft.error is not None or not draft.reply.strip():
        why = f"drafter failed: {draft.error}" if draft.error else "the draft is empty"
        return Confidence(value=0.0, reasons=[why])
    if not passages:
        return Confidence(value=0.0, reasons=["no knowledge passage was retrieved"])

    ranked = sorted(passages, key=retrieval_score, reverse=True)
    parts: dict[str, float | None] = {
        "top_score": _clamp(retrieval_score(ranked[0])),
        "margin": _margin(ranked, weights.margin_scale),
        "coverage": _coverage(question, ranked[0]),
        "self_rating": _clamp(draft.self_confidence),
        "learned_agreement": None if learned_agreement is None else _clamp(learned_agreement),
    }
    contributions = {
        "bias": weights.bias,
        "top_score": weights.top_score * (parts["top_score"] or 0.0),
        "margin": weights.margin * (parts["margin"] or 0.0),
        "coverage": weights.coverage * (parts["coverage"] or 0.0),
        "self_rating": weights.self_rating * (parts["self_rating"] or 0.0),
        # Centred so that a disagreeing approved answer pulls down as much as an agreeing
        # one pushes up, and "nothing to compare" is neutral.
        "learned_agreement": 0.0
        if parts["learned_agreement"] is None
        else weights.learned_agreement * (2 * parts["learned_agreement"] - 1),
        "frustration": -weights.frustration * _clamp(triage.frustration),
    }
    z = sum(contributions.values())
    value = 1.0 / (1.0 + math.exp(-z))
    return Confidence(
        value=round(value, 4),
        parts=MappingProxyType(parts),
        contributions=MappingProxyType({k: round(v, 4) for k, v in contributions.items()}),
        reasons=_describe(parts, _clamp(triage.frustration)),
    )
