"""Confidence: monotone in its signals, explainable, and calibratable."""

from __future__ import annotations

import math
from collections.abc import Sequence

from bot.domain import DraftResult, Passage
from bot.pipeline.confidence import (
    DEFAULT_CALIBRATION,
    PARTS,
    Calibration,
    Confidence,
    combine,
    fuzzy_coverage,
    question_coverage,
    score_confidence,
    sparse_strength,
)
from bot.pipeline.triage import Triage, triage
from config import load_settings

QUESTION = "How do I reset my password?"
CALM = triage(QUESTION)


def passage(
    source: str, score: float, text: str = "To reset your password, open Settings."
) -> Passage:
    return Passage(source_id=source, title=source, text=text, score=score)


def draft(self_confidence: float = 0.9, reply: str = "To reset your password, open Settings.",
          **kw: str) -> DraftResult:
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
    best = Passage(
        "kb:reset",
        "Reset password",
        "To reset your password, open Settings.",
        0.9,
        cosine=0.85, keyword=20.0,
    )
    rival = Passage(
        "kb:billing", "Billing", "Invoices", 0.3, cosine=0.3, keyword=1.0
    )
    result = score([best, rival])
    assert result.value > 0.8
    assert set(result.parts) == set(PARTS)
    assert result.parts["coverage"] == 1.0
    assert result.parts["rank_agreement"] == 1.0
    assert result.parts["learned_agreement"] is None
    assert any("strong" in r for r in result.reasons)
    assert any("agree on the best source" in r for r in result.reasons)
    assert any("no approved answer" in r for r in result.reasons)
    # Every part's contribution is on the result, and they add up to the value.
    z = sum(result.contributions.values())
    assert abs(1 / (1 + math.exp(-z)) - result.value) < 1e-3


def test_weak_retrieval_scores_low() -> None:
    result = score([passage("kb:x", 0.25, "Unrelated text about invoices.")], drafted=draft(0.3))
    assert result.value < load_settings({}, env_file=None).human_threshold  # goes to humans
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


def test_a_declined_draft_is_still_ranked_by_retrieval_but_lower() -> None:
    # The drafter found nothing worth extracting: policy sends it to a human anyway, but the
    # value still says how answerable the message looked (evaluation ranks by it).
    declined = score([passage("a", 0.6)], drafted=draft(0.0, reply=""))
    drafted = score([passage("a", 0.6)], drafted=draft(0.5))
    assert 0.0 < declined.value < drafted.value
    assert declined.parts["self_rating"] == 0.0
    assert declined.reasons[0] == "the drafter wrote no reply"


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
        "a", "a", "To reset your password, open Settings.", 1.0, cosine=0.4
    )
    assert score([with_dense]).parts["top_score"] == 0.4
    assert score([with_dense]).value < score([fused_only]).value


def test_coverage_forgives_typos_and_ignores_stopwords() -> None:
    passage_text = "Verify PAN card"
    assert fuzzy_coverage("pan card verify", passage_text) == 1.0
    typo = fuzzy_coverage("pan card verfiy", passage_text)
    assert 0.7 < typo < 1.0  # "verfiy" shares most trigrams with "verify"
    assert fuzzy_coverage("what is my wallet balance", passage_text) < 0.3
    assert fuzzy_coverage("how do I", passage_text) == 0.0


def test_question_frame_words_are_not_the_subject_a_passage_must_cover() -> None:
    refunds = "Refunds reach your card within 5 business days of the request."
    # "how long does it take" is answered by "5 business days", never by the word "long".
    assert fuzzy_coverage("How long until a refund reaches my card?", refunds) == 1.0
    # A subject the passage never mentions still counts against it.
    assert fuzzy_coverage("How long does the battery last?", refunds) < 0.5


def test_a_message_is_on_the_subject_when_one_of_its_questions_is() -> None:
    shipping = "Parcels ship within 2 business days; the tracking link comes by e-mail."
    message = "When will my parcel ship? Could somebody from your team look into it personally?"
    assert fuzzy_coverage(message, shipping) < 0.5  # the request words dilute it
    assert question_coverage(message, shipping) == fuzzy_coverage(
        "When will my parcel ship?", shipping) > 0.6


