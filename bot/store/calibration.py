"""What confidence calibration reads and keeps: agents' judgements of drafts, the drafts'
stored confidence parts, and the fitted calibration itself."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from bot.store import kv
from bot.store.models import Draft, LearningSignal

CALIBRATION_KEY = "calibration"


async def judgements(since: datetime | None = None) -> list[tuple[int, str, float | None]]:
    """``(draft id, action, edit ratio)`` of every signal about a draft, oldest first."""
    query = LearningSignal.filter(draft_id__isnull=False)
    if since is not None:
        query = query.filter(created_at__gte=since)
    rows: list[Any] = await query.order_by("id").values_list("draft_id", "action", "edit_ratio")
    return [(int(d), str(a), None if r is None else float(r)) for d, a, r in rows]


async def draft_parts(draft_ids: list[int]) -> list[tuple[int, dict[str, Any]]]:
    """``(draft id, stored confidence parts)`` for the given drafts."""
    rows: list[Any] = await Draft.filter(id__in=draft_ids).values_list("id", "signals")
    return [(int(i), dict(s)) for i, s in rows if isinstance(s, dict)]


async def load() -> dict[str, Any] | None:
    """The stored calibration's JSON, or None."""
    stored = await kv.get_value(CALIBRATION_KEY)
    return stored if isinstance(stored, dict) else None


async def save(calibration_json: dict[str, Any]) -> None:
    """Keep the calibration's JSON as the current one."""
    await kv.put_value(CALIBRATION_KEY, calibration_json, updated_by="calibration")
