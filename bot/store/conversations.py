"""Conversations: their state changes (take over, release, status) and the queries about them
(history, the latest customer message, notes). One named function per fact."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from tortoise.exceptions import IntegrityError
from tortoise.expressions import Q

from bot.domain import ConversationStatus, Direction
from bot.store.models import Conversation, Draft, Message


@dataclass(frozen=True, slots=True)
class Ownership:
    """Who holds a conversation after a take-over or release, and whether this call won."""

    won: bool
    conversation_id: int
    status: str
    assignee: str | None


async def get(conversation_id: int) -> Conversation | None:
    """The conversation, or None."""
    return await Conversation.get_or_none(id=conversation_id)


async def with_customer(conversation_id: int) -> Conversation | None:
    """The conversation with its customer loaded, or None."""
    return await Conversation.get_or_none(id=conversation_id).prefetch_related("customer")


async def take_over(conversation_id: int, *, agent: str) -> Ownership | None:
    """Assign the conversation to ``agent`` (status ``human``) unless someone holds it.

    None when the conversation does not exist; idempotent for the same agent.
    """
    updated = await (
        Conversation.filter(id=conversation_id)
        .filter(assignee__isnull=True)
        .update(status=ConversationStatus.HUMAN, assignee=agent)
    )
    conversation = await Conversation.get_or_none(id=conversation_id)
    if conversation is None:
        return None
    won = bool(updated) or conversation.assignee == agent
    return Ownership(won, conversation_id, conversation.status, conversation.assignee)


async def assign(conversation_id: int, *, to: str, by: str,
                 override: bool = False) -> Ownership | None:
    """Give the conversation to ``to``: allowed while nobody owns it or ``by`` owns it, or
    always with ``override`` (an admin reassigning). One conditional update, so a concurrent
    take-over and assignment cannot both win. None when the conversation does not exist."""
    query = Conversation.filter(id=conversation_id)
    if not override:
        query = query.filter(Q(assignee__isnull=True) | Q(assignee=by))
    updated = await query.update(status=ConversationStatus.HUMAN, assignee=to)
    conversation = await Conversation.get_or_none(id=conversation_id)
    if conversation is None:
        return None
    return Ownership(bool(updated), conversation_id, conversation.status, conversation.assignee)


async def release(conversation_id: int, *, by: str | None = None,
                  override: bool = True) -> Ownership | None:
    """Hand a human-held conversation back to the bot (status ``open``, no assignee); unless
    ``override`` (an admin), only its owner ``by`` (or anyone when nobody owns it) may."""
    query = Conversation.filter(id=conversation_id, status=ConversationStatus.HUMAN)
    if not override:
        query = query.filter(Q(assignee__isnull=True) | Q(assignee=by))
    updated = await query.update(status=ConversationStatus.OPEN, assignee=None)
    conversation = await Conversation.get_or_none(id=conversation_id)
    if conversation is None:
        return None
    return Ownership(bool(updated), conversation_id, conversation.status, conversation.assignee)


async def set_status(conversation_id: int, status: ConversationStatus) -> None:
    """Move the conversation to ``status``."""
    await Conversation.filter(id=conversation_id).update(status=status)


async def mark_answered(conversation_id: int) -> None:
    """A reply went out: an open or waiting conversation is answered (a human one stays)."""
    await Conversation.filter(
        id=conversation_id,
        status__in=[ConversationStatus.OPEN, ConversationStatus.AWAITING_APPROVAL],
    ).update(status=ConversationStatus.ANSWERED)


async def count_suppressed(conversation_id: int, reason: str) -> None:
    """Count a customer message that was deliberately not answered (an auto-reply, a loop)."""
    conversation = await Conversation.get(id=conversation_id)
    meta = dict(conversation.metadata)
    meta["suppressed"] = int(meta.get("suppressed", 0)) + 1
    meta["last_suppressed_reason"] = reason
    await Conversation.filter(id=conversation_id).update(metadata=meta)


async def history(conversation_id: int, *, before: int | None,
                  turns: int) -> list[tuple[str, str]]:
    """The last ``turns`` customer messages and replies before message ``before`` (None: the
    latest), oldest first, as ``(direction, text)`` (internal notes left out)."""
    query = Message.filter(conversation_id=conversation_id)
    if before is not None:
        query = query.filter(id__lt=before)
    rows = await (
        query.exclude(direction=Direction.NOTE)
        .order_by("-id")
        .limit(turns)
        .values_list("direction", "text")
    )
    return [(str(d), str(t)) for d, t in reversed(rows)]


async def latest_customer_message(conversation_id: int) -> Message | None:
    """The newest message the customer wrote in this conversation."""
    return await (
        Message.filter(conversation_id=conversation_id, direction=Direction.IN)
        .order_by("-id")
        .first()
    )


async def channel_message_chain(conversation_id: int) -> list[str]:
    """Every channel message id in the conversation, oldest first (mail References)."""
    chain: list[Any] = await Message.filter(
        conversation_id=conversation_id, channel_message_id__not_isnull=True
    ).order_by("id").values_list("channel_message_id", flat=True)
    return [str(c) for c in chain]


async def message(message_id: int) -> Message | None:
    """One stored message with its conversation and customer, or None."""
    return await Message.get_or_none(id=message_id).select_related(
        "conversation", "conversation__customer")


async def add_note(conversation_id: int, *, agent: str, text: str,
                   note_id: str) -> tuple[bool, int] | None:
    """Store an internal note once per ``note_id``; ``(created, message id)``, or None when
    the conversation does not exist."""
    conversation = await Conversation.get_or_none(id=conversation_id)
    if conversation is None:
        return None
    key = f"note:{note_id}"
    try:
        created = await Message.create(
            conversation_id=conversation_id, channel=conversation.channel,
            direction=Direction.NOTE, author=agent, text=text, channel_message_id=key,
        )
        return True, created.id
    except IntegrityError:
        existing = await Message.get(channel=conversation.channel, channel_message_id=key)
        return False, existing.id


@dataclass(frozen=True, slots=True)
class EditedMessage:
    """A customer's edit as stored: the message, its conversation, the earlier text, and the
    pending draft that answered the earlier text (None when no draft waits on it)."""

    message_id: int
    conversation_id: int
    before: str
    pending_draft_id: int | None


async def edit_customer_message(channel: str, channel_message_id: str,
                                text: str) -> EditedMessage | None:
    """A customer edited a message we stored: keep the earlier text in its metadata and store
    the new one. Unknown messages and unchanged texts change nothing (None)."""
    message = await Message.get_or_none(channel=channel, channel_message_id=channel_message_id,
                                        direction=Direction.IN)
    if message is None or message.text == text:
        return None
    meta = dict(message.metadata)
    meta["edits"] = [*list(meta.get("edits") or []), message.text][-10:]
    await Message.filter(id=message.id).update(text=text, metadata=meta)
    draft = await Draft.filter(message_id=message.id, status="pending").order_by("-id").first()
    return EditedMessage(message.id, message.conversation_id,  # type: ignore[attr-defined]
                         message.text, draft.id if draft is not None else None)
