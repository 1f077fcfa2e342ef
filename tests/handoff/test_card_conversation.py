"""The whole conversation on the card and in its forms (issue 13), through the real bolt app
with signed requests against the fake Slack Web API (which refuses Block Kit over its limits)."""

from __future__ import annotations

import json
from typing import Any

import pytest
from slack_sdk.errors import SlackApiError

from bot.domain import Channel, Inbound, Sender
from bot.flow.outbox import OutboxDispatcher
from bot.store import inbox
from bot.store.models import Conversation, Customer, Draft
from channels.slack import SlackSender
from handoff import cards, conversation_view
from tests.handoff.conftest import APPROVAL, NOW, Desk


def ids(draft: Draft) -> str:
    return cards.action_value(draft=draft.id, conversation=draft.conversation_id)  # type: ignore[attr-defined]


def blocks_text(blocks: Any) -> str:
    return json.dumps(blocks, ensure_ascii=False)


def card_post(desk: Desk, draft: Draft) -> dict[str, Any]:
    """The card as Slack received it (postMessage of this draft's card)."""
    post = next(c for c in desk.slack.calls_to("chat.postMessage")
                if f'"card:{draft.id}"' in json.dumps(c.json("blocks")))
    return {"text": post.params["text"], "blocks": post.json("blocks")}


async def thread_of(draft: Draft) -> str:
    conversation = await Conversation.get(id=draft.conversation_id)  # type: ignore[attr-defined]
    return conversation.thread_key.split(":", 1)[1]


async def open_modal(desk: Desk, draft: Draft, action_id: str,
                     value: str | None = None) -> dict[str, Any]:
    before = len(desk.slack.calls_to("views.open"))
    response = await desk.edge.click(user="UAGENT1", action_id=action_id,
                                     value=value or ids(draft))
    assert response.status_code == 200
    await desk.settle()
    opened = desk.slack.calls_to("views.open")
    assert len(opened) == before + 1, desk.slack.refused
    view: dict[str, Any] = opened[-1].json("view")
    return view


async def answered_conversation(desk: Desk) -> tuple[Draft, Draft]:
    """Ada asks, an agent approves the draft and it is delivered to Slack, Ada asks again."""
    first = await desk.draft(question="My invoice for March is missing <!channel>",
                             text="Hi Ada, invoices are under Billing → Invoices.")
    await desk.edge.click(user="UAGENT1", action_id=cards.APPROVE, value=ids(first))
    await desk.settle()
    dispatcher = OutboxDispatcher(senders={Channel.SLACK: SlackSender(client=desk.app.client)},
                                  notifier=desk.handle.notifier, owner="t", max_attempts=3,
                                  backoff_base=0.1, lease_seconds=30)
    assert await dispatcher.run_once() == 1
    await desk.settle()
    second = await desk.draft(question="I looked there, March is not listed. Can you resend it?",
                              text="Hi Ada, I have re-sent the March invoice.",
                              thread=await thread_of(first))
    return first, second


async def test_three_messages_the_card_shows_the_earlier_message_and_our_reply(
    desk: Desk,
) -> None:
    _, second = await answered_conversation(desk)
    card = blocks_text(card_post(desk, second)["blocks"])
    assert "Earlier in this conversation* · 2 messages (1 from the customer, 1 reply sent)" in card
    earlier = card.index("My invoice for March is missing")
    reply = card.index("invoices are under Billing")
    question = card.index("Customer wrote*\\n> I looked there, March is not listed")
    assert earlier < reply < question  # oldest first, then the question being answered
    assert "Reply sent* by <@UAGENT1>" in card
    assert "&lt;!channel&gt;" in card and "<!channel>" not in card
    assert conversation_view.SHOW_CONVERSATION in card

    view = await open_modal(desk, second, cards.EDIT)
    modal = blocks_text(view["blocks"])
    assert modal.index("My invoice for March") < modal.index("Billing → Invoices") \
        < modal.index("March is not listed")
    input_block = view["blocks"][-1]
    assert input_block["element"]["initial_value"] == "Hi Ada, I have re-sent the March invoice."

    whole = await open_modal(desk, second, conversation_view.SHOW_CONVERSATION,
                             value=json.dumps({"draft": second.id}))
    text = blocks_text(whole["blocks"])
    assert "The message this draft answers" in text
    assert text.index("My invoice for March") < text.index("Billing → Invoices") \
        < text.index("The message this draft answers")
    assert desk.slack.refused == []


async def test_a_note_written_in_the_card_thread_appears_in_the_edit_modal(desk: Desk) -> None:
    draft = await desk.draft()
    response = await desk.edge.event({
        "type": "message", "channel": APPROVAL, "user": "UAGENT2",
        "text": "Careful: she is on the <legacy> plan & has 2FA off", "ts": "1700009999.000001",
        "thread_ts": draft.approval_ts})
    assert response.status_code == 200
    await desk.settle()
    [update] = desk.card_calls("chat.update", draft)
    assert "Since this message: 1 note" in blocks_text(update.json("blocks"))
    view = await open_modal(desk, draft, cards.EDIT)
    modal = blocks_text(view["blocks"])
    assert "Note* by <@UAGENT2>" in modal
    assert "she is on the &lt;legacy&gt; plan &amp; has 2FA off" in modal
    # Below the question it answers, above the input.
    assert modal.index("How do I reset my password?") < modal.index("Careful: she is")


