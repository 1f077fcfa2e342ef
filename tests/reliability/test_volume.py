"""Volume: a burst in one conversation becomes one draft; a sender over the rate limit is
stored and handed to humans without drafting, never dropped."""

from __future__ import annotations

import pytest

from bot.store.models import Draft, InboxItem, Message, QueueStatus
from tests.fakes.http import wait_for
from tests.reliability.conftest import StackFactory, db_true, webhook_message

SENDER = {"id": "cust-burst", "email": "burst@example.com", "name": "Burst"}


@pytest.mark.slow
async def test_a_burst_in_one_conversation_produces_one_draft(make_stack: StackFactory) -> None:
    stack = await make_stack(worker=False, SUPPORTBOT_COALESCE_SECONDS="0")
    for i in range(20):
        body = webhook_message(f"b{i}", f"hello? part {i} of my question about password reset",
                               conversation="c-burst", sender=SENDER)
        assert (await stack.webhook(body)).status_code == 202
    await stack.start_worker()
    await wait_for(db_true(lambda: Draft.all().count()), timeout=30)
    await stack.wait_settled()
    assert await Draft.all().count() == 1, await stack.explain()
    assert await Message.filter(direction="in").count() == 20
    assert await InboxItem.filter(status=QueueStatus.COALESCED).count() == 19
    draft = await Draft.get()
    newest = await Message.filter(direction="in").order_by("-id").first()
    assert newest is not None and draft.message_id == newest.id  # type: ignore[attr-defined]


@pytest.mark.slow
async def test_a_sender_over_the_limit_is_stored_and_handed_to_humans(
    make_stack: StackFactory,
) -> None:
    stack = await make_stack(claude=True, worker=False, SUPPORTBOT_SENDER_LIMIT_PER_HOUR="3")
    assert stack.anthropic is not None
    for i in range(6):
        body = webhook_message(f"r{i}", "How do I reset my password?", conversation=f"c-r{i}",
                               sender=SENDER)
        assert (await stack.webhook(body)).status_code == 202
    await stack.start_worker()
    await wait_for(db_true(lambda: Draft.all().count()), timeout=30)
    await stack.wait_settled(within=60)
    drafts = await Draft.all().order_by("message_id")
    assert len(drafts) == 6, await stack.explain()
    limited = [d for d in drafts if any("rate limit" in r for r in d.reasons)]
    assert len(limited) == 3
    assert all(d.decision == "human" and d.text == "" for d in limited)
    assert len(stack.anthropic.requests) == 3  # no LLM call for what is over the limit
    assert await Message.filter(direction="in").count() == 6
    assert "rate limit" in stack.card_text()  # shown to humans
