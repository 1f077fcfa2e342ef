"""The outbox on SQLite and PostgreSQL: one reply per draft, backoff, dead letters, leases."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

from bot.domain import Channel, Reply, SendError, SendResult
from bot.flow import outbox as dispatch
from bot.ports import NullNotifier
from bot.store import inbox, outbox
from bot.store.models import (
    Conversation,
    ConversationStatus,
    Draft,
    Message,
    OutboxItem,
    QueueStatus,
)
from config import Settings
from tests.fakes.support import inbound


class RecordingSender:
    """A channel that fails as told, then records what it sent."""

    def __init__(self, failures: list[SendError | Exception] | None = None,
                 delay: float = 0.0) -> None:
        self.failures = list(failures or [])
        self.sent: list[Reply] = []
        self.attempts = 0
        self.delay = delay

    async def send(self, reply: Reply) -> SendResult:
        self.attempts += 1
        if self.delay:
            await asyncio.sleep(self.delay)
        if self.failures:
            raise self.failures.pop(0)
        self.sent.append(reply)
        return SendResult(f"sent:{reply.reply_id}")


class RecordingNotifier(NullNotifier):
    def __init__(self) -> None:
        self.failed: list[int] = []
        self.delivered_ids: list[int] = []

    async def delivery_failed(self, outbox_item_id: int) -> None:
        self.failed.append(outbox_item_id)

    async def delivered(self, outbox_item_id: int) -> None:
        self.delivered_ids.append(outbox_item_id)


class Clock:
    def __init__(self) -> None:
        self.now = datetime.now(UTC)

    def __call__(self) -> datetime:
        return self.now


def dispatcher(sender: RecordingSender, notifier: RecordingNotifier, clock: Clock,
               owner: str = "w1", max_attempts: int = 3) -> dispatch.OutboxDispatcher:
    return dispatch.OutboxDispatcher(
        senders={Channel.WEBHOOK: sender}, notifier=notifier, owner=owner,
        max_attempts=max_attempts, backoff_base=1.0, lease_seconds=60, clock=clock,
    )


async def _draft() -> Draft:
    accepted = await inbox.accept(inbound("form:m1"))
    message = await Message.get(id=accepted.message_id)
    return await Draft.create(conversation_id=accepted.conversation_id, message=message,
                              text="Here is how.", confidence=0.9, decision="review", model="t")


async def test_one_reply_per_draft_and_it_threads_to_the_customer_message(db: Settings) -> None:
    draft = await _draft()
    first = await outbox.enqueue_reply(conversation_id=draft.conversation_id, text="Hi",  # type: ignore[attr-defined]
                                       decided_by="U1", draft_id=draft.id, auto=False)
    second = await outbox.enqueue_reply(conversation_id=draft.conversation_id, text="Hi",  # type: ignore[attr-defined]
                                        decided_by="U2", draft_id=draft.id, auto=False)
    assert first.id == second.id and await OutboxItem.all().count() == 1
    reply = outbox.payload_to_reply(first.payload)
    assert reply.in_reply_to == "form:m1" and reply.recipient.id == "webhook:cust-1"
    assert reply.thread_metadata == {} and reply.related_message_ids == ("form:m1",)


async def test_retries_with_backoff_then_sends_once(db: Settings) -> None:
    draft = await _draft()
    await outbox.enqueue_reply(conversation_id=draft.conversation_id, text="Hi",  # type: ignore[attr-defined]
                               decided_by="U1", draft_id=draft.id, auto=False)
    clock, notifier = Clock(), RecordingNotifier()
    sender = RecordingSender([SendError("HTTP 500"), TimeoutError("slow receiver")])
    d = dispatcher(sender, notifier, clock)
    assert await d.run_once() == 1
    assert await d.run_once() == 0  # backing off: nothing due yet
    for _ in range(2):
        clock.now += timedelta(minutes=20)
        assert await d.run_once() == 1
    item = await OutboxItem.get()
    assert (item.status, item.attempts, len(sender.sent)) == (QueueStatus.SENT, 3, 1)
    assert notifier.delivered_ids == [item.id]
    out = await Message.get(direction="out")
    assert out.text == "Hi" and out.channel_message_id == f"sent:{sender.sent[0].reply_id}"
    conversation = await Conversation.get(id=item.conversation_id)  # type: ignore[attr-defined]
    assert conversation.status == ConversationStatus.ANSWERED


async def test_permanent_failure_dead_letters_at_once_and_is_shown(db: Settings) -> None:
    draft = await _draft()
    item = await outbox.enqueue_reply(conversation_id=draft.conversation_id, text="Hi",  # type: ignore[attr-defined]
                                      decided_by="U1", draft_id=draft.id, auto=False)
    notifier = RecordingNotifier()
    d = dispatcher(RecordingSender([SendError("550 no such user", permanent=True)]), notifier,
                   Clock())
    await d.run_once()
    stored = await OutboxItem.get(id=item.id)
    assert stored.status == QueueStatus.DEAD and stored.last_error == "550 no such user"
    assert notifier.failed == [item.id]
    assert await outbox.retry(item.id)  # the Retry button puts it back
    await dispatcher(RecordingSender(), notifier, Clock()).run_once()
    assert (await OutboxItem.get(id=item.id)).status == QueueStatus.SENT


async def test_gives_up_after_max_attempts(db: Settings) -> None:
    draft = await _draft()
    await outbox.enqueue_reply(conversation_id=draft.conversation_id, text="Hi",  # type: ignore[attr-defined]
                               decided_by="U1", draft_id=draft.id, auto=False)
    clock, notifier = Clock(), RecordingNotifier()
    d = dispatcher(RecordingSender([SendError("down")] * 5), notifier, clock, max_attempts=3)
    for _ in range(5):
        await d.run_once()
        clock.now += timedelta(hours=1)
    item = await OutboxItem.get()
    assert (item.status, item.attempts) == (QueueStatus.DEAD, 3) and notifier.failed == [item.id]


async def test_two_dispatchers_send_each_reply_exactly_once(db: Settings) -> None:
    for i in range(12):
        accepted = await inbox.accept(inbound(f"form:m{i}", thread=f"form:c{i}"))
        await outbox.enqueue_reply(conversation_id=accepted.conversation_id, text=f"r{i}",
                                   decided_by="auto", draft_id=None, auto=True)
    sender, clock = RecordingSender(delay=0.01), Clock()
    a = dispatcher(sender, RecordingNotifier(), clock, owner="a")
    b = dispatcher(sender, RecordingNotifier(), clock, owner="b")
    while await OutboxItem.filter(status=QueueStatus.PENDING).exists():
        await asyncio.gather(a.run_once(), b.run_once())
    assert sorted(r.text for r in sender.sent) == sorted(f"r{i}" for i in range(12))
    assert sender.attempts == 12


async def test_retry_after_is_honoured_before_the_next_attempt(db: Settings) -> None:
    draft = await _draft()
    await outbox.enqueue_reply(conversation_id=draft.conversation_id, text="Hi",  # type: ignore[attr-defined]
                               decided_by="U1", draft_id=draft.id, auto=False)
    clock, notifier = Clock(), RecordingNotifier()
    sender = RecordingSender([SendError("ratelimited", retry_after=30)])
    d = dispatcher(sender, notifier, clock)
    start = clock.now
    assert await d.run_once() == 1
    item = await OutboxItem.get()
    assert item.next_attempt_at >= start + timedelta(seconds=30)
    for seconds in (1, 10, 29.9):  # backoff alone (base 1 s) would retry within a second
        clock.now = start + timedelta(seconds=seconds)
        assert await d.run_once() == 0
    assert sender.attempts == 1
    clock.now = start + timedelta(seconds=30)
    assert await d.run_once() == 1
    item = await OutboxItem.get()
    assert (item.status, sender.attempts, len(sender.sent)) == (QueueStatus.SENT, 2, 1)


async def test_an_absurd_retry_after_is_capped(db: Settings) -> None:
    draft = await _draft()
    await outbox.enqueue_reply(conversation_id=draft.conversation_id, text="Hi",  # type: ignore[attr-defined]
                               decided_by="U1", draft_id=draft.id, auto=False)
    clock = Clock()
    sender = RecordingSender([SendError("ratelimited", retry_after=10**9)])
    d = dispatcher(sender, RecordingNotifier(), clock)
    start = clock.now
    await d.run_once()
    item = await OutboxItem.get()
    assert item.next_attempt_at == start + timedelta(seconds=dispatch.MAX_RETRY_AFTER_SECONDS)
    clock.now = start + timedelta(seconds=dispatch.MAX_RETRY_AFTER_SECONDS)
    assert await d.run_once() == 1 and len(sender.sent) == 1
