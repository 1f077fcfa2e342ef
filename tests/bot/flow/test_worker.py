"""The worker's inbox loop on SQLite and PostgreSQL: slots refilled as messages finish, each
conversation in order and one message at a time, every item marked done."""

from __future__ import annotations

import asyncio
import random
from datetime import UTC, datetime
from typing import Any

from bot.domain import Channel, Inbound, Sender
from bot.flow.outbox import OutboxDispatcher
from bot.flow.worker import Worker
from bot.ports import NullNotifier
from bot.store import inbox
from bot.store.models import InboxItem, Message, QueueStatus
from config import Settings


class SlowRouter:
    """Stands in for ``Router``: takes a random while per message and records what it saw."""

    def __init__(self) -> None:
        self.order: list[int] = []
        self.busy: set[int] = set()  # conversations being routed right now
        self.overlaps = 0
        self.most_at_once = 0
        self._running = 0

    async def process(self, message_id: int) -> Any:
        message = await Message.get(id=message_id)
        conversation = message.conversation_id  # type: ignore[attr-defined]
        if conversation in self.busy:
            self.overlaps += 1
        self.busy.add(conversation)
        self._running += 1
        self.most_at_once = max(self.most_at_once, self._running)
        await asyncio.sleep(random.uniform(0, 0.02))
        self.order.append(message_id)
        self._running -= 1
        self.busy.discard(conversation)
        return None


async def test_run_routes_every_message_in_conversation_order(db: Settings) -> None:
    for i in range(24):
        await inbox.accept(Inbound(
            channel=Channel.WEBHOOK, thread_key=f"form:c{i % 5}", channel_message_id=f"form:m{i}",
            text=f"question {i}", sender=Sender(id=f"u{i % 5}"), received_at=datetime.now(UTC),
        ))
    router = SlowRouter()
    notifier = NullNotifier()
    worker = Worker(
        settings=db, router=router, notifier=notifier, owner="w1", concurrency=4,  # type: ignore[arg-type]
        dispatcher=OutboxDispatcher(senders={}, notifier=notifier, owner="w1", max_attempts=3,
                                    backoff_base=0.1, lease_seconds=60),
    )
    stop = asyncio.Event()
    task = asyncio.create_task(worker.run(stop))
    async with asyncio.timeout(30):
        while await InboxItem.filter(status=QueueStatus.PENDING).exists():  # noqa: ASYNC110
            await asyncio.sleep(0.02)
    stop.set()
    await task

    assert sorted(router.order) == list(range(1, 25))
    assert router.overlaps == 0 and 1 < router.most_at_once <= 4
    for conversation in range(5):
        ids = [m for m in router.order if (m - 1) % 5 == conversation]
        assert ids == sorted(ids)
    assert await InboxItem.filter(status=QueueStatus.DONE).count() == 24


class GatedRouter:
    """Routes at once, except the message ``blocked``, which waits until ``release`` is set."""

    def __init__(self, blocked: int) -> None:
        self.blocked = blocked
        self.release = asyncio.Event()
        self.routed: list[int] = []

    async def process(self, message_id: int) -> Any:
        if message_id == self.blocked:
            await self.release.wait()
        self.routed.append(message_id)
        return None


async def test_a_slow_message_does_not_hold_up_the_others(db: Settings) -> None:
    async def accept(thread: str, message: str) -> int:
        return (await inbox.accept(Inbound(
            channel=Channel.WEBHOOK, thread_key=thread, channel_message_id=message, text=message,
            sender=Sender(id=thread), received_at=datetime.now(UTC),
        ))).message_id

    slow = await accept("form:a", "a1")
    first = await accept("form:b", "b1")
    follow_up = await accept("form:b", "b2")  # claimable only once b1 is marked done
    router = GatedRouter(blocked=slow)
    notifier = NullNotifier()
    worker = Worker(
        settings=db, router=router, notifier=notifier, owner="w1", concurrency=2,  # type: ignore[arg-type]
        dispatcher=OutboxDispatcher(senders={}, notifier=notifier, owner="w1", max_attempts=3,
                                    backoff_base=0.1, lease_seconds=60),
        idle_seconds=0.05,
    )
    stop = asyncio.Event()
    task = asyncio.create_task(worker.run(stop))
    try:
        async with asyncio.timeout(10):
            while follow_up not in router.routed:  # noqa: ASYNC110
                await asyncio.sleep(0.01)
            # Accepted by "another process": no kick, found by the poll while a1 still runs.
            later = await accept("form:c", "c1")
            while later not in router.routed:  # noqa: ASYNC110
                await asyncio.sleep(0.01)
        assert slow not in router.routed and router.routed[:2] == [first, follow_up]
    finally:
        router.release.set()
        stop.set()
        await task
    assert slow in router.routed
    assert await InboxItem.filter(status=QueueStatus.DONE).count() == 4
