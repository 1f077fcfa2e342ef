"""Approval channel decisions through signed HTTP requests to /slack/events."""

from __future__ import annotations

import asyncio
import json
from typing import Any

from bot.pipeline.learning import edit_ratio
from bot.store.models import Conversation, Draft, LearningSignal, Message, OutboxItem
from handoff import cards, modals
from tests.handoff.conftest import APPROVAL, Desk


def ids(draft: Draft) -> str:
    return cards.action_value(draft=draft.id, conversation=draft.conversation_id)  # type: ignore[attr-defined]


def card_text(call: Any) -> str:
    return json.dumps(call.json("blocks"))


async def test_card_is_posted_with_the_four_buttons(desk: Desk) -> None:
    draft = await desk.draft()
    [post] = desk.slack.calls_to("chat.postMessage")
    assert post.params["channel"] == APPROVAL
    actions = next(b for b in post.json("blocks") if b["type"] == "actions")["elements"]
    assert [a["action_id"] for a in actions] == [cards.APPROVE, cards.EDIT, cards.REJECT,
                                                  cards.TAKE_OVER]
    assert draft.approval_ts is not None
    conversation = await Conversation.get(id=draft.conversation_id)  # type: ignore[attr-defined]
    assert conversation.approval_thread_ts == draft.approval_ts
    assert "Drafted offline" in card_text(post)


async def test_approve_sends_once_and_updates_the_card(desk: Desk) -> None:
    draft = await desk.draft()
    response = await desk.edge.click(user="UAGENT1", action_id=cards.APPROVE, value=ids(draft))
    assert response.status_code == 200
    await desk.settle()
    item = await OutboxItem.get(draft_id=draft.id)
    assert item.payload["text"] == draft.text
    assert item.payload["decided_by"] == "UAGENT1"
    signal = await LearningSignal.get(draft_id=draft.id)
    assert (signal.action, signal.agent, signal.edit_ratio) == ("approved", "UAGENT1", 0.0)
    [update] = desk.card_calls("chat.update", draft)
    assert "Approved by <@UAGENT1>" in card_text(update)
    header = update.json("blocks")[0]["text"]["text"]
    assert header.startswith("Approved · sending") and "Review draft" not in header
    assert cards.APPROVE not in card_text(update)  # no buttons left to decide again
    assert desk.learned[0][:2] == ("How do I reset my password?", draft.text)


async def test_two_simultaneous_approvals_send_exactly_once(desk: Desk) -> None:
    draft = await desk.draft()
    first, second = await asyncio.gather(
        desk.edge.click(user="UAGENT1", action_id=cards.APPROVE, value=ids(draft)),
        desk.edge.click(user="UAGENT2", action_id=cards.APPROVE, value=ids(draft)),
    )
    assert (first.status_code, second.status_code) == (200, 200)
    await desk.settle()
    assert await OutboxItem.filter(draft_id=draft.id).count() == 1
    assert await LearningSignal.filter(draft_id=draft.id).count() == 1
    winner = (await Draft.get(id=draft.id)).decided_by
    loser = "UAGENT2" if winner == "UAGENT1" else "UAGENT1"
    [ephemeral] = desk.slack.calls_to("chat.postEphemeral")
    assert ephemeral.params["user"] == loser
    assert f"already approved by <@{winner}>" in ephemeral.params["text"]


async def test_approve_and_reject_at_once_one_wins(desk: Desk) -> None:
    draft = await desk.draft()
    meta = json.dumps({"draft": draft.id, "conversation": draft.conversation_id})  # type: ignore[attr-defined]
    await asyncio.gather(
        desk.edge.click(user="UAGENT1", action_id=cards.APPROVE, value=ids(draft)),
        desk.edge.submit(user="UAGENT2", callback_id=modals.REJECT_VIEW, private_metadata=meta,
                         values={modals.REASON_BLOCK: {modals.REASON_ACTION: "wrong product"}}),
    )
    await desk.settle()
    final = await Draft.get(id=draft.id)
    assert final.status in ("approved", "rejected")
    assert await LearningSignal.filter(draft_id=draft.id).count() == 1
    assert await OutboxItem.filter(draft_id=draft.id).count() == (final.status == "approved")


