"""The outbox dispatcher: sends queued replies through the channel the customer used.

Items (stored by ``bot.store.outbox``) are claimed with a lease, retried with exponential
backoff and jitter, and dead-lettered after N attempts, when the approval channel is told so
that a human sees it.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from bot.clock import Clock, utcnow
from bot.domain import Channel, Reply, ReplySender, SendError, backoff_seconds
from bot.ports import ApprovalNotifier
from bot.store import outbox as outbox_store

if TYPE_CHECKING:
    from bot.store.models import OutboxItem

log = logging.getLogger(__name__)

#: The longest wait a remote's Retry-After can impose: a broken or hostile header must not
#: park a reply for days (the item still dead-letters after ``max_attempts``).
MAX_RETRY_AFTER_SECONDS = 3600.0



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
        return await outbox_store.claim_due(self._owner, now=self._clock(), lease=self._lease,
                                            limit=self._concurrency)

    async def _deliver(self, item_id: int) -> None:
        item = await outbox_store.get(item_id)
        reply = outbox_store.payload_to_reply(item.payload)
        sender = self._senders.get(reply.channel)
        if reply.decided_by == "auto":
            withdrawn = await outbox_store.auto_reply_withdrawn(item)
            if withdrawn is not None:
                # Dead-lettered with the reason: visible to humans, never sent.
                await self._failed(item, withdrawn, permanent=True)
                return
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
        held = await outbox_store.mark_sent(item, reply, owner=self._owner, now=self._clock(),
                                            channel_message_id=channel_message_id, meta=meta)
        if not held:
            log.warning("outbox item %s was sent after its lease moved on", item.id)
        log.info("sent reply %s via %s", reply.reply_id, reply.channel)
        await self._notify(self._notifier.delivered, item.id)

    async def _failed(
        self, item: OutboxItem, error: str, *, permanent: bool, retry_after: float | None = None
    ) -> None:
        attempts = item.attempts
        if permanent or attempts >= self._max_attempts:
            await outbox_store.mark_dead(item.id, owner=self._owner, error=error)
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
        await outbox_store.schedule_retry(item.id, owner=self._owner, error=error,
                                          at=self._clock() + timedelta(seconds=delay))
        log.warning(
            "outbox item %s attempt %s failed, retry in %.1fs: %s", item.id, attempts, delay, error
        )
        if attempts == 1:  # once per reply: the card then says sending is failing
            await self._notify(self._notifier.delivery_retrying, item.id)

    async def _notify(self, method: Any, item_id: int) -> None:
        try:
            await method(item_id)
        except Exception:  # the reply's state is stored; a notifier failure must not undo it
            log.exception("approval channel could not be told about outbox item %s", item_id)
