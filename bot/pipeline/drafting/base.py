"""What a drafter is given and what it promises: ``DraftRequest`` in, ``DraftResult`` out."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

from bot.domain import DraftResult, Passage


@dataclass(frozen=True, slots=True, kw_only=True)
class DraftRequest:
    """Everything a drafter may use to answer one customer message.

    ``history`` is the earlier conversation, oldest first, as ``(direction, text)`` pairs
    with direction ``"in"`` (customer), ``"out"`` (us) or ``"note"``. ``passages`` are the
    retrieved KB chunks and learned answers, best first. ``language`` is triage's guess
    (ISO 639-1 or ``"und"``), so the reply can be written in the customer's language.
    ``questions`` are the separate questions the message asks when it asks several (the reply
    answers each, or says which it cannot); empty or one when it asks one. ``injection``
    names what triage found aimed at the assistant (prompt injection), told to the model.
    """

    customer_text: str
    passages: Sequence[Passage] = ()
    subject: str | None = None
    history: Sequence[tuple[str, str]] = ()
    customer_name: str | None = None
    channel: str = "webhook"
    brand_name: str = "Acme Cloud"
    language: str | None = None
    questions: Sequence[str] = ()
    injection: Sequence[str] = ()


def retrieval_score(passage: Passage) -> float:
    """How strongly a passage matched, comparable across questions.

    Prefers the raw cosine (when retrieval supplies it) over ``score``, which may be a fused
    rank-based score that is high for *some* passage of every question. Thresholds and
    confidence need the absolute signal.
    """
    return passage.similarity


class Drafter(Protocol):
    """Drafts a reply. Implementations never raise for API trouble: they return a result
    with ``error`` set and ``needs_human=True`` so the message still reaches a human."""

    async def draft(self, request: DraftRequest) -> DraftResult: ...

    async def aclose(self) -> None:
        """Release network clients the drafter owns (no-op for offline drafting)."""
        ...

    async def check(self) -> None:
        """Raise when the drafter cannot work (readiness); offline drafting always can."""
        ...
