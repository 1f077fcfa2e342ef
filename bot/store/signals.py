"""Learning signals: the one writer of ``LearningSignal`` rows (every decision records one)."""

from __future__ import annotations

from dataclasses import asdict, dataclass

from bot.store.models import LearningSignal


@dataclass(frozen=True, slots=True)
class Signal:
    """What one decision teaches: who did what to which draft, and how much it changed."""

    conversation_id: int
    channel: str
    action: str
    agent: str
    draft_id: int | None = None
    original_text: str | None = None
    final_text: str | None = None
    edit_ratio: float | None = None
    seconds_to_decision: float | None = None
    confidence: float | None = None
    reason: str | None = None


async def record_signal(signal: Signal) -> None:
    """Store ``signal`` (inside the caller's transaction when there is one)."""
    await LearningSignal.create(**asdict(signal))
