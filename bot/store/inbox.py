"""The durable inbox: edges ``accept`` a message before they acknowledge it; workers claim it.

``accept`` stores the customer, the conversation (threaded), the message and an inbox item in one
transaction, deduplicated on (channel, channel_message_id). Workers claim items with a lease
through a conditional UPDATE, which is race-free on SQLite and PostgreSQL alike: two workers
never process the same item, and an item whose worker died is claimed again once its lease ends.
"""

from __future__ import annotations

import logging
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, TypedDict, cast

from tortoise.exceptions import BaseORMException, IntegrityError
from tortoise.expressions import F, Q
from tortoise.functions import Min
from tortoise.transactions import in_transaction

from bot.clock import Clock, utcnow
from bot.domain import Accepted, AcceptError, Channel, Inbound, Sender, backoff_seconds
from bot.store.models import (
    Conversation,
    ConversationStatus,
    Customer,
    Draft,
    InboxItem,
    Message,
    QueueStatus,
)

log = logging.getLogger(__name__)

_REOPEN = {ConversationStatus.ANSWERED, ConversationStatus.CLOSED}
class _CustomerFields(TypedDict, total=False):
    """``Customer`` columns set from an inbound sender; one identity key is the lookup."""

    name: str | None
    email: str | None
    slack_user: str
    external_id: str


async def accept(inbound: Inbound) -> Accepted:
    """Durably store an inbound message; return where it went. Idempotent per message id.

    Raises ``AcceptError`` when the database cannot take it: the edge must answer with a
    temporary failure so the sender retries (nothing is acknowledged that is not stored).
    """
    for attempt in range(4):
        try:
            # The first attempt assumes a new message (nearly all are) and lets the unique
            # (channel, channel_message_id) constraint catch a replay; later ones look first.
            return await _accept_once(inbound, look_for_duplicate=attempt > 0)
        except IntegrityError:
            # A replay, or a concurrent accept created the same message or conversation first:
            # re-read.
            if attempt == 3:
                raise AcceptError("could not store message: concurrent writes conflict") from None
        except BaseORMException as exc:
            log.exception("accept failed for %s message", inbound.channel)
            raise AcceptError(f"could not store message: {exc.__class__.__name__}") from exc
        except OSError as exc:
            log.exception("accept failed for %s message (database unreachable)", inbound.channel)
            raise AcceptError("could not store message: database unreachable") from exc
        except Exception as exc:
            # Driver errors Tortoise does not translate (asyncpg refusing a new connection
            # while the server restarts, a pool whose connections were terminated) are still
            # "not stored": the edge must answer 503 / 451 so the sender retries, never 500.
            log.exception("accept failed for %s message (database error)", inbound.channel)
            raise AcceptError(f"could not store message: {exc.__class__.__name__}") from exc
    raise AssertionError("unreachable")


async def _accept_once(inbound: Inbound, *, look_for_duplicate: bool) -> Accepted:
    async with in_transaction():
        if look_for_duplicate:
            existing = await Message.get_or_none(
                channel=inbound.channel.value, channel_message_id=inbound.channel_message_id
            ).select_related("conversation")
            if existing is not None:
                return Accepted(
                    conversation_id=existing.conversation.id,
                    message_id=existing.id,
                    duplicate=True,
                    conversation_token=existing.conversation.token,
                )
        customer = await _customer_for(inbound)
        conversation = await _conversation_for(inbound, customer)
        message = await Message.create(
            conversation=conversation,
            channel=inbound.channel.value,
            direction="in",
            author=inbound.sender.name or inbound.sender.email or inbound.sender.id,
            text=inbound.text,
            channel_message_id=inbound.channel_message_id,
            metadata=dict(inbound.metadata),
            suppress_reply=inbound.suppress_reply,
            received_at=inbound.received_at,
        )
        await InboxItem.create(message=message)
    return Accepted(
        conversation_id=conversation.id,
        message_id=message.id,
        duplicate=False,
        conversation_token=conversation.token,
    )


async def _customer_for(inbound: Inbound) -> Customer:
    sender = inbound.sender
    lookup: _CustomerFields
    if inbound.channel is Channel.EMAIL and sender.email:
        lookup = {"email": sender.email.lower()}
    elif inbound.channel is Channel.SLACK:
        lookup = {"slack_user": sender.id}
    else:
        lookup = {"external_id": f"{inbound.channel.value}:{sender.id}"}
    customer = await Customer.filter(**lookup).first()
    if customer is None:
        fields: _CustomerFields = {
            "name": sender.name, "email": (sender.email or "").lower() or None, **lookup
        }
        customer = await Customer.create(**fields)
    elif sender.name and customer.name != sender.name:
        customer.name = sender.name
        await customer.save(update_fields=["name"])
    return customer


