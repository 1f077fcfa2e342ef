"""A customer's edit of their Slack message reaches the pending draft's card (signed
``message_changed`` event through the real bolt app, fake Slack API, a real database)."""

from __future__ import annotations

import json

from bot.store import inbox
from bot.store.models import Message
from channels.slack import register_customer_channel
from tests.handoff.conftest import Desk


async def test_an_edited_question_updates_the_pending_drafts_card(desk: Desk) -> None:
    register_customer_channel(desk.app, settings=desk.settings, accept=inbox.accept,
                              on_profile=inbox.update_slack_profile,
                              on_edit=desk.handle.customer_edited)
    draft = await desk.draft(question="How do I reset my pasword?")
    message = await Message.get(id=draft.message_id)  # type: ignore[attr-defined]
    channel, ts = str(message.channel_message_id).split(":", 1)
    response = await desk.edge.event({
        "type": "message", "subtype": "message_changed", "channel": channel,
        "hidden": True, "ts": "1700009999.000100",
        "message": {"type": "message", "user": "UCUST", "ts": ts,
                    "text": "How do I reset my password <!channel>?"},
        "previous_message": {"type": "message", "user": "UCUST", "ts": ts,
                             "text": "How do I reset my pasword?"}})
    assert response.status_code == 200
    await desk.settle()
    stored = await Message.get(id=message.id)
    assert stored.text == "How do I reset my password @channel?"  # plain, as at intake
    assert stored.metadata["edits"] == ["How do I reset my pasword?"]
    update = desk.card_calls("chat.update", draft)[-1]
    shown = json.dumps(update.json("blocks"), ensure_ascii=False)
    assert "How do I reset my password @\u2060channel?" in shown  # inert: pings nobody
    assert await Message.filter(conversation_id=message.conversation_id).count() == 1  # type: ignore[attr-defined]
