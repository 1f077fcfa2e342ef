"""Decisions on a whole conversation: take over, release, an agent's manual reply, a note.

A manual reply supersedes the conversation's pending draft in the same transaction that
queues it, and its learning signal compares the two so the system learns from the rewrite.
"""

from __future__ import annotations

import logging
from datetime import datetime
from typing import TYPE_CHECKING

from bot.flow.decisions.outcomes import ConversationOutcome, DecisionError, DeliverFn
from bot.flow.decisions.signals import call_learner, question_in_context, seconds_since
from bot.pipeline.learning import LearnedExample, LearnFn, LearningAction, edit_ratio
from bot.store import conversations, drafts
from bot.store.drafts import OwnedByOther, RepliedMeanwhile
from bot.store.signals import Signal

if TYPE_CHECKING:
    from bot.store.models import Draft

log = logging.getLogger(__name__)


async def take_over(conversation_id: int, *, agent: str) -> ConversationOutcome:
    """Assign the conversation to ``agent``; the bot stops drafting until it is released.

    Idempotent for the same agent; refused (``won=False``) while another agent holds it.
    """
    owner = await conversations.take_over(conversation_id, agent=agent)
    if owner is None:
        raise DecisionError(f"conversation {conversation_id} does not exist")
    return ConversationOutcome(won=owner.won, conversation_id=conversation_id,
                               status=owner.status, assignee=owner.assignee)


async def assign(conversation_id: int, *, to: str, agent: str,
                 admin: bool = False) -> ConversationOutcome:
    """Give the conversation to ``to``. Allowed while nobody owns it or ``agent`` owns it;
    an ``admin`` reassigns regardless. Refused (``won=False``, ``assignee`` the owner)
    otherwise."""
    owner = await conversations.assign(conversation_id, to=to, by=agent, override=admin)
    if owner is None:
        raise DecisionError(f"conversation {conversation_id} does not exist")
    return ConversationOutcome(won=owner.won, conversation_id=conversation_id,
                               status=owner.status, assignee=owner.assignee)


async def release(conversation_id: int, *, agent: str,
                  admin: bool = True) -> ConversationOutcome:
    """Hand the conversation back to the bot: it drafts again for the next message. Only its
    owner may, unless ``admin``."""
    owner = await conversations.release(conversation_id, by=agent, override=admin)
    if owner is None:
        raise DecisionError(f"conversation {conversation_id} does not exist")
    log.info("conversation %s released by %s", conversation_id, agent)
    return ConversationOutcome(won=owner.won, conversation_id=conversation_id,
                               status=owner.status, assignee=owner.assignee)


async def reply_manual(
    conversation_id: int,
    *,
    agent: str,
    text: str,
    now: datetime,
    deliver: DeliverFn,
    learn: LearnFn | None = None,
    seen_reply: int | None = None,
) -> ConversationOutcome:
    """Send an agent's own reply; the agent becomes the conversation's owner. A pending draft
    of the conversation is superseded by it, and the signal compares the two so the system
    learns from the rewrite.

    Refused (``won=False``) while another agent owns the conversation (``assignee`` names
    them), or when a reply newer than ``seen_reply`` went out since the agent started writing
    (``replied_by``/``replied_at``)."""
    if not text.strip():
        raise DecisionError("the reply is empty")
    conversation = await conversations.get(conversation_id)
    if conversation is None:
        raise DecisionError(f"conversation {conversation_id} does not exist")

    def signal_for(draft: Draft | None) -> Signal:
        original = draft.text if draft is not None and draft.text else None
        return Signal(
            draft_id=draft.id if draft is not None else None,
            conversation_id=conversation_id, channel=conversation.channel,
            action=LearningAction.MANUAL, agent=agent, original_text=original,
            final_text=text, edit_ratio=edit_ratio(original, text) if original else None,
            seconds_to_decision=seconds_since(draft.created_at, now) if draft else None,
            confidence=draft.confidence if draft is not None else None,
        )

    try:
        item, draft = await drafts.reply_manually(
            conversation_id, agent=agent, text=text, now=now, enqueue=deliver,
            signal_for=signal_for, seen_reply=seen_reply)
    except OwnedByOther as refused:
        return ConversationOutcome(won=False, conversation_id=conversation_id,
                                   status=conversation.status, assignee=refused.owner)
    except RepliedMeanwhile as meanwhile:
        return ConversationOutcome(won=False, conversation_id=conversation_id,
                                   status=conversation.status, assignee=conversation.assignee,
                                   replied_by=meanwhile.by, replied_at=meanwhile.at)
    latest = await conversations.latest_customer_message(conversation_id)
    question = "" if latest is None else await question_in_context(conversation_id, latest.id,
                                                                   latest.text)
    await call_learner(learn, LearnedExample(
        question=question, answer=text,
        action=LearningAction.MANUAL, conversation_id=conversation_id, agent=agent,
        channel=conversation.channel, draft_id=draft.id if draft else None,
    ))
    refreshed = await conversations.get(conversation_id)
    assert refreshed is not None  # conversations are never deleted while one is answered
    return ConversationOutcome(
        won=True,
        conversation_id=conversation_id,
        status=refreshed.status,
        assignee=refreshed.assignee,
        outbox_item_id=item.id,
        superseded_draft_id=draft.id if draft is not None else None,
    )


async def add_note(
    conversation_id: int, *, agent: str, text: str, note_id: str
) -> ConversationOutcome:
    """Store an agent's internal note (never sent). ``note_id`` (the Slack message's
    ``channel:ts``) dedupes retried deliveries of the same note."""
    stored = await conversations.add_note(conversation_id, agent=agent, text=text,
                                          note_id=note_id)
    conversation = await conversations.get(conversation_id)
    if stored is None or conversation is None:
        raise DecisionError(f"conversation {conversation_id} does not exist")
    won, message_id = stored
    return ConversationOutcome(
        won=won,
        conversation_id=conversation_id,
        status=conversation.status,
        assignee=conversation.assignee,
        message_id=message_id,
    )
