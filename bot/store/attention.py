"""Conversations waiting on us: the customer spoke last and no reply is on its way, or the
last reply was dead-lettered. One query function for ``/support pending``, reminders and the
App Home (``handoff/`` reads it; the rules are here, in one place)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from tortoise.functions import Max

from bot.domain import ConversationStatus, Direction, DraftStatus, QueueStatus
from bot.store.models import Conversation, Draft, Message, OutboxItem

#: Statuses in which a conversation can wait on us (answered ones wait on the customer).
_OPEN = [ConversationStatus.OPEN, ConversationStatus.AWAITING_APPROVAL, ConversationStatus.HUMAN,
         ConversationStatus.ANSWERED]


@dataclass(frozen=True, slots=True)
class Waiting:
    """One conversation waiting on us, with what a person needs to pick it up."""

    conversation_id: int
    channel: str
    customer: str
    subject: str | None
    first_words: str
    since: datetime
    reason: str  # "draft to review" | "needs a reply" | "reply not delivered"
    assignee: str | None
    approval_channel: str | None
    approval_thread_ts: str | None
    message_id: int
    pending_draft_id: int | None


def _customer(conversation: Conversation) -> str:
    customer = conversation.customer
    if customer is None:
        return "unknown customer"
    return str(customer.name or customer.email or customer.slack_user or customer.external_id
               or f"customer #{customer.id}")


async def waiting_on_us(*, limit: int = 50, scan: int = 500) -> list[Waiting]:
    """Conversations waiting on us, longest-waiting first (at most ``limit``; the ``scan``
    most recently active open conversations are examined).

    Set-based: a fixed handful of queries whatever the number of conversations (the newest
    message, customer message, reply and pending draft of every scanned conversation are each
    read in one grouped query), so ``/support pending``, reminders and the App Home stay cheap
    with hundreds of open conversations.
    """
    conversations = await (Conversation.filter(status__in=_OPEN).order_by("-updated_at")
                           .limit(scan).prefetch_related("customer"))
    ids = [c.id for c in conversations]
    if not ids:
        return []
    last_any = await _newest("message", ids, exclude_notes=True)
    last_in = await _newest("message", ids, direction=Direction.IN)
    last_reply = await _newest("outbox", ids)
    pending = await _newest("draft", ids, status=DraftStatus.PENDING)
    messages = {m.id: m for m in await Message.filter(
        id__in=sorted({*last_any.values(), *last_in.values()}))}
    replies = {r.id: r for r in await OutboxItem.filter(id__in=sorted(last_reply.values()))}

    found: list[Waiting] = []
    for conversation in conversations:
        last = messages.get(last_any.get(conversation.id, -1))
        if last is None:
            continue
        newest_reply = replies.get(last_reply.get(conversation.id, -1))
        reason: str | None = None
        since = last.created_at
        if newest_reply is not None and newest_reply.status == QueueStatus.DEAD:
            reason, since = "reply not delivered", newest_reply.created_at
        elif last.direction == Direction.IN and last.suppress_reply is None:
            on_its_way = newest_reply is not None and newest_reply.created_at >= last.created_at
            if not on_its_way:
                reason = "needs a reply"
        if reason is None:
            continue
        pending_id = pending.get(conversation.id)
        if pending_id is not None and reason == "needs a reply":
            reason = "draft to review"
        inbound = messages.get(last_in.get(conversation.id, -1))
        words = " ".join((inbound.text if inbound else "").split())
        found.append(Waiting(
            conversation_id=conversation.id, channel=conversation.channel,
            customer=_customer(conversation), subject=conversation.subject,
            first_words=words[:120], since=since, reason=reason,
            assignee=conversation.assignee, approval_channel=conversation.approval_channel,
            approval_thread_ts=conversation.approval_thread_ts,
            message_id=inbound.id if inbound else last.id,
            pending_draft_id=pending_id))
    found.sort(key=lambda w: w.since)
    return found[:limit]


async def _newest(table: str, conversation_ids: list[int], *, exclude_notes: bool = False,
                  **where: Any) -> dict[int, int]:
    """The newest row id per conversation of ``table`` (one grouped query)."""
    model: Any = {"message": Message, "outbox": OutboxItem, "draft": Draft}[table]
    query = model.filter(conversation_id__in=conversation_ids, **where)
    if exclude_notes:
        query = query.exclude(direction=Direction.NOTE)
    rows = await (query.annotate(newest=Max("id")).group_by("conversation_id")
                  .values_list("conversation_id", "newest"))
    return {int(c): int(n) for c, n in rows}


async def claim_reminder(conversation_id: int, *, message_id: int, level: int) -> bool:
    """Record that the conversation was reminded about ``message_id`` at ``level`` (1, 2, …);
    False when a reminder of that level (or higher) about it was already sent. The reminder
    job runs under a lease, so one worker claims at a time."""
    conversation = await Conversation.get_or_none(id=conversation_id)
    if conversation is None:
        return False
    meta = dict(conversation.metadata)
    done = meta.get("reminded") or {}
    if done.get("message") == message_id and int(done.get("level", 0)) >= level:
        return False
    meta["reminded"] = {"message": message_id, "level": level}
    await Conversation.filter(id=conversation_id).update(metadata=meta)
    return True


async def customer_waiting_since(conversation_id: int, *, after_message: int) -> datetime | None:
    """When the customer wrote after message ``after_message`` with no reply queued since
    (the conversation waits on us), else None."""
    newer = await (Message.filter(conversation_id=conversation_id, id__gt=after_message,
                                  direction=Direction.IN).order_by("-id").first())
    if newer is None:
        return None
    reply = await (OutboxItem.filter(conversation_id=conversation_id,
                                     created_at__gte=newer.created_at).exists())
    return None if reply else newer.created_at
