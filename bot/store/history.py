"""What a card and its forms show of a conversation around the message a draft answers: its
messages, our replies and the agents' notes in order, and the customer's earlier conversations.
One named query per fact, as elsewhere in ``bot.store``."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from tortoise.functions import Min

from bot.domain import Direction
from bot.store.models import Conversation, Customer, Message

#: The metadata keys a card reads from a stored message (a mail's metadata also holds its
#: whole text and reply headers, which no card needs).
_SHOWN_KEYS = ("participant", "from", "from_name", "conversation_customer", "auto", "channel",
               "ts", "thread_ts", "edits", "to", "cc", "authentication", "attachments", "raw")


@dataclass(frozen=True, slots=True)
class TimelineEntry:
    """One stored message of a conversation: the customer's (``in``), ours (``out``) or an
    agent's internal note (``note``)."""

    message_id: int
    direction: str
    author: str
    text: str
    at: datetime | None
    metadata: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class PastConversation:
    """An earlier conversation of the same customer, as a card links to it."""

    conversation_id: int
    channel: str
    subject: str | None
    first_words: str
    status: str
    created_at: datetime | None
    approval_channel: str | None
    approval_thread_ts: str | None


async def timeline(conversation_id: int, *, newest: int) -> tuple[list[TimelineEntry], int]:
    """The newest ``newest`` messages of the conversation (customer messages, replies and
    notes), oldest first, and how many it holds in all."""
    rows = await (Message.filter(conversation_id=conversation_id).order_by("-id").limit(newest)
                  .values("id", "direction", "author", "text", "created_at", "received_at",
                          "metadata"))
    total = (len(rows) if len(rows) < newest
             else await Message.filter(conversation_id=conversation_id).count())
    entries = [
        TimelineEntry(
            message_id=int(row["id"]), direction=str(row["direction"]),
            author=str(row["author"]), text=str(row["text"]),
            at=row["received_at"] or row["created_at"],
            metadata={k: v for k, v in (row["metadata"] or {}).items() if k in _SHOWN_KEYS},
        )
        for row in reversed(rows)
    ]
    return entries, total


async def message_metadata(message_id: int) -> dict[str, Any]:
    """The whole stored metadata of one message ({} when it does not exist)."""
    rows = await Message.filter(id=message_id).values_list("metadata", flat=True)
    found = rows[0] if rows else None
    return dict(found) if isinstance(found, dict) else {}


async def previous_conversations(conversation_id: int, *, customer_id: int | None,
                                 email: str | None, limit: int) -> list[PastConversation]:
    """The customer's conversations started before this one, newest first: the same customer
    (``customer_id``), or another customer row with the same ``email`` (the same person
    writing by mail and in Slack)."""
    if customer_id is None:
        return []
    ids = {customer_id}
    if email:  # two indexed reads, not an OR across a join (which scans conversations)
        same: list[Any] = await Customer.filter(email=email.lower()).values_list("id", flat=True)
        ids.update(int(i) for i in same)
    found = await (Conversation.filter(customer_id__in=sorted(ids), id__lt=conversation_id)
                   .order_by("-id").limit(limit))
    if not found:
        return []
    firsts = await (Message.filter(conversation_id__in=[c.id for c in found],
                                   direction=Direction.IN)
                    .annotate(first=Min("id")).group_by("conversation_id")
                    .values_list("conversation_id", "first"))
    texts = dict(await Message.filter(id__in=[f for _, f in firsts])
                 .values_list("conversation_id", "text"))
    return [
        PastConversation(
            conversation_id=c.id, channel=c.channel, subject=c.subject,
            first_words=" ".join(str(texts.get(c.id) or "").split()[:30]),
            status=c.status, created_at=c.created_at, approval_channel=c.approval_channel,
            approval_thread_ts=c.approval_thread_ts,
        )
        for c in found
    ]
