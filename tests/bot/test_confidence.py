"""Confidence: monotone in its signals, explainable, and calibratable."""

from __future__ import annotations

from collections.abc import Sequence

from bot.confidence import Calibration, Confidence, score_confidence
from bot.domain import DraftResult, Passage
from bot.triage import Triage, triage

QUESTION = "How do I reset my password?"
CALM = triage(QUESTION)


def passage(
    source: str, score: float, text: str = "To reset your password, open Settings."
) -> Passage:
    return Passage(source_id=source, title=source, text=text, score=score)


def draft(self_confidence: float = 0.9, reply: str = "Open Settings.", **kw: str) -> DraftResult:
    return DraftResult(
        reply=reply,
        self_confidence=self_confidence,
        needs_human=False,
        reason="",
        cited_sources=("kb:reset",),
        model="test",
        error=kw.get("error"),
    )


def score(
    passages: Sequence[Passage],
    *,
    drafted: DraftResult | None = None,
    learned: float | None = None,
    triaged: Triage = CALM,
    calibration: Calibration | None = None,
) -> Confidence:
    return score_confidence(
        passages=passages,
        draft=drafted or draft(),
        learned_agreement=learned,
        triage=triaged,
        question=QUESTION,
        calibration=calibration,
    )


def test_strong_unambiguous_answer_scores_high_and_explains_itself() -> None:
    result = score([passage("kb:reset", 0.85), passage("kb:billing", 0.3, "Invoices")])
    assert result.value > 0.8
    assert set(result.parts) == {
        "top_score",
        "margin",
        "coverage",
        "self_rating",
        "learned_agreement",
    }
    assert result.parts["coverage"] == 1.0
    assert result.parts["learned_agreement"] is None
    assert any("strong" in r for r in result.reasons)
    assert any("no approved answer" in r for r in result.reasons)


def test_weak_retrieval_scores_low() -> None:
    result = score([passage("kb:x", 0.25, "Unrelated text about invoices.")], drafted=draft(0.3))
    assert result.value < 0.3
    assert result.parts["coverage"] == 0.0


def test_ambiguity_between_sources_lowers_confidence() -> None:
    clear = score([passage("a", 0.8), passage("b", 0.4)])
    close = score([passage("a", 0.8), passage("b", 0.79)])
    same_source = score([passage("a", 0.8), passage("a", 0.79)])
    assert close.value < clear.value
    assert same_source.parts["margin"] == 1.0  # two chunks of one source are not ambiguity
    assert any("ambiguous" in r for r in close.reasons)


def test_learned_agreement_and_frustration_move_the_score() -> None:
    passages = [passage("a", 0.7)]
    neutral = score(passages)
    agrees = score(passages, learned=0.95)
    differs = score(passages, learned=0.1)
    upset = score(passages, triaged=triage("This is ridiculous and unacceptable"))
    assert differs.value < neutral.value < agrees.value
    assert upset.value < neutral.value
    assert any("frustration" in r for r in upset.reasons)


def test_errors_and_missing_passages_score_zero() -> None:
    failed = score([passage("a", 0.9)], drafted=draft(reply="", error="overloaded"))
    assert failed.value == 0.0
    assert "overloaded" in failed.reasons[0]
    assert score([]).value == 0.0


def test_calibration_replaces_the_weights() -> None:
    default = score([passage("a", 0.7)])
    strict = score([passage("a", 0.7)], calibration=Calibration(bias=-8.0))
    assert strict.value < default.value
    assert strict.contributions["bias"] == -8.0


def test_dense_score_in_metadata_is_preferred_over_a_fused_score() -> None:
    # A fused, rank-based score is high for some passage of every question; the raw cosine
    # in metadata says how close the passage really is.
    fused_only = Passage("a", "a", "To reset your password, open Settings.", 1.0)
    with_dense = Passage(
        "a", "a", "To reset your password, open Settings.", 1.0, metadata={"dense_score": 0.4}
    )
    assert score([with_dense]).parts["top_score"] == 0.4
    assert score([with_dense]).value < score([fused_only]).value
