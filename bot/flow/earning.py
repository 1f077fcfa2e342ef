"""Earned auto-send as stored: a topic's record from its recent human decisions."""

from __future__ import annotations

from bot.domain import LearnedStatus
from bot.pipeline.earning import TopicRecord, is_earned
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
