"""What a decision needs and what it returns: the ``deliver`` port, outcomes and the error.

A losing caller (someone decided first) gets an outcome with ``won=False`` naming the earlier
decision, never an exception; ``DecisionError`` is for decisions that cannot be made as asked.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from bot.store.drafts import EnqueueFn, HasId

__all__ = ["ConversationOutcome", "DecisionError", "DeliverFn", "DraftOutcome", "HasId"]


#: ``bot.store.outbox.enqueue_reply``: store a reply for the customer in the outbox.
DeliverFn = EnqueueFn


class DecisionError(ValueError):
    """A decision that cannot be made as asked (unknown draft, empty reply)."""


@dataclass(frozen=True, slots=True)
class DraftOutcome:
    """The result of approve/reject. ``won`` is False when someone decided first; then
    ``status``, ``decided_by`` and ``decided_at`` describe the earlier decision."""

    won: bool
    draft_id: int
    conversation_id: int
    status: str
    decided_by: str | None
    decided_at: datetime | None
    final_text: str | None = None
    edit_ratio: float | None = None
    outbox_item_id: int | None = None
    reason: str | None = None
    #: Set when the decision was refused because another agent owns the conversation.
    owner: str | None = None


@dataclass(frozen=True, slots=True)
class ConversationOutcome:
    """The result of take over / release / manual reply / note on a conversation."""

    won: bool
    conversation_id: int
    status: str
    assignee: str | None
    outbox_item_id: int | None = None
    superseded_draft_id: int | None = None
    message_id: int | None = None
    #: A refused reply: a reply sent since the agent started writing (who, when).
    replied_by: str | None = None
    replied_at: datetime | None = None