async def _conversation_for(inbound: Inbound, customer: Customer) -> Conversation:
    """Thread the message: a known related message, then the reply token, then the thread key.

    Never by subject: two customers writing "Invoice" stay two conversations.
    """
    channel = inbound.channel.value
    conversation: Conversation | None = None
    if inbound.related_message_ids:
        related = await Message.filter(
            channel=channel, channel_message_id__in=list(inbound.related_message_ids)
        ).values("channel_message_id", "conversation_id")
        by_id = {r["channel_message_id"]: r["conversation_id"] for r in related}
        for message_id in inbound.related_message_ids:
            if message_id in by_id:
                conversation = await Conversation.get(id=by_id[message_id])
                break
    token = inbound.metadata.get("conversation_token")
    if conversation is None and isinstance(token, str) and token:
        conversation = await Conversation.get_or_none(token=token, channel=channel)
    if conversation is None:
        conversation = await Conversation.get_or_none(channel=channel,
                                                      thread_key=inbound.thread_key)
    if conversation is None:
        return await Conversation.create(
            channel=channel,
            thread_key=inbound.thread_key,
            token=secrets.token_hex(8),
            subject=(inbound.subject or "")[:998] or None,
            customer=customer,
        )
    if conversation.status in _REOPEN:
        conversation.status = ConversationStatus.OPEN
        await conversation.save(update_fields=["status", "updated_at"])
    return conversation


async def requeue(message_id: int) -> None:
    """Route a stored message again (the customer edited it while its draft was pending: the
    router supersedes that draft and drafts for the new text)."""
    await InboxItem.create(message_id=message_id)


async def update_slack_profile(profile: Sender) -> None:
    """Fill in the name and e-mail of the customer with Slack user ``profile.id``.

    The Slack channel stores a message before ``users.info`` answered (the ack must not wait
    for it); this catches the customer row up afterwards (drafts read the name from there).
    """
    fields: dict[str, Any] = {}
    if profile.name:
        fields["name"] = profile.name
    if profile.email:
        fields["email"] = profile.email.lower()
    if fields:
        await Customer.filter(slack_user=profile.id).update(**fields)


@dataclass(frozen=True, slots=True)
class Claimed:
    """An inbox item this worker holds the lease on."""

    inbox_id: int
    message_id: int
    conversation_id: int
    attempts: int


async def claim(owner: str, *, limit: int, lease_seconds: float, clock: Clock = utcnow,
                coalesce_seconds: float | None = None) -> list[Claimed]:
    """Lease up to ``limit`` pending items, oldest first, at most one per conversation.

    One conversation's messages are processed in order, never by two workers at once: an item
    is skipped while an earlier item of its conversation is still unfinished.

    With ``coalesce_seconds`` (not None), a burst becomes one draft: when a conversation has
    several pending items, the earlier ones are marked ``coalesced`` (the messages stay
    stored, and the draft of the newest sees them in its history) and only the newest is
    leased, once no new message has arrived in the conversation for ``coalesce_seconds``.
    """
    now = clock()
    free = Q(lease_until__isnull=True) | Q(lease_until__lte=now)
    rows = await (
        InboxItem.filter(free, status=QueueStatus.PENDING)
        .order_by("id")
        .limit(limit * 4)
        .values("id", "message_id", "message__conversation_id", "attempts")
    )
    if not rows:
        return []
    # Earlier unfinished items (leased by others, or backing off) hold their conversation.
    conversations = {r["message__conversation_id"] for r in rows}
    first_open = dict(await (
        InboxItem.filter(status=QueueStatus.PENDING,
                         message__conversation_id__in=list(conversations))
        .annotate(first=Min("id")).group_by("message__conversation_id")
        .values_list("message__conversation_id", "first")
    ))
    eligible = []
    for row in rows:
        if first_open.get(row["message__conversation_id"]) == row["id"]:
            first_open.pop(row["message__conversation_id"])
            eligible.append(row)
    if coalesce_seconds is not None:
        eligible = await _coalesce(eligible, free, now, coalesce_seconds)
    eligible = eligible[:limit]
    if not eligible:
        return []
    # One conditional UPDATE leases the whole batch (one statement and one commit, not one per
    # item); the conditions make it race-free as before. Another worker that got some of them
    # first leaves fewer rows updated: then read back which ones are ours.
    until = now + timedelta(seconds=lease_seconds)
    ids = [row["id"] for row in eligible]
    won = await InboxItem.filter(free, id__in=ids, status=QueueStatus.PENDING).update(
        lease_owner=owner, lease_until=until, attempts=F("attempts") + 1
    )
    if won < len(ids):
        ours = set(await InboxItem.filter(id__in=ids, lease_owner=owner, lease_until=until)
                   .values_list("id", flat=True)) if won else set()
        eligible = [row for row in eligible if row["id"] in ours]
    return [
        Claimed(row["id"], row["message_id"], row["message__conversation_id"], row["attempts"] + 1)
        for row in eligible
    ]


