"""Learned answers' review state, one named function per change and per query.

A learned answer starts *proposed*: drafts may use it, but its topic cannot earn auto-send
until an admin accepts it. It turns *stale* when the KB article it rests on changes or
disappears; a stale answer stops counting for auto-send and its topic loses earned standing
until it is accepted again. Answers stored before reviews existed have no row and count as
accepted (they were approved under the old rules).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import cast

from bot.domain import LearnedStatus
from bot.store.models import LearnedAnswerReview


async def propose(answer_id: str, *, question: str, answer: str,
                  grounded_in: str | None) -> None:
    """Record a new or re-learned answer as proposed (a re-learned answer needs review again)."""
    await LearnedAnswerReview.update_or_create(
        answer_id=answer_id,
        defaults={"status": LearnedStatus.PROPOSED, "question": question, "answer": answer,
                  "grounded_in": grounded_in, "reason": None, "decided_by": None},
    )


async def accept(answer_id: str, *, admin: str) -> bool:
    """An admin accepts the answer; False when there is no such answer under review."""
    return bool(await LearnedAnswerReview.filter(answer_id=answer_id).update(
        status=LearnedStatus.ACCEPTED, decided_by=admin, reason=None))


async def status_of(answer_id: str) -> str:
    """``proposed``, ``accepted`` or ``stale``; ``accepted`` for answers from before reviews."""
    row = await LearnedAnswerReview.get_or_none(answer_id=answer_id)
    return row.status if row is not None else LearnedStatus.ACCEPTED


async def mark_stale(articles: Iterable[str], *, reason: str) -> list[str]:
    """Flag every answer resting on one of ``articles`` stale; return their ids."""
    docs = list(articles)
    if not docs:
        return []
    ids = cast("list[str]", await LearnedAnswerReview.filter(
        grounded_in__in=docs, status__not=LearnedStatus.STALE).values_list("answer_id", flat=True))
    if ids:
        await LearnedAnswerReview.filter(answer_id__in=ids).update(
            status=LearnedStatus.STALE, reason=reason)
    return ids


async def awaiting_review(limit: int = 20) -> list[LearnedAnswerReview]:
    """Proposed and stale answers, oldest first (for ``/support learned review``, the digest)."""
    waiting = [LearnedStatus.PROPOSED, LearnedStatus.STALE]
    return await LearnedAnswerReview.filter(status__in=waiting).order_by("created_at").limit(limit)