async def test_unauthorised_click_is_refused(desk: Desk) -> None:
    draft = await desk.draft()
    await desk.edge.click(user="UOUTSIDER", action_id=cards.APPROVE, value=ids(draft))
    await desk.settle()
    [ephemeral] = desk.slack.calls_to("chat.postEphemeral")
    assert ephemeral.params["user"] == "UOUTSIDER"
    assert "Only approvers" in ephemeral.params["text"]
    assert (await Draft.get(id=draft.id)).status == "pending"
    assert await OutboxItem.all().count() == 0


async def test_user_group_members_may_decide(desk: Desk) -> None:
    draft = await desk.draft()
    await desk.edge.click(user="UGROUPIE", action_id=cards.APPROVE, value=ids(draft))
    await desk.settle()
    assert (await Draft.get(id=draft.id)).decided_by == "UGROUPIE"
    assert desk.slack.calls_to("usergroups.users.list")[0].params["usergroup"] == "SAGENTS"


async def test_without_approvers_the_approval_channel_members_decide(
    db: object, make_desk: Any
) -> None:
    desk: Desk = await make_desk(SUPPORTBOT_APPROVERS=None)
    draft = await desk.draft()
    await desk.edge.click(user="UNOTMEMBER", action_id=cards.APPROVE, value=ids(draft))
    await desk.edge.click(user="UMEMBER", action_id=cards.APPROVE, value=ids(draft))
    await desk.settle()
    assert (await Draft.get(id=draft.id)).decided_by == "UMEMBER"
    assert len(desk.slack.calls_to("conversations.members")) == 1  # cached


async def test_edit_modal_is_prefilled_and_the_edit_is_sent_and_measured(desk: Desk) -> None:
    draft = await desk.draft()
    await desk.edge.click(user="UAGENT1", action_id=cards.EDIT, value=ids(draft))
    [opened] = desk.slack.calls_to("views.open")
    view = opened.json("view")
    assert opened.params["trigger_id"].startswith("trigger.")
    assert view["blocks"][-1]["element"]["initial_value"] == draft.text
    edited = "Hi Ada, go to Settings → Security → Reset password. We also emailed you a link."
    response = await desk.edge.submit(
        user="UAGENT1", callback_id=modals.EDIT_VIEW, private_metadata=view["private_metadata"],
        values={modals.TEXT_BLOCK: {modals.TEXT_ACTION: edited}})
    assert response.status_code == 200
    await desk.settle()
    item = await OutboxItem.get(draft_id=draft.id)
    assert item.payload["text"] == edited
    signal = await LearningSignal.get(draft_id=draft.id)
    assert signal.action == "edited"
    assert signal.edit_ratio == edit_ratio(draft.text, edited) > 0.1
    assert (signal.original_text, signal.final_text) == (draft.text, edited)
    [update] = desk.card_calls("chat.update", draft)
    assert "Edited by <@UAGENT1>" in card_text(update)
    assert f"ratio {signal.edit_ratio:.2f}" in card_text(update)


async def test_empty_edit_is_refused_in_the_modal(desk: Desk) -> None:
    draft = await desk.draft()
    meta = json.dumps({"draft": draft.id, "conversation": draft.conversation_id})  # type: ignore[attr-defined]
    response = await desk.edge.submit(user="UAGENT1", callback_id=modals.EDIT_VIEW,
                                      private_metadata=meta,
                                      values={modals.TEXT_BLOCK: {modals.TEXT_ACTION: "  "}})
    assert response.json()["response_action"] == "errors"
    assert (await Draft.get(id=draft.id)).status == "pending"


