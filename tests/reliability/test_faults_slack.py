"""Slack faults: rate limits (429), server errors (5xx) and timeouts while the product posts
approval cards and sends customer replies. The fake Slack Web API is a real HTTP server; the
product's own ``AsyncWebClient`` talks to it."""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime
from typing import Any

import pytest

from bot.ops.jobs import recover_queues
from bot.store.models import Draft, OutboxItem, QueueStatus
from tests.fakes.http import wait_for
from tests.reliability.conftest import APPROVAL, SUPPORT_CHANNEL, Stack, StackFactory, db_true

QUESTION = "I forgot my password, how do I reset it?"


def cards_of(stack: Stack, draft_id: int) -> list[dict[str, Any]]:
    """Cards Slack really holds for one draft (applied posts only, not failed attempts)."""
    return [
        m
        for m in stack.slack.messages.get(APPROVAL, [])
        if f'"card:{draft_id}"' in json.dumps(m.get("blocks"))
    ]


def customer_event(ts: str, text: str = QUESTION) -> dict[str, Any]:
    return {
        "type": "message",
        "channel": SUPPORT_CHANNEL,
        "user": "UCUST",
        "text": text,
        "ts": ts,
        "channel_type": "channel",
    }


def replies_in_thread(stack: Stack, thread_ts: str) -> list[dict[str, Any]]:
    """Our replies Slack holds in the customer's thread."""
    return [
        m for m in stack.slack.messages.get(SUPPORT_CHANNEL, []) if m.get("thread_ts") == thread_ts
    ]


async def test_cards_survive_rate_limits_and_an_outage_without_a_restart(
    make_stack: StackFactory, caplog: pytest.LogCaptureFixture
) -> None:
    stack = await make_stack()

    # 1. A 429 on the card: waited out (Retry-After), posted once.
    stack.slack.ratelimit("chat.postMessage", times=1, retry_after=1)
    assert (
        await stack.webhook(
            {
                "conversation_id": "c1",
                "message_id": "m1",
                "sender": {"id": "a"},
                "text": "What's the weather?",
            }
        )
    ).status_code == 202
    await wait_for(db_true(lambda: Draft.filter(approval_ts__not_isnull=True).exists()), timeout=20)
    first = (await stack.drafts())[0]
    assert len(cards_of(stack, first.id)) == 1
    assert "Slack rate limit" in caplog.text

    # 2. Slack answers 503 to every post: the draft stays pending, the failure is logged.
    stack.slack.fail("chat.postMessage", "internal_error", status=503, times=None)
    assert (
        await stack.webhook(
            {
                "conversation_id": "c2",
                "message_id": "m2",
                "sender": {"id": "b"},
                "text": "Can you sing me a song?",
            }
        )
    ).status_code == 202
    await wait_for(db_true(lambda: Draft.filter(conversation__thread_key="shop:c2").exists()))
    await wait_for(lambda: "could not post the card" in caplog.text)
    second = await Draft.get(conversation__thread_key="shop:c2")
    assert second.status == "pending" and second.approval_ts is None

    # 3. Slack is back: the scheduled recovery job (run here directly, as the scheduler
    # would every 5 minutes) posts the missing card, once; nothing was lost.
    stack.slack.heal()
    report = await recover_queues(stack.services.notifier)(datetime.now(UTC))
    assert "1 missing cards posted" in report
    await wait_for(
        db_true(lambda: Draft.filter(id=second.id, approval_ts__not_isnull=True).exists())
    )
    assert len(cards_of(stack, second.id)) == 1
    assert len(cards_of(stack, first.id)) == 1


@pytest.mark.parametrize("fault", ["ratelimited", "server_error", "answer_lost", "timeout"])
async def test_replies_are_retried_through_slack_faults_and_posted_once(
    make_stack: StackFactory, caplog: pytest.LogCaptureFixture, fault: str
) -> None:
    # Backoff base 1 s: a retry comes at least 0.5 s later, after a timed-out post that
    # Slack still applied (0.4 s) has landed, so the retry can find it in the thread.
    stack = await make_stack(SUPPORTBOT_AUTO_SEND_THRESHOLD="0.5", SUPPORTBOT_OUTBOX_BACKOFF="1")
    assert stack.services.slack_app is not None
    stack.services.slack_app.client.timeout = 0.2
    # Faults hit the customer's channel only: the auto-sent card in the approval channel
    # is another post and must not take the fault meant for the reply.
    customer = SUPPORT_CHANNEL
    if fault == "ratelimited":
        stack.slack.ratelimit("chat.postMessage", times=1, retry_after=1, channel=customer)
    elif fault == "server_error":
        stack.slack.fail("chat.postMessage", "internal_error", status=500, times=1,
                         channel=customer)
    elif fault == "answer_lost":  # Slack posted, then answered 503: the retry must not repost
        stack.slack.fail(
            "chat.postMessage", "service_unavailable", status=503, times=1, applied=True,
            channel=customer,
        )
    else:  # the client gives up at 0.2 s; Slack applies the post at 0.4 s
        stack.slack.slow("chat.postMessage", 0.4, times=1, channel=customer)
    ts = "1700000100.000100"
    assert (await stack.slack_event(customer_event(ts), event_id="Ev1")).status_code == 200
    await wait_for(db_true(lambda: OutboxItem.filter(status=QueueStatus.SENT).exists()), timeout=30)
    await stack.wait_settled()
    item = await OutboxItem.get()
    assert item.attempts == 2, "one failed attempt, then success"
    assert len(replies_in_thread(stack, ts)) == 1, "the customer sees the reply exactly once"
    assert f"outbox item {item.id} attempt 1 failed" in caplog.text


async def test_a_reply_slack_refuses_for_good_is_dead_lettered_and_shown(
    make_stack: StackFactory, caplog: pytest.LogCaptureFixture
) -> None:
    stack = await make_stack(SUPPORTBOT_AUTO_SEND_THRESHOLD="0.5")
    stack.slack.fail("chat.postMessage", "channel_not_found", times=1, channel=SUPPORT_CHANNEL)
    with caplog.at_level(logging.WARNING):
        assert (
            await stack.slack_event(customer_event("1700000200.000100"), event_id="Ev2")
        ).status_code == 200
        await wait_for(
            db_true(lambda: OutboxItem.filter(status=QueueStatus.DEAD).exists()), timeout=30
        )
    item = await OutboxItem.get()
    assert item.attempts == 1 and "channel_not_found" in (item.last_error or "")
    assert "dead-lettered" in caplog.text
    await wait_for(
        lambda: (
            "could not be delivered" in stack.card_text() or "not delivered" in stack.card_text()
        )
    )
    assert (await stack.metrics())["supportbot_dead_letters"] == 1.0
