"""Auto-sent replies in the open: their compact card, Correct and Stop auto-send for this topic,
and `/support autosend` listing them (signed requests, fake Slack API, a real database)."""

from __future__ import annotations

import json

from bot.store import drafts, outbox, runtime
from bot.store.models import Draft, OutboxItem
from handoff import cards, modals
from tests.handoff.conftest import NOW, Desk
from tests.handoff.test_admin import ask


async def auto_sent(desk: Desk) -> Draft:
    draft = await desk.draft(question="Where is my parcel <!here>?",
                             text="It ships within two business days.", decision="auto",
                             post=False, topic="answer-7")
    await drafts.mark_auto_sent(draft, channel="slack", now=NOW, enqueue=outbox.enqueue_reply)
    await desk.handle.notifier.auto_sent(draft.id)
    return await Draft.get(id=draft.id)


async def test_an_auto_send_posts_its_card_and_correct_sends_a_follow_up(desk: Desk) -> None:
    draft = await auto_sent(desk)
    [card] = desk.slack.calls_to("chat.postMessage")
    shown = json.dumps(card.json("blocks"))
    assert "Sent automatically" in shown and "It ships within two business days." in shown
    assert "@\\u2060here" in shown and "<!here>" not in str(card.params["text"])
    assert "Resetting your password" in shown and "0.61" in shown
    actions = next(b for b in card.json("blocks") if b["type"] == "actions")["elements"]
    assert [a["action_id"] for a in actions] == [cards.CORRECT, cards.STOP_TOPIC]
    assert draft.approval_ts is not None

    value = cards.action_value(draft=draft.id, conversation=draft.conversation_id)  # type: ignore[attr-defined]
    await desk.edge.click(user="UAGENT1", action_id=cards.CORRECT, value=value)
    [opened] = desk.slack.calls_to("views.open")
    view = opened.json("view")
    assert "It ships within two business days." in json.dumps(view)
    await desk.edge.submit(user="UAGENT1", callback_id=modals.REPLY_VIEW,
                           private_metadata=view["private_metadata"],
                           values={modals.TEXT_BLOCK: {modals.TEXT_ACTION:
                                                       "Correction: it ships today."}})
    await desk.settle()
    texts = [i.payload["text"] for i in await OutboxItem.all().order_by("id")]
    assert texts == ["It ships within two business days.", "Correction: it ships today."]
    correction = await OutboxItem.all().order_by("-id").first()
    assert correction is not None and correction.channel == "slack"


async def test_stop_auto_send_for_the_topic(desk: Desk) -> None:
    draft = await auto_sent(desk)
    value = cards.action_value(draft=draft.id, conversation=draft.conversation_id)  # type: ignore[attr-defined]
    await desk.edge.click(user="UAGENT2", action_id=cards.STOP_TOPIC, value=value)
    await desk.settle()
    assert await runtime.stopped_topics() == frozenset({"answer-7"})
    notes = [str(c.params["text"]) for c in desk.slack.calls_to("chat.postMessage")]
    assert any("<@UAGENT2> stopped auto-send for this topic" in n for n in notes)


async def test_support_autosend_lists_the_last_auto_sends(admin_desk: Desk) -> None:
    await auto_sent(admin_desk)
    listing = await ask(admin_desk, "autosend")
    assert "Last 1 automatic replies" in listing
    assert "Where is my parcel &lt;!here&gt;? → It ships within two business days." in listing