async def test_reject_with_reason_leaves_it_with_humans(desk: Desk) -> None:
    draft = await desk.draft()
    await desk.edge.click(user="UAGENT1", action_id=cards.REJECT, value=ids(draft))
    view = desk.slack.calls_to("views.open")[0].json("view")
    await desk.edge.submit(user="UAGENT1", callback_id=modals.REJECT_VIEW,
                           private_metadata=view["private_metadata"],
                           values={modals.REASON_BLOCK: {modals.REASON_ACTION: "outdated"}})
    await desk.settle()
    assert (await Draft.get(id=draft.id)).status == "rejected"
    conversation = await Conversation.get(id=draft.conversation_id)  # type: ignore[attr-defined]
    assert conversation.status == "human"
    signal = await LearningSignal.get(draft_id=draft.id)
    assert (signal.action, signal.reason) == ("rejected", "outdated")
    assert await OutboxItem.all().count() == 0
    assert "Reason: outdated" in card_text(desk.card_calls("chat.update", draft)[-1])


async def test_click_after_a_decision_names_who_decided(desk: Desk) -> None:
    draft = await desk.draft()
    await desk.edge.click(user="UAGENT1", action_id=cards.APPROVE, value=ids(draft))
    await desk.edge.click(user="UAGENT2", action_id=cards.EDIT, value=ids(draft))
    await desk.settle()
    assert desk.slack.calls_to("views.open") == []
    [ephemeral] = desk.slack.calls_to("chat.postEphemeral")
    assert "already approved by <@UAGENT1>" in ephemeral.params["text"]


async def test_take_over_then_reply_sends_the_agents_text(desk: Desk) -> None:
    draft = await desk.draft()
    await desk.edge.click(user="UAGENT1", action_id=cards.TAKE_OVER, value=ids(draft))
    conversation = await Conversation.get(id=draft.conversation_id)  # type: ignore[attr-defined]
    assert (conversation.status, conversation.assignee) == ("human", "UAGENT1")
    view = desk.slack.calls_to("views.open")[0].json("view")
    assert view["callback_id"] == modals.REPLY_VIEW
    await desk.edge.click(user="UAGENT2", action_id=cards.TAKE_OVER, value=ids(draft))
    await desk.edge.submit(user="UAGENT1", callback_id=modals.REPLY_VIEW,
                           private_metadata=view["private_metadata"],
                           values={modals.TEXT_BLOCK: {modals.TEXT_ACTION: "I'll call you."}})
    await desk.settle()
    item = await OutboxItem.get()
    assert (item.payload["text"], item.payload["decided_by"]) == ("I'll call you.", "UAGENT1")
    assert (await Draft.get(id=draft.id)).status == "superseded"
    signal = await LearningSignal.get()
    assert (signal.action, signal.draft_id) == ("manual", draft.id)  # type: ignore[attr-defined]
    refused = desk.slack.calls_to("chat.postEphemeral")
    assert any("<@UAGENT1> has already taken over" in c.params["text"] for c in refused)
    assert any("Owned by <@UAGENT1>" in card_text(c)
               for c in desk.card_calls("chat.update", draft))


async def test_release_hands_the_conversation_back(desk: Desk) -> None:
    draft = await desk.draft()
    await desk.edge.click(user="UAGENT1", action_id=cards.TAKE_OVER, value=ids(draft))
    await desk.edge.click(user="UAGENT1", action_id=cards.RELEASE, value=ids(draft))
    await desk.settle()
    conversation = await Conversation.get(id=draft.conversation_id)  # type: ignore[attr-defined]
    assert (conversation.status, conversation.assignee) == ("open", None)


async def test_thread_messages_are_internal_notes(desk: Desk) -> None:
    draft = await desk.draft()
    response = await desk.edge.event({"type": "message", "channel": APPROVAL, "user": "UAGENT1",
                                      "text": "Customer is a VIP", "ts": "1700009999.000001",
                                      "thread_ts": draft.approval_ts})
    assert response.status_code == 200
    note = await Message.get(direction="note")
    assert (note.text, note.author) == ("Customer is a VIP", "UAGENT1")
    assert await OutboxItem.all().count() == 0


