"""Decisions on drafts (first one wins, on SQLite and PostgreSQL) and the edit ratio."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from bot.flow import decisions
from bot.flow.decisions import DecisionError
from bot.pipeline.learning import LearnedExample, edit_ratio, edit_size, is_edited
from bot.store import outbox
from bot.store.models import Conversation, Draft, LearningSignal, Message, OutboxItem

NOW = datetime(2026, 11, 21, 12, 0, tzinfo=UTC)


# --- edit ratio: a pure function ------------------------------------------------------------


def test_edit_ratio_is_zero_for_the_same_text_and_whitespace_changes() -> None:
    assert edit_ratio("Hello  there,\nfriend", "Hello there, friend ") == 0.0
    assert not is_edited("a  b", "a b")


def test_edit_ratio_grows_with_the_edit() -> None:
    draft = "Open Settings and choose Reset password to get a new link by email."
    small = draft.replace("new link", "fresh link")
    large = "Please call our support line, we will reset it for you."
    assert 0 < edit_ratio(draft, small) < 0.1 < edit_ratio(draft, large) <= 1.0
    assert edit_ratio(draft, "") == 1.0


def test_edit_ratio_matches_difflib_to_three_decimals() -> None:
    import difflib

    draft = "Open Settings and choose Reset password to get a new link by email. " * 5
    for a, b in [("the quick brown fox", "the quick red fox jumps"),
                 (draft, draft.replace("new link", "fresh link").replace("email", "e-mail"))]:
        expected = 1 - difflib.SequenceMatcher(None, a, b, autojunk=False).ratio()
        assert edit_ratio(a, b) == pytest.approx(expected, abs=0.001)


def test_a_small_edit_to_a_huge_text_has_a_small_ratio() -> None:
    a = "word " * 20_000
    assert edit_ratio(a, a + " extra") < 0.01


def test_edit_size_counts_words() -> None:
    assert edit_size("a b c d", "a x c d e") == "+2 / -1 words"


# --- decisions on the database --------------------------------------------------------------


async def make_draft(text: str = "Draft answer.", *, status: str = "pending") -> Draft:
    conversation = await Conversation.create(channel="webhook", thread_key="form:1", token="t1")
    message = await Message.create(conversation=conversation, channel="webhook", direction="in",
                                   author="c", text="Question?", channel_message_id="m1")
    return await Draft.create(conversation=conversation, message=message, text=text,
                              confidence=0.5, decision="review", model="offline", status=status,
                              created_at=NOW - timedelta(minutes=5))


async def deliver(**kwargs: Any) -> OutboxItem:
    return await outbox.enqueue_reply(**kwargs)


async def test_approve_queues_the_reply_and_records_the_signal(db: object) -> None:
    draft = await make_draft()
    learned: list[LearnedExample] = []

    async def learn(example: LearnedExample) -> None:
        learned.append(example)

    outcome = await decisions.approve(draft.id, agent="U1", now=NOW, deliver=deliver, learn=learn)
    assert outcome.won and outcome.status == "approved" and outcome.edit_ratio == 0.0
    item = await OutboxItem.get(id=outcome.outbox_item_id)
    assert item.payload["text"] == "Draft answer."
    signal = await LearningSignal.get(draft_id=draft.id)
    assert signal.action == "approved"
    assert signal.seconds_to_decision is not None and signal.seconds_to_decision >= 0
    assert [(e.question, e.answer) for e in learned] == [("Question?", "Draft answer.")]
    assert learned[0].action == "approved"


async def test_concurrent_decisions_have_one_winner(db: object) -> None:
    draft = await make_draft()
    outcomes = await asyncio.gather(
        *(decisions.approve(draft.id, agent=f"U{i}", now=NOW, deliver=deliver,
                            final_text=None if i % 2 else f"Edited by {i}")
          for i in range(6)),
        decisions.reject(draft.id, agent="UR", now=NOW, reason="no"),
    )
    winners = [o for o in outcomes if o.won]
    assert len(winners) == 1
    assert all(o.decided_by == winners[0].decided_by for o in outcomes if not o.won)
    assert await LearningSignal.filter(draft_id=draft.id).count() == 1
    assert await OutboxItem.filter(draft_id=draft.id).count() == (
        0 if winners[0].status == "rejected" else 1)


async def test_edit_records_the_edit_ratio(db: object) -> None:
    draft = await make_draft("Open Settings and choose Reset password.")
    final = "Open Settings, then Security, and choose Reset password."
    outcome = await decisions.approve(draft.id, agent="U1", now=NOW, deliver=deliver,
                                      final_text=final)
    signal = await LearningSignal.get(draft_id=draft.id)
    assert outcome.status == signal.action == "edited"
    assert signal.edit_ratio == outcome.edit_ratio == edit_ratio(draft.text, final)
    assert (await Draft.get(id=draft.id)).final_text == final


async def test_empty_reply_and_unknown_draft_are_refused(db: object) -> None:
    draft = await make_draft("")
    with pytest.raises(DecisionError):
        await decisions.approve(draft.id, agent="U1", now=NOW, deliver=deliver)
    with pytest.raises(DecisionError):
        await decisions.approve(999_999, agent="U1", now=NOW, deliver=deliver)


async def test_a_failing_learner_does_not_undo_the_decision(db: object) -> None:
    draft = await make_draft()

    async def broken(example: LearnedExample) -> None:
        raise RuntimeError("qdrant down")

    outcome = await decisions.approve(draft.id, agent="U1", now=NOW, deliver=deliver, learn=broken)
    assert outcome.won
    assert await OutboxItem.filter(draft_id=draft.id).count() == 1


async def test_take_over_is_exclusive_and_release_reopens(db: object) -> None:
    draft = await make_draft()
    conversation_id = draft.conversation_id  # type: ignore[attr-defined]
    first, second = await asyncio.gather(decisions.take_over(conversation_id, agent="U1"),
                                         decisions.take_over(conversation_id, agent="U2"))
    assert sorted([first.won, second.won]) == [False, True]
    holder = first.assignee
    assert (await decisions.take_over(conversation_id, agent=holder or "")).won
    released = await decisions.release(conversation_id, agent="U1")
    assert (released.status, released.assignee) == ("open", None)


async def test_manual_reply_supersedes_the_pending_draft(db: object) -> None:
    draft = await make_draft("Draft answer.")
    outcome = await decisions.reply_manual(draft.conversation_id,  # type: ignore[attr-defined]
                                           agent="U1", text="My own answer.", now=NOW,
                                           deliver=deliver)
    assert outcome.superseded_draft_id == draft.id
    assert (await Draft.get(id=draft.id)).status == "superseded"
    signal = await LearningSignal.get()
    assert (signal.action, signal.original_text, signal.final_text) == (
        "manual", "Draft answer.", "My own answer.")
    item = await OutboxItem.get(id=outcome.outbox_item_id)
    assert item.draft_id == draft.id  # type: ignore[attr-defined]


async def test_notes_are_stored_once_and_never_queued(db: object) -> None:
    draft = await make_draft()
    conversation_id = draft.conversation_id  # type: ignore[attr-defined]
    first = await decisions.add_note(conversation_id, agent="U1", text="VIP", note_id="C:1.1")
    again = await decisions.add_note(conversation_id, agent="U1", text="VIP", note_id="C:1.1")
    assert first.won and not again.won and first.message_id == again.message_id
    assert await Message.filter(direction="note").count() == 1
    assert await OutboxItem.all().count() == 0


async def test_a_rejection_with_a_reason_is_remembered_for_close_questions(db: object) -> None:
    remembered: list[LearnedExample] = []

    async def on_reject(example: LearnedExample) -> None:
        remembered.append(example)

    draft = await make_draft()
    outcome = await decisions.reject(draft.id, agent="U1", now=NOW, reason="Wrong article: "
                                     "this is about invoices", on_reject=on_reject)
    assert outcome.won
    [example] = remembered
    assert example.question == "Question?" and example.answer.startswith("Wrong article")
    assert example.draft_id == draft.id and example.rejected_text == "Draft answer."
    # Without a reason there is nothing to learn from.
    await Draft.filter(id=draft.id).update(status="pending")
    await decisions.reject(draft.id, agent="U2", now=NOW, reason="  ", on_reject=on_reject)
    assert len(remembered) == 1


@pytest.mark.parametrize(
    ("sources", "final", "grounded"),
    [
        ([{"source_id": "billing/refunds", "kind": "kb"}], None, "billing/refunds"),
        # A learned answer on top passes on the article it was approved from.
        ([{"source_id": "answer-7", "kind": "learned", "grounded_in": "shipping"}], None,
         "shipping"),
        ([{"source_id": "answer-8", "kind": "learned"}], None, None),
        # An edited reply may answer something else: no article is claimed for it.
        ([{"source_id": "billing/refunds", "kind": "kb"}], "Something else entirely.", None),
    ],
)
async def test_an_approved_answer_names_the_article_it_rests_on(
    db: object, sources: list[dict[str, str]], final: str | None, grounded: str | None
) -> None:
    draft = await make_draft()
    draft.sources = sources
    await draft.save(update_fields=["sources"])
    learned: list[LearnedExample] = []

    async def learn(example: LearnedExample) -> None:
        learned.append(example)

    await decisions.approve(draft.id, agent="U1", now=NOW, deliver=deliver, final_text=final,
                            learn=learn)
    assert learned[0].grounded_in == grounded


async def test_an_approved_follow_up_is_learned_with_its_conversation(db: object) -> None:
    conversation = await Conversation.create(channel="webhook", thread_key="form:9", token="t9")
    for n, (direction, text) in enumerate([
        ("in", "I want a refund for my annual plan."),
        ("out", "Annual plans are refunded in full within 30 days."),
        ("note", "checked the invoice"),
    ]):
        await Message.create(conversation=conversation, channel="webhook", direction=direction,
                             author="x", text=text, channel_message_id=f"h{n}")
    followup = await Message.create(conversation=conversation, channel="webhook",
                                    direction="in", author="c", text="and how long does it take?",
                                    channel_message_id="h9")
    draft = await Draft.create(conversation=conversation, message=followup, text="5 days.",
                               confidence=0.5, decision="review", model="offline",
                               status="pending", created_at=NOW - timedelta(minutes=5))
    learned: list[LearnedExample] = []

    async def learn(example: LearnedExample) -> None:
        learned.append(example)

    await decisions.approve(draft.id, agent="U1", now=NOW, deliver=deliver, learn=learn)
    assert [e.question for e in learned] == [
        "and how long does it take?\nI want a refund for my annual plan.\n"
        "Annual plans are refunded in full within 30 days."
    ]
