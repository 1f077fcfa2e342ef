"""Assembled passages name the section of their best hit; the offline drafter answers from it."""

from __future__ import annotations

from bot.pipeline.drafting import DraftRequest, OfflineDrafter
from bot.pipeline.passages import assemble
from tests.bot.pipeline.test_passages import SHIPPING, _passage, _sections


async def test_the_best_hits_section_is_named_and_preferred_by_the_offline_drafter() -> None:
    s = _sections(SHIPPING, "Shipping")
    track, costs = s[("Shipping", "Track your order")], s[("Shipping", "Times and costs")]
    (passage,) = assemble([_passage("shipping", track, costs, score=0.7)], budget_tokens=2000)
    assert passage.metadata["best_section"] == ["Track your order"]
    result = await OfflineDrafter().draft(DraftRequest(
        customer_text="How do I follow my order?", passages=[passage]))
    body = result.reply.split("\n\n", 1)[1]
    # Nothing in the question names tracking: the retrieval hit decides, steps kept whole.
    assert body.startswith("To track your order:\n1. Open the confirmation email.")
    assert "   - select the order (ORD-123456)." in body
