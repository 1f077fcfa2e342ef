"""Earned auto-send as stored: a topic's record from its recent human decisions."""

from __future__ import annotations

from bot.domain import LearnedStatus
from bot.pipeline.earning import TopicRecord, TopicRejection, is_earned
from bot.store import earning as store
from bot.store import learned_review, runtime


async def topic_record(topic: str, *, window: int, min_approvals: int, min_rate: float,
                       question: str = "") -> TopicRecord:
    """The topic's record over its last ``window`` human decisions."""
    actions = await store.recent_actions(topic, window=window)
    approved = sum(1 for a in actions if a == "approved")
    review = await learned_review.status_of(topic)
    stopped = topic in await runtime.stopped_topics()
    earned = review == LearnedStatus.ACCEPTED and not stopped and is_earned(
        approved, len(actions), min_approvals=min_approvals, min_rate=min_rate)
    return TopicRecord(topic, approved, len(actions), earned, question, review,
                       stopped=stopped)


async def earned_topics(*, window: int, min_approvals: int, min_rate: float,
                        limit: int = 20) -> list[TopicRecord]:
    """Topics that have currently earned auto-send, most approved first (for /support)."""
    records = []
    for topic in await store.topics():
        record = await topic_record(topic, window=window, min_approvals=min_approvals,
                                    min_rate=min_rate, question=await store.topic_question(topic))
        if record.earned:
            records.append(record)
    return sorted(records, key=lambda r: (-r.approved, r.topic))[:limit]


async def topic_rejection(topic: str) -> TopicRejection | None:
    """The rejection agents' last word on ``topic`` is, if it is one (with its reason, when
    and by whom, and the question it answered)."""
    signal = await store.latest_rejection(topic)
    if signal is None:
        return None
    draft = signal.draft
    when = (draft.decided_at if draft is not None and draft.decided_at else signal.created_at)
    question = draft.message.text if draft is not None and draft.message else ""
    return TopicRejection(topic=topic, reason=signal.reason or "", rejected_at=when,
                          agent=signal.agent, question=question)