async def _coalesce(rows: list[dict[str, Any]], free: Q, now: datetime, window: float
                    ) -> list[dict[str, Any]]:
    """Replace each conversation's first pending item by its newest (see ``claim``)."""
    fresh = [r for r in rows if r["attempts"] == 0]  # a retried item resumes, never folds
    if not fresh:
        return rows
    conversations = [r["message__conversation_id"] for r in fresh]
    latest = {
        r["message__conversation_id"]: r
        for r in await InboxItem.filter(free, status=QueueStatus.PENDING,
                                        message__conversation_id__in=conversations)
        .order_by("id")
        .values("id", "message_id", "message__conversation_id", "attempts", "created_at")
    }
    quiet_since = now - timedelta(seconds=window)
    result: list[dict[str, Any]] = []
    for row in rows:
        newest = latest.get(row["message__conversation_id"]) if row["attempts"] == 0 else None
        if newest is None:
            result.append(row)
            continue
        if window and newest["created_at"] > quiet_since:
            continue  # the burst may go on: wait until the conversation is quiet
        if newest["id"] != row["id"]:
            earlier = await InboxItem.filter(
                status=QueueStatus.PENDING, attempts=0, id__lt=newest["id"],
                message__conversation_id=row["message__conversation_id"],
            ).values_list("id", flat=True)
            folded = await InboxItem.filter(
                free, id__in=list(earlier), status=QueueStatus.PENDING, attempts=0
            ).update(status=QueueStatus.COALESCED, done_at=now,
                     last_error=f"coalesced into message {newest['message_id']}")
            log.info("coalesced %s messages of conversation %s into message %s", folded,
                     row["message__conversation_id"], newest["message_id"])
        result.append(newest)
    return result


async def recent_arrivals(message_id: int) -> tuple[int, int, str]:
    """How many customer messages arrived from this message's sender in the hour, and through
    its channel in the minute, up to and including it; and the channel's name.

    Counted up to the message itself: a backlog routed late is judged by when each message
    arrived relative to the others, not by how many are queued behind it.
    """
    message = await Message.get(id=message_id).prefetch_related("conversation")
    customer_id = message.conversation.customer_id  # type: ignore[attr-defined]
    sender = await Message.filter(
        direction="in", conversation__customer_id=customer_id, id__lte=message.id,
        created_at__gte=message.created_at - timedelta(hours=1),
    ).count()
    source = await Message.filter(
        direction="in", channel=message.channel, id__lte=message.id,
        created_at__gte=message.created_at - timedelta(minutes=1),
    ).count()
    return sender, source, message.channel


async def complete(item: Claimed, owner: str, *, clock: Clock = utcnow) -> None:
    """Mark a claimed item done (only if this worker still holds it)."""
    await complete_many([item], owner, clock=clock)


async def complete_many(items: list[Claimed], owner: str, *, clock: Clock = utcnow) -> None:
    """Mark a batch of claimed items done in one statement (one commit for the batch)."""
    if items:
        await InboxItem.filter(id__in=[i.inbox_id for i in items], lease_owner=owner).update(
            status=QueueStatus.DONE, done_at=clock(), lease_until=None, last_error=None
        )


async def fail(
    item: Claimed, owner: str, error: str, *, max_attempts: int, clock: Clock = utcnow
) -> bool:
    """Record a failed attempt; back off, or give up after ``max_attempts``. True if given up."""
    now = clock()
    if item.attempts >= max_attempts:
        await InboxItem.filter(id=item.inbox_id, lease_owner=owner).update(
            status=QueueStatus.FAILED, last_error=error[:4000], lease_until=None, done_at=now
        )
        return True
    # Jittered like the outbox's retries, so items that failed together (a Qdrant or LLM
    # outage) do not all come back in the same second.
    backoff = timedelta(seconds=backoff_seconds(item.attempts, base=2.0, cap=300.0))
    await InboxItem.filter(id=item.inbox_id, lease_owner=owner).update(
        last_error=error[:4000], lease_owner=None, lease_until=now + backoff
    )
    return False


async def depth() -> int:
    """How many accepted messages still await the router."""
    return await InboxItem.filter(status=QueueStatus.PENDING).count()


async def failed_without_draft() -> list[tuple[int, int, str | None]]:
    """``(message id, conversation id, last error)`` of items routing gave up on that have no
    draft yet (their human card was never made)."""
    rows: list[Any] = await InboxItem.filter(status=QueueStatus.FAILED).values_list(
        "message_id", "message__conversation_id", "last_error")
    orphans = []
    for message_id, conversation_id, error in rows:
        if not await Draft.filter(message_id=message_id).exists():
            orphans.append((int(message_id), int(conversation_id), error))
    return orphans


async def oldest_pending_at() -> datetime | None:
    """When the oldest message still awaiting the router was accepted."""
    # Tortoise types every values_list() result as tuples, even flat=True on a single row.
    oldest = await (
        InboxItem.filter(status=QueueStatus.PENDING).annotate(first=Min("created_at"))
        .first().values_list("first", flat=True)
    )
    return cast("datetime | None", oldest)
