"""The top-level card says what is really going on: owned by whom, sending, failing, dead (with
who must act), long edited replies whole in the thread, people named (signed requests to the
real bolt app, the fake Slack API, a real database)."""

from __future__ import annotations

import html
import json
from typing import Any

from bot.store.models import Draft, OutboxItem
from handoff import cards, modals
from handoff.text import THREAD_CHUNK
from tests.handoff.conftest import Desk


def ids(draft: Draft) -> str:
    return cards.action_value(draft=draft.id, conversation=draft.conversation_id)  # type: ignore[attr-defined]


def header(call: Any) -> str:
    return str(call.json("blocks")[0]["text"]["text"])


def state(call: Any) -> str:
    """The state line: the first line of the section after the divider."""
    blocks = call.json("blocks")
    after = blocks[[b["type"] for b in blocks].index("divider") + 1]
    return str(after["text"]["text"]).splitlines()[0]


async def two_cards(desk: Desk) -> tuple[Draft, Draft]:
    """A conversation whose first draft was superseded by a follow-up: two cards, the second
    in the first one's thread."""
    first = await desk.draft(question="Can I get a refund?", thread="T1")
    await Draft.filter(id=first.id).update(status="superseded", decided_by="customer")
    second = await desk.draft(question="Hello? I asked about a refund.", thread="T1")
    assert desk.slack.calls_to("chat.postMessage")[-1].params["thread_ts"] == first.approval_ts
    return first, second


async def test_take_over_on_a_thread_card_updates_the_top_level_card(desk: Desk) -> None:
    desk.slack.add_user("UAGENT2", name="Bob Baker")
    first, second = await two_cards(desk)
    await desk.edge.click(user="UAGENT2", action_id=cards.TAKE_OVER, value=ids(second))
    await desk.settle()
    top = desk.card_calls("chat.update", first)[-1]
    assert header(top).startswith("Superseded · 👤 Owned by Bob Baker"), header(top)
    # The customer's follow-up waits on us: that is the state, and it names the new owner.
    assert state(top).startswith("🔴 *Customer wrote again"), state(top)
    assert "waiting on us* · <@UAGENT2>" in state(top)
    assert "👤 Owned by <@UAGENT2>" in json.dumps(top.json("blocks"), ensure_ascii=False)
    thread_card = desk.card_calls("chat.update", second)[-1]
    assert header(thread_card).startswith("👤 Owned by Bob Baker")


async def test_a_dead_reply_by_hand_marks_the_top_card_and_mentions_its_owner(
    desk: Desk,
) -> None:
    first, second = await two_cards(desk)
    await desk.edge.click(user="UAGENT1", action_id=cards.TAKE_OVER, value=ids(second))
    view = desk.slack.calls_to("views.open")[-1].json("view")
    await desk.edge.submit(user="UAGENT1", callback_id=modals.REPLY_VIEW,
                           private_metadata=view["private_metadata"],
                           values={modals.TEXT_BLOCK: {modals.TEXT_ACTION: "I'll call you."}})
    await desk.settle()
    item = await OutboxItem.get()
    assert item.payload["text"] == "I'll call you."
    await OutboxItem.filter(id=item.id).update(status="dead", attempts=8,
                                               last_error="channel_not_found")
    await desk.handle.notifier.delivery_failed(item.id)
    top = desk.card_calls("chat.update", first)[-1]
    assert header(top).startswith("❌ Delivery failed — channel_not_found"), header(top)
    assert state(top).startswith("❌ *Delivery failed* — channel_not_found"), state(top)
    assert "<@UAGENT1>" in state(top)