async def test_a_previous_conversation_of_the_same_customer_is_linked(desk: Desk) -> None:
    old = await desk.draft(question="Do you ship to Norway?", text="Yes, in 5 days.")
    old_conversation = await Conversation.get(id=old.conversation_id)  # type: ignore[attr-defined]
    await Conversation.filter(id=old_conversation.id).update(subject="Shipping to Norway",
                                                             status="answered")
    new = await desk.draft(question="How do I reset my password?")
    card = blocks_text(card_post(desk, new)["blocks"])
    assert "Earlier conversations of this customer" in card
    link = (f"https://fake.slack.com/archives/{APPROVAL}/"
            f"p{str(old.approval_ts).replace('.', '')}")
    assert f"<{link}|#{old_conversation.id} · Shipping to Norway>" in card
    assert "answered" in card and "Do you ship to Norway?" in card


async def test_the_same_person_writing_by_mail_earlier_is_linked_too(desk: Desk) -> None:
    mailed = await inbox.accept(Inbound(
        channel=Channel.EMAIL, thread_key="<m1@example.com>", channel_message_id="<m1@example.com>",
        text="Can I pay by invoice?", subject="Paying by invoice",
        sender=Sender(id="ada@example.com", email="ada@example.com", name="Ada"),
        received_at=NOW, metadata={}))
    draft = await desk.draft(question="How do I reset my password?")
    card = blocks_text(card_post(desk, draft)["blocks"])
    assert f"#{mailed.conversation_id} · Paying by invoice" in card
    assert "(email, open," in card and "Can I pay by invoice?" in card
    # Two customer rows (mail by address, Slack by user id), one person: the same address.
    assert await Customer.filter(email="ada@example.com").count() == 2


async def test_the_card_links_the_customers_own_slack_message(desk: Desk) -> None:
    draft = await desk.draft()
    card = card_post(desk, draft)
    conversation = await Conversation.get(id=draft.conversation_id)  # type: ignore[attr-defined]
    ts = conversation.thread_key.split(":", 1)[1]
    facts = blocks_text(card["blocks"][1])
    assert f"<https://fake.slack.com/archives/CSUPPORT/p{ts.replace('.', '')}|their message>" \
        in facts


async def test_block_kit_limits_hold_for_a_40_message_conversation_with_huge_texts(
    desk: Desk,
) -> None:
    huge = ("Tom & Jerry <!here> <https://evil.example|acme.example> ünïcödé 🎉 " * 800)[:30_000]
    thread = None
    for i in range(40):
        await desk.customer_message(f"message {i}: {huge}", thread=thread)
        if thread is None:
            conversation = await Conversation.all().order_by("-id").first()
            assert conversation is not None
            thread = conversation.thread_key.split(":", 1)[1]
    draft = await desk.draft(question=huge, text=huge[:20_000], thread=thread)
    assert draft.approval_ts is not None, desk.slack.refused
    card = card_post(desk, draft)
    assert len(card["blocks"]) <= 50
    assert "Earlier in this conversation* · 40 messages" in blocks_text(card["blocks"])
    edit = await open_modal(desk, draft, cards.EDIT)
    assert "the 32 oldest under *Show conversation*" in blocks_text(edit["blocks"])
    whole = await open_modal(desk, draft, conversation_view.SHOW_CONVERSATION,
                             value=json.dumps({"draft": draft.id}))
    assert len(whole["blocks"]) <= 100
    assert "older messages are not shown" in blocks_text(whole["blocks"])
    assert "<!here>" not in blocks_text(whole["blocks"])
    assert desk.slack.refused == []


async def test_the_fake_refuses_what_slack_refuses(desk: Desk) -> None:
    # The limits above are enforced, not assumed: 51 blocks are refused like Slack does.
    blocks = [{"type": "section", "text": {"type": "mrkdwn", "text": "x"}}] * 51
    with pytest.raises(SlackApiError) as refused:
        await desk.app.client.chat_postMessage(channel=APPROVAL, text="t", blocks=blocks)
    assert refused.value.response["error"] == "invalid_blocks"
    assert "51 blocks" in desk.slack.refused[-1][1][0]


async def test_only_approvers_see_the_conversation(desk: Desk) -> None:
    draft = await desk.draft()
    await desk.edge.click(user="USTRANGER", action_id=conversation_view.SHOW_CONVERSATION,
                          value=json.dumps({"draft": draft.id}))
    await desk.settle()
    assert desk.slack.calls_to("views.open") == []
    [refusal] = desk.slack.calls_to("chat.postEphemeral")
    assert refusal.params["user"] == "USTRANGER"


async def test_the_reply_form_of_a_take_over_shows_the_conversation(desk: Desk) -> None:
    _, second = await answered_conversation(desk)
    view = await open_modal(desk, second, cards.TAKE_OVER)
    assert view["callback_id"] == "sb_reply_view"
    modal = blocks_text(view["blocks"])
    assert modal.index("My invoice for March") < modal.index("Billing → Invoices") \
        < modal.index("Customer wrote* · the message this reply answers\\n> I looked there")
    assert "Open the customer's message in Slack" in modal
