"""Anthropic faults: 429, 529, 500 and timeouts from the Messages API (a real fake server).
A passing fault is retried and the draft is made; a lasting one hands the message to a human
with the error on the card. Either way the message ends in one visible state."""

from __future__ import annotations

import pytest

from bot.store.models import Draft
from tests.fakes.anthropic_server import Scenario
from tests.fakes.http import wait_for
from tests.reliability.conftest import APPROVAL, Stack, StackFactory, db_true, webhook_message

FAULTS = {
    "429": Scenario.rate_limited(retry_after="0"),
    "529": Scenario.overloaded(),
    "500": Scenario.server_error(500),
    "timeout": Scenario.slow(1.5),  # the drafter gives up after 0.5 s
}


def notices(stack: Stack, words: str) -> list[str]:
    """Plain messages (not cards) posted into the approval channel containing ``words``."""
    return [str(c.params.get("text")) for c in stack.slack.calls_to("chat.postMessage")
            if c.params.get("channel") == APPROVAL and not c.params.get("blocks")
            and words in str(c.params.get("text"))]


@pytest.mark.parametrize("fault", sorted(FAULTS))
async def test_a_passing_api_fault_is_retried_and_the_draft_is_made(
    make_stack: StackFactory, caplog: pytest.LogCaptureFixture, fault: str
) -> None:
    stack = await make_stack(claude=True, SUPPORTBOT_LLM_TIMEOUT="0.5")
    assert stack.anthropic is not None
    stack.anthropic.queue(FAULTS[fault], Scenario.ok())
    before = await stack.metrics()  # counters are per process: compare, don't read absolutes
    assert (await stack.webhook(webhook_message("m1"))).status_code == 202
    await wait_for(db_true(lambda: Draft.filter(approval_ts__not_isnull=True).exists()),
                   timeout=30)
    await stack.wait_settled()
    drafts = await stack.drafts()
    assert len(drafts) == 1 and drafts[0].error is None and drafts[0].text
    assert len(stack.anthropic.requests) == 2
    assert "draft attempt 1/3 failed" in caplog.text
    assert len(stack.cards()) == 1
    key = 'supportbot_llm_request_duration_seconds_count{model="claude-test"}'
    assert (await stack.metrics())[key] - before.get(key, 0.0) == 1.0


async def test_a_lasting_api_outage_hands_the_message_to_a_human_with_the_error(
    make_stack: StackFactory,
) -> None:
    stack = await make_stack(claude=True, SUPPORTBOT_AUTO_SEND_THRESHOLD="0")
    assert stack.anthropic is not None
    stack.anthropic.queue(*[Scenario.overloaded()] * 6)
    key = 'supportbot_decisions_total{decision="human"}'
    before = (await stack.metrics()).get(key, 0.0)
    for mid in ("m1", "m0"):
        assert (await stack.webhook(webhook_message(mid, conversation=mid))).status_code == 202
    async def two_cards() -> bool:
        return await Draft.filter(approval_ts__not_isnull=True).count() == 2

    await wait_for(two_cards, timeout=30)
    draft = (await stack.drafts())[0]  # both messages fared the same
    # Agents get the offline extractive draft to start from, labelled as the stand-in it is.
    assert draft.decision == "human" and draft.status == "pending" and draft.offline
    assert "Forgot password" in draft.text
    assert draft.error is not None and "overloaded (529)" in draft.error
    assert "Claude failed" in stack.card_text() and "overloaded (529)" in stack.card_text()
    assert len(stack.anthropic.requests) == 6
    # The approval channel hears of the outage once, not once per message...
    assert len(notices(stack, "Drafting with Claude is failing")) == 1
    assert "overloaded (529)" in notices(stack, "Drafting with Claude is failing")[0]
    # Recovery needs no restart: the next message is drafted normally...
    assert (await stack.webhook(webhook_message("m2"))).status_code == 202
    await wait_for(db_true(lambda: Draft.filter(error__isnull=True).exists()), timeout=30)
    # ...and the channel hears that once too.
    await wait_for(lambda: notices(stack, "works again"), timeout=10)
    assert len(notices(stack, "Drafting with Claude is failing")) == 1
    assert stack.receiver.requests == []  # an outage never turns into an automatic reply
    assert (await stack.metrics())[key] - before >= 1.0