async def test_follow_up_drafts_go_into_the_first_cards_thread(desk: Desk) -> None:
    first = await desk.draft()
    root = first.approval_ts
    conversation = await Conversation.get(id=first.conversation_id)  # type: ignore[attr-defined]
    thread = conversation.thread_key.split(":", 1)[1]
    await desk.draft(question="Still broken", thread=thread)
    posts = desk.slack.calls_to("chat.postMessage")
    assert posts[-1].params["thread_ts"] == root


async def test_dead_letter_shows_the_error_and_retry_works(desk: Desk) -> None:
    draft = await desk.draft()
    await desk.edge.click(user="UAGENT1", action_id=cards.APPROVE, value=ids(draft))
    await desk.settle()
    item = await OutboxItem.get(draft_id=draft.id)
    await OutboxItem.filter(id=item.id).update(status="dead", attempts=8,
                                               last_error="Slack refused: is_archived")
    await desk.handle.notifier.delivery_failed(item.id)
    update = desk.card_calls("chat.update", draft)[-1]
    header = update.json("blocks")[0]["text"]["text"]
    assert header.startswith("❌ Delivery failed — Slack refused: is_archived"), header
    sections = [b["text"]["text"] for b in update.json("blocks")
                if b["type"] == "section" and "text" in b]
    state = next(t for t in sections if "Delivery failed" in t)
    # Nobody owns the conversation: the state line mentions the approvers' group.
    assert state.startswith("❌ *Delivery failed* — Slack refused: is_archived"), state
    assert "<!subteam^SAGENTS>" in state
    assert cards.RETRY in card_text(update)
    await desk.edge.click(user="UAGENT1", action_id=cards.RETRY,
                          value=cards.action_value(outbox=item.id, draft=draft.id))
    await desk.settle()
    assert (await OutboxItem.get(id=item.id)).status == "pending"


async def test_customer_follow_up_is_posted_in_the_thread(desk: Desk) -> None:
    draft = await desk.draft()
    message_id = await desk.customer_message("Hello? Anyone?",
                                             thread=(await Conversation.get(
                                                 id=draft.conversation_id)  # type: ignore[attr-defined]
                                             ).thread_key.split(":", 1)[1])
    await desk.handle.notifier.customer_followup(message_id)
    post = desk.slack.calls_to("chat.postMessage")[-1]
    assert post.params["thread_ts"] == draft.approval_ts
    assert "Hello? Anyone?" in card_text(post)


async def test_superseded_draft_card_is_marked(desk: Desk) -> None:
    draft = await desk.draft()
    await Draft.filter(id=draft.id).update(status="superseded", decided_by="customer")
    await desk.handle.notifier.draft_superseded(draft.id)
    update = desk.card_calls("chat.update", draft)[-1]
    assert "Superseded by a newer customer message" in card_text(update)


async def test_rate_limited_card_post_is_retried(desk: Desk) -> None:
    desk.slack.ratelimit("chat.postMessage", times=1, retry_after=0)
    draft = await desk.draft()
    assert draft.approval_ts is not None
    assert len(desk.slack.calls_to("chat.postMessage")) == 2


async def test_stale_drafts_are_reminded_once(desk: Desk) -> None:
    from datetime import timedelta

    from tests.handoff.conftest import NOW

    draft = await desk.draft()
    await Draft.filter(id=draft.id).update(created_at=NOW - timedelta(hours=2))
    await Message.all().update(created_at=NOW - timedelta(hours=2))
    assert await desk.handle.notifier.remind_stale(older_than=timedelta(hours=1), now=NOW) == 1
    assert await desk.handle.notifier.remind_stale(older_than=timedelta(hours=1), now=NOW) == 0
    post = desk.slack.calls_to("chat.postMessage")[-1]
    assert post.params["thread_ts"] == draft.approval_ts
    assert "waiting 120 min" in post.params["text"]
