"""Decisions on a whole conversation: take over, release, an agent's manual reply, a note.

A manual reply supersedes the conversation's pending draft in the same transaction that
queues it, and its ``LearningSignal`` compares the two so the system learns from the rewrite.
"""

from __future__ import annotations

import logging
from datetime import datetime

from tortoise.exceptions import IntegrityError
from tortoise.transactions import in_transaction

from bot.flow.decisions.outcomes import ConversationOutcome, DecisionError, DeliverFn
from bot.flow.decisions.signals import call_learner, seconds_since
from bot.pipeline.learning import LearnFn, LearningAction, edit_ratio
from bot.store.models import (
    Conversation,
    ConversationStatus,
    Draft,
    DraftStatus,
    LearningSignal,
    Message,
)

log = logging.getLogger(__name__)


async def take_over(conversation_id: int, *, agent: str) -> ConversationOutcome:
    """Assign the conversation to ``agent``; the bot stops drafting until it is released.

    Idempotent for the same agent; refused (``won=False``) while another agent holds it.
    """
    updated = await (
        Conversation.filter(id=conversation_id)
        .filter(assignee__isnull=True)
        .update(status=ConversationStatus.HUMAN, assignee=agent)
    )
    conversation = await Conversation.get_or_none(id=conversation_id)
    if conversation is None:
        raise DecisionError(f"conversation {conversation_id} does not exist")
    won = bool(updated) or conversation.assignee == agent
    return ConversationOutcome(
        won=won,
        conversation_id=conversation_id,
        status=conversation.status,
        assignee=conversation.assignee,
    )


async def release(conversation_id: int, *, agent: str) -> ConversationOutcome:
    """Hand the conversation back to the bot: it drafts again for the next message."""
    updated = await Conversation.filter(id=conversation_id, status=ConversationStatus.HUMAN).update(
        status=ConversationStatus.OPEN, assignee=None
    )
    conversation = await Conversation.get_or_none(id=conversation_id)
    if conversation is None:
        raise DecisionError(f"conversation {conversation_id} does not exist")
    log.info("conversation %s released by %s", conversation_id, agent)
    return ConversationOutcome(
        won=bool(updated),
        conversation_id=conversation_id,
        status=conversation.status,
        assignee=conversation.assignee,
    )


async def reply_manual(
    conversation_id: int,
    *,
    agent: str,
    text: str,
    now: datetime,
    deliver: DeliverFn,
    learn: LearnFn | None = None,
) -> ConversationOutcome:
    """Send an agent's own reply. A pending draft of the conversation is superseded by it,
    and the signal compares the two so the system learns from the rewrite."""
    if not text.strip():
        raise DecisionError("the reply is empty")
    conversation = await Conversation.get_or_none(id=conversation_id)
    if conversation is None:
        raise DecisionError(f"conversation {conversation_id} does not exist")
    async with in_transaction():
        draft = (
            await Draft.filter(conversation_id=conversation_id, status=DraftStatus.PENDING)
            .order_by("-id")
            .first()
        )
        if draft is not None:
            superseded = await Draft.filter(id=draft.id, status=DraftStatus.PENDING).update(
                status=DraftStatus.SUPERSEDED, decided_by=agent, decided_at=now, final_text=text
            )
            draft = draft if superseded else None
        item = await deliver(
            conversation_id=conversation_id,
            text=text,
            decided_by=agent,
            draft_id=draft.id if draft is not None else None,
            auto=False,
        )
        original = draft.text if draft is not None and draft.text else None
        await LearningSignal.create(
            draft_id=draft.id if draft is not None else None,
            conversation_id=conversation_id,
            channel=conversation.channel,
            action=LearningAction.MANUAL,
            agent=agent,
            original_text=original,
            final_text=text,
            edit_ratio=edit_ratio(original, text) if original else None,
            seconds_to_decision=seconds_since(draft.created_at, now) if draft else None,
            confidence=draft.confidence if draft is not None else None,
        )
    question = await _last_customer_text(conversation_id)
    await call_learner(
        learn,
        question,
        text,
        {"conversation_id": conversation_id, "agent": agent, "action": "manual",
         "channel": conversation.channel, "draft_id": draft.id if draft else None},
    )
    refreshed = await Conversation.get(id=conversation_id)
    return ConversationOutcome(
        won=True,
        conversation_id=conversation_id,
        status=refreshed.status,
        assignee=refreshed.assignee,
        outbox_item_id=item.id,
        superseded_draft_id=draft.id if draft is not None else None,
    )


async def _last_customer_text(conversation_id: int) -> str:
    message = (
        await Message.filter(conversation_id=conversation_id, direction="in")
        .order_by("-id")
        .first()
    )
    return message.text if message is not None else ""


async def add_note(
    conversation_id: int, *, agent: str, text: str, note_id: str
) -> ConversationOutcome:
    """Store an agent's internal note (never sent). ``note_id`` (the Slack message's
    ``channel:ts``) dedupes retried deliveries of the same note."""
    conversation = await Conversation.get_or_none(id=conversation_id)
    if conversation is None:
        raise DecisionError(f"conversation {conversation_id} does not exist")
    try:
        message = await Message.create(
            conversation_id=conversation_id,
            channel=conversation.channel,
            direction="note",
            author=agent,
            text=text,
            channel_message_id=f"note:{note_id}",
        )
        won, message_id = True, message.id
    except IntegrityError:
        existing = await Message.get(
            channel=conversation.channel, channel_message_id=f"note:{note_id}"
        )
        won, message_id = False, existing.id
    return ConversationOutcome(
        won=won,
        conversation_id=conversation_id,
        status=conversation.status,
        assignee=conversation.assignee,
        message_id=message_id,
    )
