"""The durable outbox's storage: replies wait here until their channel confirms them.

A reply is enqueued once per draft (the idempotency key) and claimed with a lease; its
``reply_id`` never changes across retries, so receivers dedupe. ``bot.flow.outbox`` sends.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from dataclasses import asdict
from datetime import datetime, timedelta
from typing import Any

from tortoise.exceptions import IntegrityError
from tortoise.expressions import F, Q
from tortoise.transactions import in_transaction

from bot.clock import Clock, utcnow
from bot.domain import Channel, Direction, QueueStatus, Reply, Sender
from bot.store import conversations
from bot.store.models import Conversation, Message, OutboxItem


def reply_to_payload(reply: Reply) -> dict[str, Any]:
    """The JSON form of a reply as stored in the outbox."""
    data = asdict(reply)
    data["channel"] = reply.channel.value
    data["thread_metadata"] = dict(reply.thread_metadata)
    data["related_message_ids"] = list(reply.related_message_ids)
    return data


def payload_to_reply(payload: Mapping[str, Any]) -> Reply:
    """Rebuild the reply from its stored JSON form."""
    data = dict(payload)
    data["channel"] = Channel(data["channel"])
    data["recipient"] = Sender(**data["recipient"])
    data["related_message_ids"] = tuple(data.get("related_message_ids", ()))
    return Reply(**data)


async def enqueue_reply(
    *,
    conversation_id: int,
    text: str,
    decided_by: str,
    draft_id: int | None,
    auto: bool,
    clock: Clock = utcnow,
) -> OutboxItem:
    """Queue a reply to the customer of ``conversation_id`` through the channel they used.

    The reply answers the conversation's latest customer message. One reply per draft: a
    second call for the same draft returns the first item (double clicks, retried requests).
    """
    key = f"draft:{draft_id}" if draft_id is not None else f"manual:{uuid.uuid4().hex}"
    existing = await OutboxItem.get_or_none(idempotency_key=key)
    if existing is not None:
        return existing
    conversation = await Conversation.get(id=conversation_id).prefetch_related("customer")
    answered = await conversations.latest_customer_message(conversation_id)
    chain = await conversations.channel_message_chain(conversation_id)
    customer = conversation.customer
    reply = Reply(
        reply_id=uuid.uuid4().hex,
        channel=Channel(conversation.channel),
        conversation_id=conversation.id,
        thread_key=conversation.thread_key,
        text=text,
        decided_by=decided_by,
        in_reply_to=answered.channel_message_id if answered else None,
        recipient=Sender(
            id=(customer.external_id or customer.slack_user or customer.email or "")
            if customer
            else "",
            email=customer.email if customer else None,
            name=customer.name if customer else None,
        ),
        conversation_token=conversation.token,
        subject=conversation.subject,
        auto=auto,
        thread_metadata=dict(answered.metadata) if answered else {},
        related_message_ids=tuple(chain),
    )
    try:
        return await OutboxItem.create(
            conversation_id=conversation_id,
            draft_id=draft_id,
            channel=conversation.channel,
            payload=reply_to_payload(reply),
            idempotency_key=key,
            next_attempt_at=clock(),
        )
    except IntegrityError:
        return await OutboxItem.get(idempotency_key=key)


async def retry(outbox_item_id: int, *, clock: Clock = utcnow) -> bool:
    """Put a dead-lettered reply back in the queue (the card's Retry button)."""
    updated = await OutboxItem.filter(id=outbox_item_id, status=QueueStatus.DEAD).update(
        status=QueueStatus.PENDING, attempts=0, next_attempt_at=clock(), last_error=None
    )
    return updated == 1


async def claim_due(owner: str, *, now: datetime, lease: timedelta, limit: int) -> list[int]:
    """Lease up to ``limit`` due items for ``owner`` (counting an attempt each); their ids."""
    due: list[Any] = await (
        OutboxItem.filter(status=QueueStatus.PENDING, next_attempt_at__lte=now)
        .filter(Q(lease_until__isnull=True) | Q(lease_until__lte=now))
        .order_by("next_attempt_at", "id")
        .limit(limit)
        .values_list("id", flat=True)
    )
    won: list[int] = []
    for item_id in due:
        updated = await OutboxItem.filter(
            Q(lease_until__isnull=True) | Q(lease_until__lte=now),
            id=item_id,
            status=QueueStatus.PENDING,
        ).update(lease_owner=owner, lease_until=now + lease, attempts=F("attempts") + 1)
        if updated == 1:
            won.append(int(item_id))
    return won


async def get(item_id: int) -> OutboxItem:
    """One outbox item."""
    return await OutboxItem.get(id=item_id)


async def mark_sent(item: OutboxItem, reply: Reply, *, owner: str, now: datetime,
                    channel_message_id: str | None, meta: dict[str, Any]) -> bool:
    """Record a confirmed send in one transaction: the item sent, the reply stored as an
    outgoing message (once), the conversation answered. False when the lease had moved on."""
    conversation_id: int = item.conversation_id  # type: ignore[attr-defined]
    async with in_transaction():
        updated = await OutboxItem.filter(id=item.id, lease_owner=owner).update(
            status=QueueStatus.SENT, sent_at=now, lease_until=None,
            channel_message_id=channel_message_id, last_error=None,
        )
        try:
            async with in_transaction():
                await Message.create(
                    conversation_id=conversation_id,
                    channel=reply.channel.value,
                    direction=Direction.OUT,
                    author=reply.decided_by,
                    text=reply.text,
                    channel_message_id=channel_message_id or f"reply:{reply.reply_id}",
                    metadata={"reply_id": reply.reply_id, "auto": reply.auto, **meta},
                    received_at=now,
                )
        except IntegrityError:
            pass  # already recorded by an earlier attempt whose status update was lost
        await conversations.mark_answered(conversation_id)
    return updated == 1


async def mark_dead(item_id: int, *, owner: str, error: str) -> None:
    """Dead-letter the item: no more attempts, shown to humans."""
    await OutboxItem.filter(id=item_id, lease_owner=owner).update(
        status=QueueStatus.DEAD, last_error=error[:4000], lease_until=None)


async def schedule_retry(item_id: int, *, owner: str, error: str, at: datetime) -> None:
    """Release the item's lease and try again at ``at``."""
    await OutboxItem.filter(id=item_id, lease_owner=owner).update(
        last_error=error[:4000], lease_owner=None, lease_until=None, next_attempt_at=at)


async def has_item_for_draft(draft_id: int) -> bool:
    """Whether a reply for this draft was queued."""
    return await OutboxItem.filter(draft_id=draft_id).exists()


async def depth() -> int:
    """Replies not yet sent (pending, including those backing off)."""
    return await OutboxItem.filter(status=QueueStatus.PENDING).count()


async def dead_letters() -> int:
    """Dead-lettered replies."""
    return await OutboxItem.filter(status=QueueStatus.DEAD).count()
