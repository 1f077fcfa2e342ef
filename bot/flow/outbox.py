"""The durable outbox: replies wait here until their channel confirms them.

A reply is enqueued once per draft (the idempotency key), dispatched with a lease, retried with
exponential backoff and jitter, and dead-lettered after N attempts, when the approval channel is
told so that a human sees it. ``reply_id`` never changes across retries, so receivers dedupe.
"""

from __future__ import annotations

import asyncio
import logging
import random
import uuid
from collections.abc import Mapping
from dataclasses import asdict
from datetime import timedelta
from typing import Any

from tortoise.exceptions import IntegrityError
from tortoise.expressions import F, Q
from tortoise.transactions import in_transaction

from bot.clock import Clock, utcnow
from bot.domain import Channel, Reply, ReplySender, Sender, SendError
from bot.ports import ApprovalNotifier
from bot.store.models import (
    Conversation,
    ConversationStatus,
    Message,
    OutboxItem,
    QueueStatus,
)

log = logging.getLogger(__name__)

#: The longest wait a remote's Retry-After can impose: a broken or hostile header must not
#: park a reply for days (the item still dead-letters after ``max_attempts``).
MAX_RETRY_AFTER_SECONDS = 3600.0


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
    answered = (
        await Message.filter(conversation_id=conversation_id, direction="in")
        .order_by("-id")
        .first()
    )
    chain = await Message.filter(
        conversation_id=conversation_id, channel_message_id__not_isnull=True
    ).order_by("id").values_list("channel_message_id", flat=True)
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
        related_message_ids=tuple(str(c) for c in chain),
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


def backoff_seconds(attempts: int, *, base: float, cap: float = 900.0) -> float:
    """Exponential backoff with full jitter (AWS architecture blog), capped at ``cap``."""
    return random.uniform(base / 2, min(cap, base * 2 ** max(0, attempts - 1)))


class OutboxDispatcher:
    """Sends due outbox items through their channel's sender."""

    def __init__(
        self,
        *,
        senders: Mapping[Channel, ReplySender],
        notifier: ApprovalNotifier,
        owner: str,
        max_attempts: int,
        backoff_base: float,
        lease_seconds: float,
        clock: Clock = utcnow,
        concurrency: int = 8,
    ) -> None:
        self._senders = dict(senders)
        self._notifier = notifier
        self._owner = owner
        self._max_attempts = max_attempts
        self._backoff_base = backoff_base
        self._lease = timedelta(seconds=lease_seconds)
        self._clock = clock
        self._concurrency = concurrency

    async def run_once(self) -> int:
        """Claim and send every due item (up to the concurrency); return how many were tried."""
        ids = await self._claim()
        if ids:
            await asyncio.gather(*(self._deliver(i) for i in ids))
        return len(ids)

    async def _claim(self) -> list[int]:
        now = self._clock()
        # tortoise types a flat values_list as tuples; the values are the ids themselves.
        due: list[Any] = await (
            OutboxItem.filter(status=QueueStatus.PENDING, next_attempt_at__lte=now)
            .filter(Q(lease_until__isnull=True) | Q(lease_until__lte=now))
            .order_by("next_attempt_at", "id")
            .limit(self._concurrency)
            .values_list("id", flat=True)
        )
        won: list[int] = []
        for item_id in due:
            updated = await OutboxItem.filter(
                Q(lease_until__isnull=True) | Q(lease_until__lte=now),
                id=item_id,
                status=QueueStatus.PENDING,
            ).update(
                lease_owner=self._owner,
                lease_until=now + self._lease,
                attempts=F("attempts") + 1,
            )
            if updated == 1:
                won.append(int(item_id))
        return won

    async def _deliver(self, item_id: int) -> None:
        item = await OutboxItem.get(id=item_id)
        reply = payload_to_reply(item.payload)
        sender = self._senders.get(reply.channel)
        try:
            if sender is None:
                raise SendError(f"the {reply.channel} channel is not configured", permanent=True)
            result = await sender.send(reply)
        except SendError as exc:
            await self._failed(
                item, str(exc), permanent=exc.permanent, retry_after=exc.retry_after
            )
            return
        except Exception as exc:  # a sender bug or network error: retry, keep the traceback
            log.exception("sending outbox item %s through %s failed", item.id, reply.channel)
            await self._failed(item, f"{exc.__class__.__name__}: {exc}", permanent=False)
            return
        await self._sent(item, reply, result.channel_message_id, dict(result.metadata))

    async def _sent(
        self, item: OutboxItem, reply: Reply, channel_message_id: str | None, meta: dict[str, Any]
    ) -> None:
        now = self._clock()
        async with in_transaction():
            updated = await OutboxItem.filter(id=item.id, lease_owner=self._owner).update(
                status=QueueStatus.SENT,
                sent_at=now,
                lease_until=None,
                channel_message_id=channel_message_id,
                last_error=None,
            )
            if updated != 1:
                log.warning("outbox item %s was sent after its lease moved on", item.id)
            try:
                async with in_transaction():
                    await Message.create(
                        conversation_id=item.conversation_id,  # type: ignore[attr-defined]
                        channel=reply.channel.value,
                        direction="out",
                        author=reply.decided_by,
                        text=reply.text,
                        channel_message_id=channel_message_id or f"reply:{reply.reply_id}",
                        metadata={"reply_id": reply.reply_id, "auto": reply.auto, **meta},
                        received_at=now,
                    )
            except IntegrityError:
                pass  # already recorded by an earlier attempt whose status update was lost
            await Conversation.filter(
                id=item.conversation_id,  # type: ignore[attr-defined]
                status__in=[ConversationStatus.OPEN, ConversationStatus.AWAITING_APPROVAL],
            ).update(status=ConversationStatus.ANSWERED)
        log.info("sent reply %s via %s", reply.reply_id, reply.channel)
        await self._notify(self._notifier.delivered, item.id)

    async def _failed(
        self, item: OutboxItem, error: str, *, permanent: bool, retry_after: float | None = None
    ) -> None:
        attempts = item.attempts
        if permanent or attempts >= self._max_attempts:
            await OutboxItem.filter(id=item.id, lease_owner=self._owner).update(
                status=QueueStatus.DEAD, last_error=error[:4000], lease_until=None
            )
            log.error(
                "outbox item %s dead-lettered after %s attempts: %s", item.id, attempts, error
            )
            await self._notify(self._notifier.delivery_failed, item.id)
            return
        delay = backoff_seconds(attempts, base=self._backoff_base)
        if retry_after is not None and retry_after > 0:
            # The remote said when it will take the call again (Slack 429 Retry-After): an
            # earlier attempt would only be refused and use up an attempt.
            delay = max(delay, min(retry_after, MAX_RETRY_AFTER_SECONDS))
        await OutboxItem.filter(id=item.id, lease_owner=self._owner).update(
            last_error=error[:4000],
            lease_owner=None,
            lease_until=None,
            next_attempt_at=self._clock() + timedelta(seconds=delay),
        )
        log.warning(
            "outbox item %s attempt %s failed, retry in %.1fs: %s", item.id, attempts, delay, error
        )

    async def _notify(self, method: Any, item_id: int) -> None:
        try:
            await method(item_id)
        except Exception:  # the reply's state is stored; a notifier failure must not undo it
            log.exception("approval channel could not be told about outbox item %s", item_id)


async def depth() -> int:
    """Replies not yet sent (pending, including those backing off)."""
    return await OutboxItem.filter(status=QueueStatus.PENDING).count()
