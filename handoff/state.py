"""What a card shows, loaded from the stored state: cards are always rebuilt from the database,
so every update (decision, delivery, dead letter, supersede) renders the same truth."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

from bot.store import attention, cards
from handoff.context import ConversationContext, load_context
from handoff.links import SlackLinks

if TYPE_CHECKING:
    from bot.store.models import Conversation, Message


@dataclass(frozen=True, slots=True)
class Delivery:
    """The latest outbox item of a draft: how its reply is doing."""

    outbox_item_id: int
    status: str  # pending | sent | dead
    attempts: int
    error: str | None
    sent_at: datetime | None


@dataclass(frozen=True, slots=True)
class CardView:
    """Everything a draft card shows (plain values, so ``cards`` stays pure)."""

    draft_id: int
    conversation_id: int
    channel: str
    customer: str
    subject: str | None
    question: str
    draft: str
    confidence: float
    decision: str  # review | human
    status: str
    reasons: list[str] = field(default_factory=list)
    sources: list[dict[str, Any]] = field(default_factory=list)
    signals: dict[str, Any] = field(default_factory=dict)
    triage: dict[str, Any] = field(default_factory=dict)
    model: str = ""
    offline: bool = False
    error: str | None = None
    where: str | None = None
    assignee: str | None = None
    decided_by: str | None = None
    decided_at: datetime | None = None
    final_text: str | None = None
    reject_reason: str | None = None
    delivery: Delivery | None = None
    created_at: datetime | None = None
    topic: str | None = None
    #: The customer wrote again after this draft's message and nobody replied since.
    customer_waiting_since: datetime | None = None
    #: The conversation around the answered message (earlier messages, notes, earlier
    #: conversations, the mail's facts); None where it was not loaded.
    context: ConversationContext | None = None
    #: The conversation's newest reply when it is not this draft's (a later draft's, an
    #: agent's own): the top-level card's state line follows it.
    conversation_delivery: Delivery | None = None
    #: Set by the notifier: who is mentioned when the conversation needs someone and has no
    #: owner (the approvers' group), and the owner's display name for the plain-text header.
    approvers: str = ""
    assignee_name: str | None = None

    @property
    def human_only(self) -> bool:
        return self.decision == "human"


def customer_label(conversation: Conversation, message: Message | None) -> str:
    """The customer as agents know them: name, then e-mail, then the message author."""
    customer = getattr(conversation, "customer", None)
    parts = [p for p in (getattr(customer, "name", None), getattr(customer, "email", None)) if p]
    if parts:
        return " · ".join(dict.fromkeys(parts))
    return message.author if message is not None else "unknown customer"


def where_label(conversation: Conversation, message: Message | None) -> str | None:
    """Where the customer wrote: the Slack channel, the mailbox, the webhook source."""
    meta = message.metadata if message is not None else {}
    if conversation.channel == "slack" and meta.get("channel"):
        return f"<#{meta['channel']}>" if meta.get("channel_type") != "im" else "direct message"
    if conversation.channel == "webhook":
        return conversation.thread_key.split(":", 1)[0]
    return None


async def load_card(draft_id: int, *, links: SlackLinks | None = None) -> CardView:
    """Build the ``CardView`` of one draft from the database (``links``: permalinks to the
    customer's Slack message and to earlier conversations' card threads)."""
    draft = await cards.draft_for_card(draft_id)
    if draft is None:
        raise LookupError(f"draft {draft_id} does not exist")
    conversation = draft.conversation
    message = draft.message
    item = await cards.latest_delivery(draft_id)
    delivery = None
    if item is not None:
        delivery = Delivery(item.id, item.status, item.attempts, item.last_error, item.sent_at)
    newest = await cards.latest_conversation_delivery(conversation.id)
    conversation_delivery = None
    if newest is not None and (item is None or newest.id > item.id):
        conversation_delivery = Delivery(newest.id, newest.status, newest.attempts,
                                         newest.last_error, newest.sent_at)
    signal_reason = None
    if draft.status == "rejected":
        signal_reason = await cards.rejection_reason(draft_id)
    return CardView(
        draft_id=draft.id,
        conversation_id=conversation.id,
        channel=conversation.channel,
        customer=customer_label(conversation, message),
        subject=conversation.subject,
        question=message.text,
        draft=draft.text,
        confidence=draft.confidence,
        decision=draft.decision,
        status=draft.status,
        reasons=[str(r) for r in draft.reasons or []],
        sources=[s for s in draft.sources or [] if isinstance(s, dict)],
        signals=dict(draft.signals or {}),
        triage=dict(draft.triage or {}),
        model=draft.model,
        offline=draft.offline,
        error=draft.error,
        where=where_label(conversation, message),
        assignee=conversation.assignee,
        decided_by=draft.decided_by,
        decided_at=draft.decided_at,
        final_text=draft.final_text,
        reject_reason=signal_reason,
        delivery=delivery,
        created_at=draft.created_at,
        topic=draft.topic,
        customer_waiting_since=await attention.customer_waiting_since(
            conversation.id, after_message=message.id),
        context=await load_context(
            conversation_id=conversation.id, channel=conversation.channel,
            answered_id=message.id, links=links,
            customer_id=conversation.customer.id if conversation.customer else None,
            customer_email=conversation.customer.email if conversation.customer else None),
        conversation_delivery=conversation_delivery,
    )
