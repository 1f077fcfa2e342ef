"""Volume limits: when a sender or a source writes faster than a person plausibly does.

Pure: the flow layer counts recent messages and asks here. A message over a limit is never
dropped: it is stored like any other and handed to humans without a draft (no LLM call, no
automatic reply), with the reason on its card.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Limits:
    """Per-sender messages per hour and per-source messages per minute; 0 turns one off."""

    sender_per_hour: int = 30
    source_per_minute: int = 300


@dataclass(frozen=True, slots=True)
class Recent:
    """How many messages arrived recently, this one included."""

    from_sender_last_hour: int
    from_source_last_minute: int


def over_limit(recent: Recent, limits: Limits, *, source: str) -> str | None:
    """Why this message is over a limit, or None when it is within them."""
    if limits.sender_per_hour and recent.from_sender_last_hour > limits.sender_per_hour:
        return (f"rate limit: {recent.from_sender_last_hour} messages from this sender in the "
                f"last hour (limit {limits.sender_per_hour}); stored, not drafted")
    if limits.source_per_minute and recent.from_source_last_minute > limits.source_per_minute:
        return (f"rate limit: {recent.from_source_last_minute} messages from {source} in the "
                f"last minute (limit {limits.source_per_minute}); stored, not drafted")
    return None
