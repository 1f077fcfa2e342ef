"""What the Slack approval channel stores and reads: where a conversation's cards live, each
draft's card, reminders, and the rows a card is built from (``handoff/`` reads and writes only
through these functions)."""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from tortoise.expressions import Q

from bot.domain import DraftStatus
from bot.store.models import Conversation, Draft, LearningSignal, Message, OutboxItem


async def card_ts(draft_id: int) -> tuple[str, int] | None:
    """``(card message ts, conversation id)`` of a draft whose card was posted, else None."""
    rows = await Draft.filter(id=draft_id).values("approval_ts", "conversation_id")
    if not rows or not rows[0]["approval_ts"]:
        return None
    return str(rows[0]["approval_ts"]), int(rows[0]["conversation_id"])


async def has_card(draft_id: int) -> bool:
    """Whether the draft's card was posted."""
    return await Draft.filter(id=draft_id, approval_ts__not_isnull=True).exists()


async def record_card(draft_id: int, ts: str) -> None:
    """Remember the ts of the draft's card (the post it claimed is over)."""
    await Draft.filter(id=draft_id).update(approval_ts=ts, card_posting_at=None)


@dataclass(frozen=True, slots=True)
class CardClaim:
    """The right to post one draft's card: ``token`` goes into the Slack message's metadata;
    ``resumed`` says an earlier post of it may have reached Slack (look for it first)."""

    token: str
    resumed: bool


async def claim_card_post(draft_id: int, *, now: datetime,
                          stale_before: datetime) -> CardClaim | None:
    """Claim the post of the draft's card, before ``chat.postMessage``; None when it has a
    card already or another post of it began after ``stale_before`` (still in flight).

    A post that began before ``stale_before`` never finished (its process died between
    posting and recording): the claim passes on, ``resumed``, with the same token. Every
    claim is a conditional update, so two workers never both hold one.
    """
    rows = await Draft.filter(id=draft_id).values("approval_ts", "card_token",
                                                  "card_posting_at")
    if not rows or rows[0]["approval_ts"]:
        return None
    token, began = rows[0]["card_token"], rows[0]["card_posting_at"]
    if token is None:
        token = secrets.token_hex(16)
        claimed = await Draft.filter(id=draft_id, card_token__isnull=True,
                                     approval_ts__isnull=True).update(
            card_token=token, card_posting_at=now)
        return CardClaim(token, resumed=False) if claimed else None
    if began is not None and began >= stale_before:
        return None
    match = Draft.filter(id=draft_id, card_token=token, approval_ts__isnull=True)
    match = match.filter(card_posting_at__isnull=True) if began is None else match.filter(
        card_posting_at=began)
    claimed = await match.update(card_posting_at=now)
    return CardClaim(str(token), resumed=True) if claimed else None


async def release_card_post(draft_id: int) -> None:
    """The claimed post failed (Slack refused, timed out or was unreachable): the next claim
    may start at once, and looks for the card in Slack first (the post may have landed)."""
    await Draft.filter(id=draft_id, approval_ts__isnull=True).update(card_posting_at=None)


async def latest_card_draft(conversation_id: int) -> int | None:
    """The newest draft of the conversation that has a card."""
    latest = await (Draft.filter(conversation_id=conversation_id, approval_ts__not_isnull=True)
                    .order_by("-id").first())
    return latest.id if latest is not None else None


async def thread_card_draft(conversation_id: int) -> int | None:
    """The draft whose card is the top of the conversation's thread (its first card)."""
    conversation = await Conversation.get_or_none(id=conversation_id)
    if conversation is None or not conversation.approval_thread_ts:
        return None
    top = await Draft.filter(conversation_id=conversation_id,
                             approval_ts=conversation.approval_thread_ts).first()
    return top.id if top is not None else None


async def has_thread(conversation_id: int) -> bool:
    """Whether the conversation has a card thread in the approval channel."""
    return await Conversation.filter(id=conversation_id,
                                     approval_thread_ts__not_isnull=True).exists()


