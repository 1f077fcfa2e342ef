"""What a decision teaches, shared by every decision verb: the time it took, and the call to
the ``learn`` hook once the decision is committed."""

from __future__ import annotations

import logging
from datetime import datetime

from bot.pipeline.learning import LearnedExample, LearnFn
from bot.pipeline.questions import contextual_question
from bot.store import conversations

log = logging.getLogger(__name__)


def seconds_since(start: datetime | None, now: datetime) -> float | None:
    """Seconds from ``start`` (a draft's creation) to ``now``; None without a start."""
    return None if start is None else max(0.0, (now - start).total_seconds())


async def call_learner(learn: LearnFn | None, example: LearnedExample) -> None:
    """Hand a committed answer to ``learn``; a failing hook is logged, never raised."""
    # Learning is an improvement, never a reason to fail a decision already committed.
    if learn is None or not example.question.strip() or not example.answer.strip():
        return
    try:
        await learn(example)
    except Exception:
        log.exception("learner hook failed for conversation %s", example.conversation_id)


HISTORY_TURNS = 6  # as the router: the turns a follow-up is read with


async def question_in_context(conversation_id: int, message_id: int, text: str) -> str:
    """The customer's question as a learned answer should remember it: a follow-up ("and how
    long does that take?") with its conversation folded in, as retrieval will search it."""
    earlier = await conversations.history(conversation_id, before=message_id,
                                          turns=HISTORY_TURNS)
    return contextual_question(text, earlier)