def test_a_customer_word_for_what_the_article_names_otherwise_counts_as_covered() -> None:
    avatars = "Avatars: PNG, GIF or JPG, at most 2 MB; images are downscaled to 400x400px."
    assert fuzzy_coverage("avatar picture", avatars) == 1.0
    assert fuzzy_coverage("avatar photo", avatars) == 1.0
    assert fuzzy_coverage("avatar video", avatars) < 1.0


def test_sparse_strength_is_log_scaled_and_bounded() -> None:
    assert sparse_strength(0.0) == 0.0
    assert 0.0 < sparse_strength(5.0) < sparse_strength(20.0) < sparse_strength(100.0) == 1.0


def _kb(source: str, dense: float, sparse: float, text: str) -> Passage:
    return Passage(
        source, source, text, dense, cosine=dense, keyword=sparse
    )


def test_keyword_and_semantic_disagreement_lowers_confidence() -> None:
    text = "To reset your password, open Settings."
    agree = score([_kb("a", 0.75, 15.0, text), _kb("b", 0.6, 5.0, "Invoices")])
    disagree = score([_kb("a", 0.75, 5.0, text), _kb("b", 0.6, 15.0, "Invoices")])
    assert agree.parts["rank_agreement"] == 1.0 and disagree.parts["rank_agreement"] == 0.0
    assert disagree.value < agree.value
    assert any("disagree" in r for r in disagree.reasons)


def test_a_problem_report_is_not_answered_by_a_how_to() -> None:
    how_to = [_kb("join", 0.8, 14.0, "How to join a contest?")]
    asking = score_confidence(
        passages=how_to,
        draft=draft(),
        learned_agreement=None,
        triage=CALM,
        question="how to join a contest",
    )
    failing = score_confidence(
        passages=how_to,
        draft=draft(),
        learned_agreement=None,
        triage=CALM,
        question="I am unable to join contest",
    )
    assert asking.parts["negation_mismatch"] == 0.0
    assert failing.parts["negation_mismatch"] == 1.0
    assert failing.value < asking.value
    assert any("negative" in r for r in failing.reasons)


def test_calibration_round_trips_through_json_and_combine_matches_the_score() -> None:
    fitted = Calibration(
        weights={**DEFAULT_CALIBRATION.weights, "coverage": 3.0},
        bias=-2.0,
        version=4,
        source="fitted",
        n_samples=120,
        fitted_at="2026-01-01",
    )
    again = Calibration.from_json(fitted.to_json())
    assert again == Calibration.from_json(again.to_json())
    assert again.weight("coverage") == 3.0 and again.version == 4 and again.intercept == -2.0
    result = score([passage("a", 0.7)], calibration=again)
    value, _ = combine(result.parts, again)
    assert abs(value - result.value) < 1e-3
    # A stored calibration from an older version (unknown part, missing part) still loads.
    old = Calibration.from_json({"weights": {"retired_part": 9.0}, "bias": -1.0})
    assert old.weight("top_score") == DEFAULT_CALIBRATION.weight("top_score")


def test_an_approved_answer_and_its_article_are_not_rivals() -> None:
    from bot.domain import Passage
    from bot.pipeline.confidence import retrieval_parts

    learned = Passage(source_id="answer-1", title="how do i return an item", text="Send it back.",
                      score=0.9, kind="learned",
                      cosine=0.9, grounded_in="returns")
    article = Passage(source_id="returns", title="Returns", text="Send it back within 30 days.",
                      score=0.88, cosine=0.88)
    other = Passage(source_id="shipping", title="Shipping", text="Parcels take 3 days.",
                    score=0.4, cosine=0.4)
    question = "how can I return an item"
    assert retrieval_parts(question, [learned, article, other])["margin"] == 1.0  # 0.5 gap
    unrelated = Passage(source_id="answer-2", title="t", text="x", score=0.9, kind="learned",
                        cosine=0.9)
    assert retrieval_parts(question, [unrelated, article, other])["margin"] < 0.2


