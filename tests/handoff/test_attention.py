"""Nothing waits unseen: a customer's follow-up after a rejection is a queue item in
`/support pending`, on the App Home tab and in reminders with escalating mentions (signed
requests to the real bolt app, fake Slack API, a real database)."""

from __future__ import annotations

import json
from datetime import timedelta

from bot.store.models import Message
from handoff import cards, modals
from tests.handoff.conftest import NOW, Desk
from tests.handoff.test_admin import answer_of_slow


async def rejected_then_followed_up(desk: Desk) -> int:
    draft = await desk.draft(question="Can I get a refund?", thread="T1")
    value = cards.action_value(draft=draft.id, conversation=draft.conversation_id)  # type: ignore[attr-defined]
    await desk.edge.click(user="UAGENT1", action_id=cards.REJECT, value=value)
    view = desk.slack.calls_to("views.open")[-1].json("view")
    await desk.edge.submit(user="UAGENT1", callback_id=modals.REJECT_VIEW,
                           private_metadata=view["private_metadata"],
                           values={modals.REASON_BLOCK: {modals.REASON_ACTION: "wrong plan"}})
    await desk.customer_message("Hello? Any answer?", thread="T1")
    await desk.customer_message("A second customer question", thread="T2")
    await desk.settle()
    # The desk's clock is fixed; rows carry the wall clock: place them in the desk's past.
    await Message.all().update(created_at=NOW - timedelta(minutes=30))
    return int(draft.conversation_id)  # type: ignore[attr-defined]


async def test_a_follow_up_after_a_rejection_is_listed_as_waiting(admin_desk: Desk) -> None:
    await rejected_then_followed_up(admin_desk)
    text = await answer_of_slow(admin_desk, "pending")
    assert "conversations waiting on us" in text
    assert "Ada Lovelace · needs a reply · waiting 30 min" in text
    assert "Hello? Any answer?" in text


async def test_app_home_shows_waiting_conversations(desk: Desk) -> None:
    await rejected_then_followed_up(desk)
    response = await desk.edge.event({"type": "app_home_opened", "user": "UAGENT1",
                                      "channel": "DHOME", "tab": "home"})
    assert response.status_code == 200
    await desk.settle()
    [published] = await desk.slack.wait_for("views.publish")
    assert published.params["user_id"] == "UAGENT1"
    home = json.dumps(published.json("view"))
    assert "Waiting on us (2)" in home and "Hello? Any answer?" in home
    assert "Mine (0)" in home and "Recently auto-sent" in home


async def test_reminders_escalate_and_are_sent_once_per_level(desk: Desk) -> None:
    conversation_id = await rejected_then_followed_up(desk)
    notifier = desk.handle.notifier
    before = len(desk.slack.calls_to("chat.postMessage"))
    assert await notifier.remind_stale(older_than=timedelta(minutes=20), now=NOW) == 2
    assert await notifier.remind_stale(older_than=timedelta(minutes=20), now=NOW) == 0
    first = desk.slack.calls_to("chat.postMessage")[before:]
    refund = [c for c in first if "needs a reply" in str(c.params["text"])]
    assert refund and all("<!subteam^SAGENTS>" in str(c.params["text"]) for c in refund)
    assert not any(c.params.get("reply_broadcast") for c in first)
    later = NOW + timedelta(minutes=30)  # an hour waiting: broadcast to the channel
    assert await notifier.remind_stale(older_than=timedelta(minutes=20), now=later) == 2
    escalated = desk.slack.calls_to("chat.postMessage")[before + 2:]
    assert all(c.params.get("reply_broadcast") for c in escalated)
    assert conversation_id > 0


async def test_a_follow_up_mentions_who_must_act_and_marks_the_top_card(desk: Desk) -> None:
    draft = await desk.draft(question="Can I get a refund?", thread="T9")
    value = cards.action_value(draft=draft.id, conversation=draft.conversation_id)  # type: ignore[attr-defined]
    await desk.edge.click(user="UAGENT1", action_id=cards.TAKE_OVER, value=value)
    message_id = await desk.customer_message("Hello? Any answer?", thread="T9")
    await desk.handle.notifier.customer_followup(message_id)
    await desk.settle()
    posted = desk.slack.calls_to("chat.postMessage")[-1]
    assert str(posted.params["text"]).startswith("<@UAGENT1> ")
    assert posted.params["thread_ts"] == draft.approval_ts
    top = desk.card_calls("chat.update", draft)[-1]
    assert "waiting on us" in json.dumps(top.json("blocks"))


async def test_pending_lists_every_waiting_conversation_with_its_age(admin_desk: Desk) -> None:
    for i in range(40):
        await admin_desk.customer_message(f"Question {i}: my invoice shows the wrong VAT number",
                                          thread=f"P{i}")
    await Message.all().update(created_at=NOW - timedelta(hours=3))
    from tests.handoff.test_admin import ask

    assert await ask(admin_desk, "pending") == "Working on it…"
    await admin_desk.settle()
    answers = await admin_desk.slack.wait_for("response_url", 2)
    assert all(len(str(a.params["text"])) <= 3900 for a in answers)
    text = "\n".join(str(a.params["text"]) for a in answers)
    assert text.startswith("*40 conversations waiting on us*")
    for i in range(40):  # every one, with customer, reason, age and first words
        assert f"Question {i}: my invoice" in text, i
    assert text.count("Ada Lovelace · needs a reply · waiting 3 h") == 40


async def test_app_home_is_republished_for_the_owner_when_their_conversation_changes(
    desk: Desk,
) -> None:
    desk.handle.home.delay = 0.2  # the debounce window (2 s in production)
    draft = await desk.draft(question="Can I get a refund?", thread="H1")
    value = cards.action_value(draft=draft.id, conversation=draft.conversation_id)  # type: ignore[attr-defined]
    # Taking over re-renders the card; more changes right after it: one publish for all.
    await desk.edge.click(user="UAGENT1", action_id=cards.TAKE_OVER, value=value)
    for _ in range(3):
        desk.handle.home.changed(int(draft.conversation_id))  # type: ignore[attr-defined]
    await desk.settle()
    [first] = desk.slack.calls_to("views.publish")
    assert first.params["user_id"] == "UAGENT1"
    assert "Mine (1)" in json.dumps(first.json("view"))
    # The customer writes again: the owner's tab is published again, with no app_home_opened.
    message_id = await desk.customer_message("Hello? Any answer?", thread="H1")
    await desk.handle.notifier.customer_followup(message_id)
    await desk.settle()
    published = desk.slack.calls_to("views.publish")
    assert len(published) == 2 and "Hello? Any answer?" in json.dumps(published[-1].json("view"))
    # Released: the former owner's tab drops it (their last tab showed it as Mine).
    await desk.edge.click(user="UAGENT1", action_id=cards.RELEASE, value=value)
    await desk.settle()
    last = desk.slack.calls_to("views.publish")[-1]
    assert last.params["user_id"] == "UAGENT1" and "Mine (0)" in json.dumps(last.json("view"))
    assert not [c for c in desk.slack.calls_to("views.publish")
                if c.params["user_id"] != "UAGENT1"]  # nobody else was affected
