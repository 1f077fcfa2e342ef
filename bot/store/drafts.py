"""Drafts: the router's stored result and every state change of a draft.

Each state change has one writer here: ``record`` (the router's decision), ``mark_auto_sent``,
``hand_to_humans``, ``supersede_pending``, ``decide`` (an agent's approve/edit/reject, first
decision wins through a conditional ``UPDATE … WHERE status = 'pending'``).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol

from tortoise.expressions import F
from tortoise.transactions import in_transaction

from bot.domain import ConversationStatus, Decision, DraftStatus
from bot.store.models import Conversation, Draft, OutboxItem
from bot.store.signals import Signal, record_signal


class OwnedByOther(Exception):
    """The conversation belongs to another agent: only its owner (or an admin who reassigns
    it) may send or decide. Raised inside the transaction, so nothing is written."""

    def __init__(self, owner: str) -> None:
        super().__init__(f"owned by {owner}")
        self.owner = owner


class RepliedMeanwhile(Exception):
    """A reply went to the customer after the agent opened their reply (nothing written)."""

    def __init__(self, by: str, at: datetime | None) -> None:
        super().__init__(f"replied by {by}")
        self.by = by
        self.at = at


async def _lock_owner(conversation_id: int, agent: str) -> Conversation:
    """Lock the conversation row for the transaction and refuse ``agent`` when another agent
    owns it. Every sender takes this lock first, so two senders are serialised."""
    conversation = await Conversation.filter(id=conversation_id).select_for_update().first()
    if conversation is None:
        raise LookupError(f"conversation {conversation_id} does not exist")
    if conversation.assignee not in (None, agent):
        raise OwnedByOther(str(conversation.assignee))
    return conversation


async def latest_reply_id(conversation_id: int) -> int:
    """The id of the newest reply queued for the conversation's customer (0: none yet)."""
    latest = await OutboxItem.filter(conversation_id=conversation_id).order_by("-id").first()
    return latest.id if latest is not None else 0


class HasId(Protocol):
    """What ``enqueue`` returns: the stored outbox item (only its id matters here)."""

    id: int


class EnqueueFn(Protocol):
    """Store a reply to the conversation's customer in the outbox (``bot.store.outbox``)."""

    async def __call__(
        self, *, conversation_id: int, text: str, decided_by: str, draft_id: int | None,
        auto: bool,
    ) -> HasId: ...


@dataclass(frozen=True, slots=True)
class NewDraft:
    """What the router concluded about one message, as stored on its draft."""

    conversation_id: int
    message_id: int
    text: str
    confidence: float
    decision: Decision
    signals: dict[str, Any] = field(default_factory=dict)
    reasons: list[str] = field(default_factory=list)
    sources: list[dict[str, Any]] = field(default_factory=list)
    triage: dict[str, Any] = field(default_factory=dict)
    timings_ms: dict[str, float] = field(default_factory=dict)
    model: str = "none"
    offline: bool = False
    input_tokens: int = 0
    output_tokens: int = 0
    cache_read_tokens: int = 0
    cache_creation_tokens: int = 0
    error: str | None = None
    topic: str | None = None


async def get(draft_id: int) -> Draft | None:
    """The draft with its conversation and message, or None."""
    return await Draft.get_or_none(id=draft_id).prefetch_related("conversation", "message")


async def record(new: NewDraft, *, channel: str, now: datetime,
                 enqueue: EnqueueFn) -> Draft:
    """Store the router's decision in one transaction: the draft, the conversation's state and,
    when auto-sent, the outbox item and the learning signal."""
    status = DraftStatus.EXPIRED if new.decision is Decision.SUPPRESSED else DraftStatus.PENDING
    async with in_transaction():
        draft = await Draft.create(
            conversation_id=new.conversation_id, message_id=new.message_id, text=new.text,
            confidence=new.confidence, signals=new.signals, reasons=new.reasons,
            sources=new.sources, decision=new.decision.value, triage=new.triage,
            timings_ms=new.timings_ms, model=new.model, offline=new.offline,
            input_tokens=new.input_tokens, output_tokens=new.output_tokens, error=new.error,
            cache_read_tokens=new.cache_read_tokens,
            cache_creation_tokens=new.cache_creation_tokens, status=status, topic=new.topic,
        )
        if new.decision is Decision.AUTO:
            await mark_auto_sent(draft, channel=channel, now=now, enqueue=enqueue)
        elif new.decision is not Decision.SUPPRESSED:
            await Conversation.filter(id=new.conversation_id).update(
                status=ConversationStatus.AWAITING_APPROVAL)
    return draft


async def mark_auto_sent(draft: Draft, *, channel: str, now: datetime,
                         enqueue: EnqueueFn) -> None:
    """Mark the pending ``draft`` sent automatically and queue it, counting the conversation's
    automatic replies and recording the signal (inside the caller's transaction)."""
    conversation_id: int = draft.conversation_id  # type: ignore[attr-defined]
    won = await Draft.filter(id=draft.id, status=DraftStatus.PENDING).update(
        status=DraftStatus.AUTO_SENT, decided_by="auto", decided_at=now, final_text=draft.text)
    if not won:
        return
    await enqueue(conversation_id=conversation_id, text=draft.text, decided_by="auto",
                  draft_id=draft.id, auto=True)
    await Conversation.filter(id=conversation_id).update(auto_replies=F("auto_replies") + 1)
    await record_signal(Signal(
        draft_id=draft.id, conversation_id=conversation_id, channel=channel,
        action="auto_sent", agent="auto", original_text=draft.text, final_text=draft.text,
        edit_ratio=0.0, seconds_to_decision=0.0, confidence=draft.confidence,
    ))