async def approval_place(conversation_id: int) -> tuple[str | None, str | None]:
    """``(channel, thread ts)`` of the conversation's card thread (None: not started yet)."""
    conversation = await Conversation.get(id=conversation_id)
    return conversation.approval_channel, conversation.approval_thread_ts


async def record_thread(conversation_id: int, *, channel: str, ts: str) -> None:
    """The conversation's first card starts its thread (kept when one exists already)."""
    await Conversation.filter(id=conversation_id, approval_thread_ts__isnull=True).update(
        approval_channel=channel, approval_thread_ts=ts)


async def conversation_by_thread(channel: str | None, thread_ts: str) -> int | None:
    """The conversation whose card thread this is, or None."""
    conversation = await Conversation.get_or_none(approval_channel=channel,
                                                  approval_thread_ts=thread_ts)
    return conversation.id if conversation is not None else None


async def pending_without_card(limit: int) -> list[int]:
    """Drafts whose card was never recorded (Slack was down, or the process died between
    posting and recording), oldest first: pending drafts, and auto-sent ones whose card post
    was begun (older auto-sent drafts without a card, from before Slack was set up, stay so).
    """
    drafts = await (Draft.filter(Q(status=DraftStatus.PENDING)
                                 | Q(status=DraftStatus.AUTO_SENT, card_token__not_isnull=True),
                                 approval_ts__isnull=True)
                    .order_by("id").limit(limit).only("id"))
    return [d.id for d in drafts]


async def stale_pending(*, older_than: timedelta, now: datetime, limit: int = 50) -> list[Draft]:
    """Pending drafts with a card, waiting longer than ``older_than`` and not yet reminded."""
    return await Draft.filter(status=DraftStatus.PENDING, approval_ts__not_isnull=True,
                              reminded_at__isnull=True,
                              created_at__lte=now - older_than).order_by("id").limit(limit)


async def claim_reminder(draft_id: int, now: datetime) -> bool:
    """Mark the draft reminded; False when another worker did first."""
    return bool(await Draft.filter(id=draft_id, reminded_at__isnull=True).update(
        reminded_at=now))


async def draft_for_card(draft_id: int) -> Draft | None:
    """A draft with its conversation, customer and message (everything its card shows)."""
    return await Draft.get_or_none(id=draft_id).prefetch_related("conversation__customer",
                                                                 "message")


async def pending_draft(conversation_id: int) -> Draft | None:
    """The conversation's newest pending draft with its message, or None."""
    return await (Draft.filter(conversation_id=conversation_id, status=DraftStatus.PENDING)
                  .order_by("-id").first().prefetch_related("message"))


async def message_with_customer(message_id: int) -> Message:
    """A message with its conversation and customer."""
    return await Message.get(id=message_id).prefetch_related("conversation__customer")


async def latest_delivery(draft_id: int) -> OutboxItem | None:
    """The newest outbox item of a draft (its delivery state), or None."""
    return await OutboxItem.filter(draft_id=draft_id).order_by("-id").first()


async def latest_conversation_delivery(conversation_id: int) -> OutboxItem | None:
    """The conversation's newest reply in the outbox (any draft's or an agent's own)."""
    return await OutboxItem.filter(conversation_id=conversation_id).order_by("-id").first()


async def outbox_item(outbox_item_id: int) -> OutboxItem | None:
    """One outbox item, or None."""
    return await OutboxItem.get_or_none(id=outbox_item_id)


async def rejection_reason(draft_id: int) -> str | None:
    """The reason an agent gave when rejecting the draft."""
    signal = await LearningSignal.filter(draft_id=draft_id, action="rejected").first()
    return signal.reason if signal is not None else None


async def draft(draft_id: int) -> Draft | None:
    """One draft, or None."""
    return await Draft.get_or_none(id=draft_id)