async def test_the_card_says_sending_then_failing_while_retries_go_on(desk: Desk) -> None:
    draft = await desk.draft()
    await desk.edge.click(user="UAGENT1", action_id=cards.APPROVE, value=ids(draft))
    await desk.settle()
    sending = desk.card_calls("chat.update", draft)[-1]
    assert header(sending).startswith("Approved · sending")
    assert state(sending) == "⏳ *Sending* (queued)"
    item = await OutboxItem.get(draft_id=draft.id)
    await OutboxItem.filter(id=item.id).update(attempts=1, last_error="ratelimited")
    await desk.handle.notifier.delivery_retrying(item.id)
    failing = desk.card_calls("chat.update", draft)[-1]
    assert header(failing).startswith("Approved · ⚠️ sending is failing"), header(failing)
    assert state(failing).startswith("⚠️ *Sending is failing* (attempt 1: ratelimited)")
    assert "<!subteam^SAGENTS>" in state(failing)  # unowned: the approvers' group


async def test_a_pending_card_mentions_the_approvers(desk: Desk) -> None:
    await desk.draft()
    [card] = desk.slack.calls_to("chat.postMessage")
    assert state(card) == "🟡 *Waiting for review* · <!subteam^SAGENTS>"


async def test_a_long_edited_reply_is_posted_whole_into_the_thread(desk: Desk) -> None:
    draft = await desk.draft()
    await desk.edge.click(user="UAGENT1", action_id=cards.EDIT, value=ids(draft))
    view = desk.slack.calls_to("views.open")[-1].json("view")
    # Within the modal's 3,000 characters, but far over the card's 1,400, and so full of
    # characters mrkdwn escapes that it needs more than one thread post.
    paragraph = "Fees & taxes (<EU> & <UK>) & R&D & Q&A. "
    edited = "Hi Ada,\n\n" + "".join(paragraph for _ in range(70)) + "\n\nBest, Support"
    assert 1400 < len(edited) <= 3000
    await desk.edge.submit(user="UAGENT1", callback_id=modals.EDIT_VIEW,
                           private_metadata=view["private_metadata"],
                           values={modals.TEXT_BLOCK: {modals.TEXT_ACTION: edited}})
    await desk.settle()
    update = desk.card_calls("chat.update", draft)[-1]
    assert "full texts are in this card" in json.dumps(update.json("blocks"))
    posts = [c for c in desk.slack.calls_to("chat.postMessage")
             if str(c.params.get("text", "")).startswith("Full reply as sent")]
    assert len(posts) >= 2, [str(c.params.get("text"))[:80] for c in posts]
    assert all(p.params["thread_ts"] == draft.approval_ts for p in posts)
    assert all(len(str(p.params["text"])) <= THREAD_CHUNK + 100 for p in posts)
    assert "edited by <@UAGENT1>" in str(posts[0].params["text"])
    body = " ".join(html.unescape(str(p.params["text"]).split("\n", 1)[1]) for p in posts)
    assert body.split() == edited.split()  # every word, in order, nothing lost
    assert "<EU>" not in " ".join(str(p.params["text"]) for p in posts)  # escaped


async def test_mentions_in_customer_text_are_shown_as_names(desk: Desk) -> None:
    desk.slack.add_user("UBOSS12345", name="Grace Hopper")
    desk.slack.usergroup_handles["SAGENTS"] = "agents"
    # As the Slack channel stores it (channels.slack.events.clean_text), and raw mrkdwn.
    draft = await desk.draft(question="Ask @UBOSS12345 or @agents or <!subteam^SAGENTS> "
                                      "or <@UBOSS12345> @here")
    card = desk.slack.calls_to("chat.postMessage")[0]
    shown = json.dumps(card.json("blocks"), ensure_ascii=False)
    assert "Ask @Grace Hopper or @agents or @agents or @Grace Hopper @\u2060here" in shown
    assert "@@" not in shown and "UBOSS12345" not in shown
    assert "<!here>" not in str(card.params["text"]) and "@here" not in shown
    # Cached: one users.info and one usergroups.list for the card.
    assert len(desk.slack.calls_to("users.info")) == 1
    assert len(desk.slack.calls_to("usergroups.list")) == 1
    await desk.handle.notifier.refresh(draft.id)
    assert len(desk.slack.calls_to("users.info")) == 1