PAYMENT = Passage("payment-methods", "Payment methods and failed payments",
                  "You can pay with Visa, Mastercard or PayPal. If a payment fails, we retry "
                  "on days 3, 5 and 7.", 0.72, cosine=0.72)


def _payment_score(learned: Sequence[Passage] = (), rejection: Passage | None = None) -> float:
    from bot.pipeline.confidence import precedent_agreement

    question = "What payment methods do you accept?"
    return score_confidence(
        passages=[PAYMENT, *learned],
        draft=DraftResult(reply="Hi,\n\nYou can pay with Visa, Mastercard or PayPal.\n\nBest",
                          self_confidence=0.0, needs_human=False, reason="",
                          cited_sources=("payment-methods",), model="offline", offline=True),
        learned_agreement=precedent_agreement(learned, rejection),
        triage=triage(question),
        question=question,
    ).value


def _learned(source: str, cosine: float, text: str) -> Passage:
    return Passage(source, "a question", text, cosine, "learned",
                   cosine=cosine)


def test_an_unrelated_approved_answer_changes_nothing() -> None:
    alone = _payment_score()
    rma = _learned("learned:rma", 0.31, "Create an RMA under Settings → Orders.")
    assert _payment_score([rma]) == alone
    assert _payment_score(rejection=_learned("rejected:1", 0.3, "x")) == alone


def test_a_close_approval_raises_and_a_close_rejection_lowers() -> None:
    alone = _payment_score()
    close = _learned("learned:cards", 0.93, "We accept Visa, Mastercard and PayPal.")
    assert _payment_score([close]) > alone
    rejected = _learned("rejected:7", 0.9, "We accept cheques.")
    assert _payment_score(rejection=rejected) < alone
    # A rejection closer than the approval wins: agents said no to this very question.
    assert _payment_score([_learned("learned:x", 0.85, "Visa.")], rejected) < alone


def test_negation_fires_only_on_a_problem_meeting_a_plain_how_to() -> None:
    from bot.pipeline.confidence import negation_mismatch

    assert not negation_mismatch("What payment methods do you accept?", PAYMENT.text)
    assert not negation_mismatch("My payment failed, what now?", PAYMENT.text)
    assert negation_mismatch("The reset email never arrived",
                             "Open the email and click Reset password within 60 minutes.")
    assert not negation_mismatch(
        "The reset email never arrived",
        "If the reset email doesn't arrive, wait up to 10 minutes and check spam.")


def test_an_offline_draft_has_no_self_rating() -> None:
    offline = DraftResult(reply="Hi,\n\nOpen Settings.\n\nBest", self_confidence=0.9,
                          needs_human=False, reason="", cited_sources=("a",), model="offline",
                          offline=True)
    result = score([passage("a", 0.7)], drafted=offline)
    assert result.parts["self_rating"] is None
    assert result.contributions["self_rating"] == 0.0
    assert any("no self-rating" in r for r in result.reasons)


def test_grounding_and_coverage_judge_the_draft_against_the_passages_it_used() -> None:
    used = passage("a", 0.7, "To reset your password, open Settings → Security. "
                             "The link is valid for 60 minutes.")
    grounded = score([used], drafted=draft(reply="Hi,\n\nTo reset your password, open "
                                                 "Settings → Security. The link is valid for "
                                                 "60 minutes.\n\nBest regards,\nAcme"))
    invented = score([used], drafted=draft(reply="Hi,\n\nTo reset your password, call us at "
                                                 "555 0100 within 90 minutes.\n\nBest regards"))
    assert grounded.parts["grounding"] == 1.0
    assert invented.parts["grounding"] is not None and invented.parts["grounding"] < 0.3
    assert invented.value < grounded.value
    assert grounded.parts["answer_coverage"] == 1.0


def test_a_rejected_precedent_never_reads_as_a_zero_agreement() -> None:
    rejected = score([passage("a", 0.7)], learned=0.0)
    assert "agents rejected a draft on this topic or a close question" in rejected.reasons
    assert not any("(0.00)" in r for r in rejected.reasons)
    differs = score([passage("a", 0.7)], learned=0.3)
    assert "an agent rejected an answer to a close question (0.30)" in differs.reasons
