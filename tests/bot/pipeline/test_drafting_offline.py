"""OfflineDrafter: extractive replies, learned-answer reuse, and honest refusals."""

from __future__ import annotations

from bot.domain import Passage
from bot.pipeline.drafting import OFFLINE_MODEL, DraftRequest, OfflineDrafter

ARTICLE = Passage(
    source_id="kb:billing/refunds",
    title="Refunds",
    text=(
        "# Refunds\n"
        "We are a cloud hosting company. Our offices are in Berlin.\n"
        "Refunds for annual plans are issued within 14 days of purchase. "
        "To request a refund, open Billing and click Request refund.\n"
        "Monthly plans are not refundable."
    ),
    score=0.72,
)
LEARNED = Passage(
    source_id="learned:42",
    title="How do I get a refund for my annual plan?",
    text=(
        "Hi Sam,\n\nAnnual plans can be refunded within 14 days: open Billing and click "
        "Request refund.\n\nBest regards,\nAlex"
    ),
    score=0.91,
    kind="learned",
)


def request(*passages: Passage, name: str | None = "Robin Miller") -> DraftRequest:
    return DraftRequest(
        customer_text="How do I get a refund for my annual plan?",
        subject="Refund",
        passages=passages,
        customer_name=name,
        brand_name="Acme Cloud",
    )


async def test_extracts_the_sentences_that_answer_the_question() -> None:
    result = await OfflineDrafter().draft(request(ARTICLE))
    assert result.reply.startswith("Hi Robin,\n\n")
    assert "Refunds for annual plans are issued within 14 days" in result.reply
    assert "Request refund" in result.reply
    assert "Berlin" not in result.reply  # off-topic sentence left out
    assert "# Refunds" not in result.reply
    assert result.reply.endswith("Best regards,\nAcme Cloud Support")
    assert result.cited_sources == ("kb:billing/refunds",)
    assert result.offline and result.model == OFFLINE_MODEL
    assert not result.needs_human
    assert 0.5 < result.self_confidence < 0.72


async def test_reuses_a_strong_learned_answer_nearly_verbatim() -> None:
    result = await OfflineDrafter().draft(request(ARTICLE, LEARNED))
    assert result.cited_sources == ("learned:42",)
    assert result.reply == (
        "Hi Robin,\n\nAnnual plans can be refunded within 14 days: open Billing and click "
        "Request refund.\n\nBest regards,\nAcme Cloud Support"
    )
    assert "Sam" not in result.reply and "Alex" not in result.reply
    assert result.self_confidence == 0.91
    assert "reused the approved answer learned:42" in result.reason


async def test_weak_learned_answer_loses_to_a_better_article() -> None:
    weak = Passage(LEARNED.source_id, LEARNED.title, LEARNED.text, 0.5, "learned")
    result = await OfflineDrafter().draft(request(ARTICLE, weak))
    assert result.cited_sources == ("kb:billing/refunds",)


async def test_greets_generically_without_a_name() -> None:
    result = await OfflineDrafter().draft(request(ARTICLE, name=None))
    assert result.reply.startswith("Hi there,")


async def test_needs_a_human_when_nothing_is_relevant() -> None:
    weak = Passage("kb:other", "Other", "Something else entirely.", 0.2)
    for passages in ((), (weak,)):
        result = await OfflineDrafter().draft(request(*passages))
        assert result.needs_human
        assert result.reply == ""
        assert result.cited_sources == ()
        assert "no knowledge passage is relevant enough" in result.reason
        assert result.offline


async def test_a_chunks_heading_line_does_not_leak_into_the_reply() -> None:
    passage = Passage(
        "reset-password", "Reset your password",
        "Reset your password\nClick Forgot password? on the sign-in page. The link is valid "
        "for 60 minutes.", 0.82, cosine=0.82, metadata={"heading_path": ["Reset your password"]})
    result = await OfflineDrafter().draft(DraftRequest(customer_text="How do I reset my password?",
                                                       passages=[passage]))
    assert "Reset your password Click" not in result.reply
    assert "Click Forgot password? on the sign-in page." in result.reply
