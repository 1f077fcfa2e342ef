"""The rows ``/support stats``, the digest and ``supportbot stats`` count, for one window."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from bot.domain import Direction
from bot.store.models import Draft, LearningSignal, Message


async def inbound(start: datetime, end: datetime) -> list[dict[str, Any]]:
    """Customer messages in ``[start, end)``: channel and time."""
    return await Message.filter(
        direction=Direction.IN, created_at__gte=start, created_at__lt=end
    ).values("channel", "created_at")


async def drafts(start: datetime, end: datetime) -> list[dict[str, Any]]:
    """Drafts made in ``[start, end)`` with their message's time and text."""
    return await Draft.filter(created_at__gte=start, created_at__lt=end).values(
        "status", "decision", "sources", "created_at", "message__created_at", "message__text",
        "model", "offline", "error", "input_tokens", "output_tokens", "cache_read_tokens",
        "cache_creation_tokens",
    )


async def signals(start: datetime, end: datetime) -> list[dict[str, Any]]:
    """Learning signals recorded in ``[start, end)``."""
    return await LearningSignal.filter(created_at__gte=start, created_at__lt=end).values(
        "action", "edit_ratio", "seconds_to_decision")
