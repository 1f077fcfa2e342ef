"""The durable inbox on SQLite and PostgreSQL: accept, dedupe, threading, leases."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

from bot.domain import Channel
from bot.store import inbox
from bot.store.models import Conversation, InboxItem, Message, QueueStatus
from config import Settings
from tests.fakes.support import inbound


async def test_accept_is_idempotent_per_message_id(db: Settings) -> None:
    first = await inbox.accept(inbound("form:m1"))
    again = await inbox.accept(inbound("form:m1", text="edited text is ignored"))
    assert not first.duplicate and again.duplicate
    assert (again.conversation_id, again.message_id) == (first.conversation_id, first.message_id)
    assert await Message.all().count() == 1
    assert await InboxItem.all().count() == 1


async def test_concurrent_duplicate_accepts_store_one_message(db: Settings) -> None:
    results = await asyncio.gather(*(inbox.accept(inbound("form:dup")) for _ in range(8)))
    assert sum(not r.duplicate for r in results) == 1
    assert {r.conversation_id for r in results} == {results[0].conversation_id}
    assert await Message.all().count() == 1


async def test_threading_by_related_id_token_and_thread_key(db: Settings) -> None:
    root = await inbox.accept(inbound("<a@x>", thread="<a@x>", channel=Channel.EMAIL))
    # A reply whose client kept In-Reply-To joins through the related id.
    reply = await inbox.accept(inbound("<b@y>", thread="<b@y>", channel=Channel.EMAIL,
                                       related=("<unknown@z>", "<a@x>")))
    # A client that dropped every header still joins through the Reply-To token.
    bare = await inbox.accept(inbound("<c@y>", thread="<c@y>", channel=Channel.EMAIL,
                                      token=root.conversation_token))
    other = await inbox.accept(inbound("<d@w>", thread="<d@w>", channel=Channel.EMAIL,
                                       sender="someone-else"))
    assert reply.conversation_id == root.conversation_id == bare.conversation_id
    assert other.conversation_id != root.conversation_id  # same subject, never merged
    assert await Conversation.all().count() == 2


async def test_two_workers_never_claim_the_same_item(db: Settings) -> None:
    for i in range(40):
        await inbox.accept(inbound(f"form:m{i}", thread=f"form:c{i}"))
    seen: list[int] = []

    async def work(owner: str) -> None:
        while batch := await inbox.claim(owner, limit=3, lease_seconds=60):
            for item in batch:
                seen.append(item.inbox_id)
                await inbox.complete(item, owner)

    await asyncio.gather(work("w1"), work("w2"), work("w3"))
    assert sorted(seen) == sorted(set(seen)) and len(seen) == 40
    assert await InboxItem.filter(status=QueueStatus.DONE).count() == 40


async def test_one_conversation_is_routed_in_order_by_one_worker(db: Settings) -> None:
    for i in range(3):
        await inbox.accept(inbound(f"form:m{i}", thread="form:same"))
    first = await inbox.claim("w1", limit=5, lease_seconds=60)
    assert [c.message_id for c in first] == [1]
    assert await inbox.claim("w2", limit=5, lease_seconds=60) == []  # the conversation is busy
    await inbox.complete(first[0], "w1")
    assert [c.message_id for c in await inbox.claim("w2", limit=5, lease_seconds=60)] == [2]


async def test_a_dead_workers_item_is_claimed_again_after_its_lease(db: Settings) -> None:
    await inbox.accept(inbound("form:m1"))
    now = datetime.now(UTC)
    held = await inbox.claim("crashed", limit=1, lease_seconds=30, clock=lambda: now)
    assert held and await inbox.claim("w2", limit=1, lease_seconds=30, clock=lambda: now) == []
    later = now + timedelta(seconds=31)
    again = await inbox.claim("w2", limit=1, lease_seconds=30, clock=lambda: later)
    assert [c.inbox_id for c in again] == [held[0].inbox_id] and again[0].attempts == 2
    # The crashed worker can no longer complete what it lost.
    await inbox.complete(held[0], "crashed")
    assert (await InboxItem.get(id=held[0].inbox_id)).status == QueueStatus.PENDING


async def test_failures_back_off_then_give_up(db: Settings) -> None:
    await inbox.accept(inbound("form:m1"))
    now = datetime.now(UTC)
    item = (await inbox.claim("w", limit=1, lease_seconds=30, clock=lambda: now))[0]
    assert not await inbox.fail(item, "w", "boom", max_attempts=2, clock=lambda: now)
    assert await inbox.claim("w", limit=1, lease_seconds=30, clock=lambda: now) == []
    later = now + timedelta(seconds=5)
    item = (await inbox.claim("w", limit=1, lease_seconds=30, clock=lambda: later))[0]
    assert await inbox.fail(item, "w", "boom again", max_attempts=2, clock=lambda: later)
    stored = await InboxItem.get(id=item.inbox_id)
    assert (stored.status, stored.last_error) == (QueueStatus.FAILED, "boom again")
