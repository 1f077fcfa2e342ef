"""Agents' decisions on drafts and conversations: pure database logic, no Slack.

Every decision is idempotent: the first one wins through a conditional ``UPDATE … WHERE
status = 'pending'`` (atomic on SQLite and PostgreSQL alike), and a losing caller gets an
outcome naming who decided. The reply is queued through the injected ``deliver`` callable
inside the same transaction as the status change, so a decision is never recorded without its
reply, nor a reply queued twice. Each decision writes a ``LearningSignal``; approved, edited
and manual answers are handed to the optional ``learn`` hook after the commit.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from tortoise.exceptions import IntegrityError
from tortoise.transactions import in_transaction

from bot.learning import LearnFn, LearningAction, edit_ratio, is_edited
from bot.models import (
    Conversation,
    ConversationStatus,
    Draft,
    DraftStatus,
    LearningSignal,
    Message,
)

log = logging.getLogger(__name__)


class HasId(Protocol):
    """What ``deliver`` returns: the stored outbox item (only its id matters here)."""

    id: int


class DeliverFn(Protocol):
    """``bot.outbox.enqueue_reply``: store a reply for the customer in the outbox."""

    async def __call__(
        self,
        *,
        conversation_id: int,
        text: str,
        decided_by: str,
        draft_id: int | None,
        auto: bool,
    ) -> HasId: ...


class DecisionError(ValueError):
    """A decision that cannot be made as asked (unknown draft, empty reply)."""


@dataclass(frozen=True, slots=True)
class DraftOutcome:
    """The result of approve/reject. ``won`` is False when someone decided first; then
    ``status``, ``decided_by`` and ``decided_at`` describe the earlier decision."""

    won: bool
    draft_id: int
    conversation_id: int
    status: str
    decided_by: str | None
    decided_at: datetime | None
    final_text: str | None = None
    edit_ratio: float | None = None
    outbox_item_id: int | None = None
    reason: str | None = None


@dataclass(frozen=True, slots=True)
class ConversationOutcome:
    """The result of take over / release / manual reply / note on a conversation."""

    won: bool
    conversation_id: int
    status: str
    assignee: str | None
    outbox_item_id: int | None = None
    superseded_draft_id: int | None = None
    message_id: int | None = None


def _seconds_since(start: datetime | None, now: datetime) -> float | None:
    return None if start is None else max(0.0, (now - start).total_seconds())


async def _learn(learn: LearnFn | None, question: str, answer: str, meta: dict[str, Any]) -> None:
    # Learning is an improvement, never a reason to fail a decision already committed.
    if learn is None or not question.strip() or not answer.strip():
        return
    try:
        await learn(question, answer, meta)
    except Exception:
        log.exception("learner hook failed for conversation %s", meta.get("conversation_id"))


async def _load_draft(draft_id: int) -> Draft:
    draft = await Draft.get_or_none(id=draft_id).prefetch_related("conversation", "message")
    if draft is None:
        raise DecisionError(f"draft {draft_id} does not exist")
    return draft


def _lost(draft: Draft) -> DraftOutcome:
    return DraftOutcome(
        won=False,
        draft_id=draft.id,
        conversation_id=draft.conversation_id,  # type: ignore[attr-defined]
        status=draft.status,
        decided_by=draft.decided_by,
        decided_at=draft.decided_at,
        final_text=draft.final_text,
    )


async def approve(
    draft_id: int,
    *,
    agent: str,
    now: datetime,
    deliver: DeliverFn,
    final_text: str | None = None,
    learn: LearnFn | None = None,
) -> DraftOutcome:
    """Send the draft (or the agent's ``final_text``) to the customer; first decision wins."""
    draft = await _load_draft(draft_id)
    text = draft.text if final_text is None else final_text
    if not text.strip():
        raise DecisionError("the reply is empty")
    edited = final_text is not None and is_edited(draft.text, final_text)
    status = DraftStatus.EDITED if edited else DraftStatus.APPROVED
    ratio = edit_ratio(draft.text, text) if draft.text else None
    conversation: Conversation = draft.conversation
    async with in_transaction():
        won = await Draft.filter(id=draft_id, status=DraftStatus.PENDING).update(
            status=status, decided_by=agent, decided_at=now, final_text=text
        )
        if not won:
            return _lost(await _load_draft(draft_id))
        item = await deliver(
            conversation_id=conversation.id,
            text=text,
            decided_by=agent,
            draft_id=draft_id,
            auto=False,
        )
        await LearningSignal.create(
            draft_id=draft_id,
            conversation_id=conversation.id,
            channel=conversation.channel,
            action=LearningAction.EDITED if edited else LearningAction.APPROVED,
            agent=agent,
            original_text=draft.text,
            final_text=text,
            edit_ratio=ratio if draft.text else None,
            seconds_to_decision=_seconds_since(draft.created_at, now),
            confidence=draft.confidence,
        )
    await _learn(
        learn,
        draft.message.text,
        text,
        {
            "conversation_id": conversation.id,
            "draft_id": draft_id,
            "agent": agent,
            "action": str(status),
            "channel": conversation.channel,
            "edit_ratio": ratio,
        },
    )
    return DraftOutcome(
        won=True,
        draft_id=draft_id,
        conversation_id=conversation.id,
        status=status,
        decided_by=agent,
        decided_at=now,
        final_text=text,
        edit_ratio=ratio,
        outbox_item_id=item.id,
    )


async def reject(
    draft_id: int, *, agent: str, now: datetime, reason: str | None = None,
    on_reject: LearnFn | None = None,
) -> DraftOutcome:
    """Reject the draft; the conversation stays with humans. First decision wins.

    A rejection with a reason is remembered through ``on_reject(question, reason, meta)``, so
    that drafts for close questions lose confidence and are not auto-sent.
    """
    draft = await _load_draft(draft_id)
    reason = (reason or "").strip() or None
    async with in_transaction():
        won = await Draft.filter(id=draft_id, status=DraftStatus.PENDING).update(
            status=DraftStatus.REJECTED, decided_by=agent, decided_at=now
        )
        if not won:
            return _lost(await _load_draft(draft_id))
        await LearningSignal.create(
            draft_id=draft_id,
            conversation_id=draft.conversation.id,
            channel=draft.conversation.channel,
            action=LearningAction.REJECTED,
            agent=agent,
            original_text=draft.text,
            seconds_to_decision=_seconds_since(draft.created_at, now),
            confidence=draft.confidence,
            reason=reason,
        )
        await Conversation.filter(id=draft.conversation.id).update(status=ConversationStatus.HUMAN)
    if reason:
        await _learn(on_reject, draft.message.text, reason,
                     {"draft_id": draft_id, "agent": agent, "action": "rejected",
                      "conversation_id": draft.conversation.id, "rejected_text": draft.text})
    return DraftOutcome(
        won=True,
        draft_id=draft_id,
        conversation_id=draft.conversation.id,
        status=DraftStatus.REJECTED,
        decided_by=agent,
        decided_at=now,
        reason=reason,
    )


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
            seconds_to_decision=_seconds_since(draft.created_at, now) if draft else None,
            confidence=draft.confidence if draft is not None else None,
        )
    question = await _last_customer_text(conversation_id)
    await _learn(
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