async def hand_to_humans(*, message_id: int, conversation_id: int, error: str | None,
                         reason: str = "routing failed") -> Draft:
    """Routing gave up on a message (or it is over a rate limit): a human-only draft carrying
    the reason and error, and the conversation waits for an agent. Never a silent drop."""
    async with in_transaction():
        draft = await Draft.create(
            conversation_id=conversation_id, message_id=message_id, text="", confidence=0.0,
            decision=Decision.HUMAN.value, model="none", reasons=[reason],
            error=error,
        )
        await Conversation.filter(id=conversation_id).update(
            status=ConversationStatus.AWAITING_APPROVAL)
    return draft


async def latest_for_message(message_id: int) -> Draft | None:
    """The newest draft made for a customer message (a resumed routing finds it)."""
    return await Draft.filter(message_id=message_id).order_by("-id").first()


async def exists_for_message(message_id: int) -> bool:
    """Whether the message was routed at all."""
    return await Draft.filter(message_id=message_id).exists()


async def supersede_pending(conversation_id: int, *, now: datetime,
                            by: str = "customer") -> list[int]:
    """Mark the conversation's pending drafts superseded; the ids this call superseded."""
    pending: list[Any] = await Draft.filter(
        conversation_id=conversation_id, status=DraftStatus.PENDING
    ).values_list("id", flat=True)
    won: list[int] = []
    for draft_id in pending:
        if await Draft.filter(id=draft_id, status=DraftStatus.PENDING).update(
                status=DraftStatus.SUPERSEDED, decided_at=now, decided_by=by):
            won.append(int(draft_id))
    return won


async def auto_sent_to_customer_since(customer_id: int, since: datetime) -> int:
    """Automatic replies this customer received since ``since`` (the daily cap)."""
    return await Draft.filter(status=DraftStatus.AUTO_SENT, created_at__gte=since,
                              conversation__customer_id=customer_id).count()


async def recent_auto_sent(limit: int) -> list[Draft]:
    """The newest automatically sent drafts with their message and conversation."""
    return await (Draft.filter(status=DraftStatus.AUTO_SENT).order_by("-decided_at", "-id")
                  .limit(limit).prefetch_related("message", "conversation"))


async def oldest_pending(limit: int) -> list[Draft]:
    """Pending drafts, oldest first, with their conversations."""
    return await (Draft.filter(status=DraftStatus.PENDING).order_by("created_at", "id")
                  .limit(limit).prefetch_related("conversation"))


async def decide(
    draft: Draft,
    *,
    status: DraftStatus,
    agent: str,
    now: datetime,
    signal: Signal,
    final_text: str | None = None,
    enqueue: EnqueueFn | None = None,
) -> tuple[bool, HasId | None]:
    """An agent's decision on a pending draft, in one transaction: the conditional status
    change, the reply queued (approve/edit, through ``enqueue``), the learning signal, and a
    rejected draft's conversation handed to humans.

    Returns ``(won, queued outbox item)``: ``won`` is False when someone decided first
    (nothing written); the item is None for a rejection. Raises ``OwnedByOther`` when another
    agent owns the conversation.
    """
    async with in_transaction():
        await _lock_owner(draft.conversation_id, agent)  # type: ignore[attr-defined]
        won = await Draft.filter(id=draft.id, status=DraftStatus.PENDING).update(
            status=status, decided_by=agent, decided_at=now, final_text=final_text)
        if not won:
            return False, None
        conversation_id: int = draft.conversation_id  # type: ignore[attr-defined]
        item: HasId | None = None
        if enqueue is not None and final_text is not None:
            item = await enqueue(conversation_id=conversation_id, text=final_text,
                                 decided_by=agent, draft_id=draft.id, auto=False)
        await record_signal(signal)
        if status is DraftStatus.REJECTED:
            await Conversation.filter(id=conversation_id).update(
                status=ConversationStatus.HUMAN)
    return True, item


async def reply_manually(
    conversation_id: int, *, agent: str, text: str, now: datetime, enqueue: EnqueueFn,
    signal_for: Callable[[Draft | None], Signal], seen_reply: int | None = None,
) -> tuple[HasId, Draft | None]:
    """An agent's own reply, in one transaction: the agent becomes the conversation's owner,
    its pending draft is superseded by the reply, the reply queued, the signal (built from the
    superseded draft) recorded.

    Raises ``OwnedByOther`` when another agent owns the conversation, and ``RepliedMeanwhile``
    when a reply newer than ``seen_reply`` (the newest reply when the agent started writing)
    was queued since: re-checked under the conversation's row lock, right before sending.
    """
    async with in_transaction():
        await _lock_owner(conversation_id, agent)
        if seen_reply is not None:
            newer = await (OutboxItem.filter(conversation_id=conversation_id, id__gt=seen_reply)
                           .order_by("-id").first())
            if newer is not None:
                raise RepliedMeanwhile(str(newer.payload.get("decided_by") or "someone"),
                                       newer.created_at)
        await Conversation.filter(id=conversation_id).update(
            assignee=agent, status=ConversationStatus.HUMAN)
        draft = await (Draft.filter(conversation_id=conversation_id, status=DraftStatus.PENDING)
                       .order_by("-id").first())
        if draft is not None:
            superseded = await Draft.filter(id=draft.id, status=DraftStatus.PENDING).update(
                status=DraftStatus.SUPERSEDED, decided_by=agent, decided_at=now, final_text=text)
            draft = draft if superseded else None
        item = await enqueue(conversation_id=conversation_id, text=text, decided_by=agent,
                             draft_id=draft.id if draft is not None else None, auto=False)
        await record_signal(signal_for(draft))
    return item, draft


