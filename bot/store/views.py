"""Read-only views for the HTTP surface: a conversation with its messages and drafts."""

from __future__ import annotations

from typing import Any

from bot.store.models import Conversation, Draft, Message


async def conversation(conversation_id: int) -> dict[str, Any] | None:
    """A conversation, its messages and its drafts as JSON-ready data; None when unknown."""
    found = await Conversation.get_or_none(id=conversation_id)
    if found is None:
        return None
    messages = await Message.filter(conversation_id=conversation_id).order_by("id").values(
        "direction", "author", "text", "created_at")
    drafts = await Draft.filter(conversation_id=conversation_id).order_by("id").values(
        "id", "status", "decision", "confidence", "text", "reasons", "sources", "model",
        "offline", "timings_ms")
    return {"id": found.id, "channel": found.channel, "status": found.status,
            "subject": found.subject, "messages": messages, "drafts": drafts}
