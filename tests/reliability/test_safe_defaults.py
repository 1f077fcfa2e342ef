"""Safe by default, end to end through the webhook, the real bolt app and the Slack fake:
thanks close quietly, "a human" reaches humans, automatic replies disclose themselves, and a
learned answer from one customer never carries that customer's details to the next."""

from __future__ import annotations

import re
from datetime import UTC, datetime

import pytest

from bot.flow.decisions import approve
from bot.flow.learning import Learners
from bot.store import learned_review, outbox
from bot.store.models import Conversation, Draft
from config.settings import DEFAULT_DISCLOSURE
from tests.fakes.http import wait_for
from tests.reliability.conftest import APPROVAL, StackFactory, webhook_message


def _approval_posts(stack: object) -> int:
    return len([c for c in stack.slack.calls_to("chat.postMessage")  # type: ignore[attr-defined]
                if c.params.get("channel") == APPROVAL])


@pytest.mark.slow
async def test_thanks_closes_quietly_and_auto_replies_disclose_themselves(
    make_stack: StackFactory,
) -> None:
    stack = await make_stack(SUPPORTBOT_AUTO_SEND_THRESHOLD="0.3")
    response = await stack.webhook(webhook_message("t1", conversation="c-thanks"))
    await stack.wait_settled()
    await wait_for(lambda: stack.receiver.delivered, timeout=30)
    reply = stack.receiver.delivered[0].json()
    assert reply["decided_by"] == "auto", await stack.explain()
    assert reply["text"].endswith(DEFAULT_DISCLOSURE)
    posts = _approval_posts(stack)
    drafts = await Draft.all().count()

    thanks = webhook_message("t2", "Thanks, that worked!", conversation="c-thanks")
    assert (await stack.webhook(thanks)).status_code == 202
    await stack.wait_settled()
    assert await Draft.all().count() == drafts  # no draft
    assert _approval_posts(stack) == posts  # no card, no thread post
    conversation = await Conversation.get(id=response.json()["conversation_id"])
    assert conversation.status == "answered"
    assert len(stack.receiver.delivered) == 1


@pytest.mark.slow
@pytest.mark.parametrize("text", ["Can I talk to a human please?", "human",
                                  "Ich möchte mit einem Menschen sprechen."])
async def test_asking_for_a_person_goes_to_humans_with_that_reason(
    make_stack: StackFactory, text: str
) -> None:
    stack = await make_stack(SUPPORTBOT_AUTO_SEND_THRESHOLD="0")
    response = await stack.webhook(webhook_message("h1", text))
    await stack.wait_settled()
    draft = await Draft.get(conversation_id=response.json()["conversation_id"])
    assert draft.decision == "human"
    assert any("wants human" in r for r in draft.reasons), draft.reasons
    assert "wants human" in stack.card_text()
    assert stack.receiver.delivered == []


@pytest.mark.slow
async def test_a_learned_answer_never_carries_customer_a_into_bs_draft(
    make_stack: StackFactory,
) -> None:
    stack = await make_stack()
    assert stack.services.learned is not None and stack.services.rejected is not None
    learn = Learners(learned=stack.services.learned, rejected=stack.services.rejected).answer
    first = webhook_message("a1", "I was charged twice for my annual plan, can I get a refund?",
                            conversation="c-a",
                            sender={"id": "cust-a", "email": "alice@example.com",
                                    "name": "Alice Moore"})
    response = await stack.webhook(first)
    await stack.wait_settled()
    draft = await Draft.get(conversation_id=response.json()["conversation_id"])
    edited = ("Hi Alice,\n\nsorry about the double charge! I have refunded the duplicate charge "
              "of $8 on invoice INV-2024-000888 to your card ending 1881. Annual plans are "
              "refunded in full within 30 days of purchase; request it from Settings, Billing."
              "\n\nBest,\nBob")
    outcome = await approve(draft.id, agent="UAGENT", now=datetime.now(UTC),
                            deliver=outbox.enqueue_reply, final_text=edited, learn=learn)
    assert outcome.won
    [review] = await learned_review.awaiting_review()
    assert review.status == "proposed"

    second = webhook_message("b1", "I got billed two times for my yearly plan, refund please?",
                             conversation="c-b",
                             sender={"id": "cust-b", "email": "bea@example.com", "name": "Bea"})
    response = await stack.webhook(second)
    await stack.wait_settled()
    draft_b = await Draft.get(conversation_id=response.json()["conversation_id"])
    assert any(s.get("kind") == "learned" for s in draft_b.sources), draft_b.sources
    for detail in ("Alice", "Moore", "Bob", "$8", "INV-2024-000888", "1881",
                   "alice@example.com"):
        assert not re.search(rf"(?<!\w){re.escape(detail)}(?!\w)", draft_b.text), draft_b.text
    assert "have refunded" not in draft_b.text
