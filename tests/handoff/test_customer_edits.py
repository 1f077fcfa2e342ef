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


async def edit_event(desk: Desk, message: Message, text: str) -> None:
    channel, ts = str(message.channel_message_id).split(":", 1)
    response = await desk.edge.event({
        "type": "message", "subtype": "message_changed", "channel": channel,
        "hidden": True, "ts": "1700009999.000200",
        "message": {"type": "message", "user": "UCUST", "ts": ts, "text": text},
        "previous_message": {"type": "message", "user": "UCUST", "ts": ts,
                             "text": message.text}})
    assert response.status_code == 200
    await desk.settle()


async def test_an_edit_while_the_draft_is_pending_is_drafted_again(desk: Desk) -> None:
    from bot.flow.router import Router
    from bot.pipeline.drafting.offline import OfflineDrafter
    from bot.store.models import Conversation, Draft, InboxItem
    from tests.bot.flow.test_router import PARCEL, FixedRetriever
    from tests.handoff.conftest import NOW

    register_customer_channel(desk.app, settings=desk.settings, accept=inbox.accept,
                              on_profile=inbox.update_slack_profile,
                              on_edit=desk.handle.customer_edited)
    draft = await desk.draft(question="How do I reset my password?")
    await Conversation.filter(id=draft.conversation_id).update(  # type: ignore[attr-defined]
        status="awaiting_approval")  # as the router leaves it
    message = await Message.get(id=draft.message_id)  # type: ignore[attr-defined]
    await InboxItem.filter(message_id=message.id).update(status="done")  # routed already
    await edit_event(desk, message, "Sorry, I meant: when will my parcel ship?")
    # The message is routed again: the old draft answers a question nobody asks any more.
    assert await InboxItem.filter(message_id=message.id, status="pending").count() == 1
    router = Router(settings=desk.settings, knowledge=FixedRetriever([PARCEL]), learned=None,
                    drafter=OfflineDrafter(), notifier=desk.handle.notifier, clock=lambda: NOW)
    redrafted = await router.process(message.id)
    await desk.settle()
    assert redrafted is not None and redrafted.id != draft.id
    assert (await Draft.get(id=draft.id)).status == "superseded"
    card = desk.slack.calls_to("chat.postMessage")[-1]
    assert card.params["thread_ts"] == draft.approval_ts
    assert "when will my parcel ship?" in json.dumps(card.json("blocks"))
    assert "Superseded" in json.dumps(desk.card_calls("chat.update", draft)[-1].json("blocks"))


async def test_an_edit_after_the_answer_is_shown_in_the_thread(desk: Desk) -> None:
    from bot.store.models import Draft, InboxItem

    register_customer_channel(desk.app, settings=desk.settings, accept=inbox.accept,
                              on_profile=inbox.update_slack_profile,
                              on_edit=desk.handle.customer_edited)
    draft = await desk.draft(question="How do I reset my password?")
    await Draft.filter(id=draft.id).update(status="approved", decided_by="UAGENT1")
    message = await Message.get(id=draft.message_id)  # type: ignore[attr-defined]
    await InboxItem.filter(message_id=message.id).update(status="done")  # routed already
    await edit_event(desk, message, "How do I reset my password on <@UAGENT1>'s laptop?")
    assert not await InboxItem.filter(message_id=message.id, status="pending").exists()
    note = desk.slack.calls_to("chat.postMessage")[-1]
    assert note.params["thread_ts"] == draft.approval_ts
    assert str(note.params["text"]).startswith("✏️ The customer edited their message. Now: ")
    assert "<@UAGENT1>" not in str(note.params["text"])  # a customer's mention pings nobody
