"""Storage the email channel needs: raw copies of accepted mail, bounces of our replies, and
who a conversation's customer is. One named function per fact, as elsewhere in ``bot.store``."""

from __future__ import annotations

import zlib
from datetime import datetime

from tortoise.exceptions import IntegrityError

from bot.store.models import Conversation, OutboxItem, QueueStatus, RawMail


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


async def conversation_customer_email(channel: str, token: str) -> str | None:
    """The customer's address of the conversation with reply token ``token``, if any."""
    conversation = await Conversation.get_or_none(channel=channel, token=token).select_related(
        "customer")
    if conversation is None or conversation.customer is None:
        return None
    return conversation.customer.email
