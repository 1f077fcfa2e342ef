"""Storage the email channel needs: raw copies of accepted mail, bounces of our replies, and
who a conversation's customer is. One named function per fact, as elsewhere in ``bot.store``."""

from __future__ import annotations

import zlib
from datetime import datetime

from tortoise.exceptions import IntegrityError

from bot.store.models import Conversation, Message, OutboxItem, QueueStatus, RawMail


async def keep_raw_mail(sha256: str, size: int, compressed: bytes) -> None:
    """Store a mail's compressed original once (content-addressed: a re-delivery is free)."""
    if await RawMail.filter(sha256=sha256).exists():
        return
    try:
        await RawMail.create(sha256=sha256, size=size, data=compressed)
    except IntegrityError:  # a concurrent delivery of the same bytes stored it first
        pass


async def raw_mail(sha256: str) -> bytes | None:
    """The original bytes of a stored mail, or None (never stored, or purged)."""
    row = await RawMail.get_or_none(sha256=sha256)
    return None if row is None else zlib.decompress(bytes(row.data))


async def purge_raw_mail(older_than: datetime) -> int:
    """Forget originals stored before ``older_than`` (the retention job); returns how many."""
    return await RawMail.filter(created_at__lt=older_than).delete()


async def record_bounce(message_id: str, reason: str) -> int | None:
    """A delivery report says our reply ``message_id`` never arrived: mark its outbox item
    dead with the reason. Returns the item's id (for the card), None when it is not ours."""
    item = await OutboxItem.get_or_none(channel="email", channel_message_id=message_id)
    if item is None:
        return None
    await OutboxItem.filter(id=item.id).update(status=QueueStatus.DEAD,
                                               last_error=f"bounced: {reason}"[:4000])
    return item.id


async def thread_customer_email(channel: str, related_ids: list[str], token: str | None
                                ) -> str | None:
    """The customer's address of the conversation an inbound mail will join (threaded as
    ``bot.store.inbox.accept`` does: a known related message first, then the reply token)."""
    conversation_id: int | None = None
    if related_ids:
        rows = await Message.filter(channel=channel, channel_message_id__in=related_ids).values(
            "channel_message_id", "conversation_id")
        by_id = {r["channel_message_id"]: r["conversation_id"] for r in rows}
        conversation_id = next((by_id[i] for i in related_ids if i in by_id), None)
    query = (Conversation.filter(id=conversation_id) if conversation_id is not None
             else Conversation.filter(channel=channel, token=token) if token else None)
    if query is None:
        return None
    conversation = await query.first().select_related("customer")
    if conversation is None or conversation.customer is None:
        return None
    return conversation.customer.email
