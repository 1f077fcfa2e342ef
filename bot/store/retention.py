"""Retention: customer text older than the retention period is blanked; rows and figures stay,
so the stats keep working."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from bot.store.models import Draft, LearningSignal, Message


@dataclass(frozen=True, slots=True)
class Purged:
    """How many rows had their text blanked."""

    messages: int
    drafts: int
    signals: int


async def purge_before(cutoff: datetime) -> Purged:
    """Blank message bodies, draft texts and signal texts created before ``cutoff``."""
    messages = await Message.filter(created_at__lt=cutoff).exclude(text="").update(
        text="", metadata={}, raw_ref=None)
    drafts = await Draft.filter(created_at__lt=cutoff).exclude(text="").update(
        text="", final_text=None)
    signals = await LearningSignal.filter(
        created_at__lt=cutoff, original_text__not_isnull=True
    ).update(original_text=None, final_text=None)
    return Purged(messages, drafts, signals)
