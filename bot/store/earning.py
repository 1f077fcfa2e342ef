"""The decisions agents took per topic, as earned auto-send reads them."""

from __future__ import annotations

from typing import Any

from bot.store.models import Draft, LearningSignal

#: Only human decisions count towards earning a topic.
HUMAN_ACTIONS = ("approved", "edited", "rejected")


async def recent_actions(topic: str, *, window: int) -> list[str]:
    """The topic's last ``window`` human decisions, newest first."""
    actions: list[Any] = await (
        LearningSignal.filter(draft__topic=topic, action__in=HUMAN_ACTIONS)
        .order_by("-id").limit(window).values_list("action", flat=True)
    )
    return [str(a) for a in actions]


async def latest_rejection(topic: str) -> LearningSignal | None:
    """The topic's newest rejection when no approval (edited or not) came after it, with its
    draft loaded; None when the topic's latest word from agents is not a rejection."""
    signal: LearningSignal | None = await (
        LearningSignal.filter(draft__topic=topic, action__in=HUMAN_ACTIONS)
        .order_by("-id").prefetch_related("draft__message").first())
    if signal is None or signal.action != "rejected":
        return None
    return signal


async def topics() -> list[str]:
    """Every topic some draft belongs to."""
    found: list[Any] = await Draft.filter(topic__not_isnull=True).distinct().values_list(
        "topic", flat=True)
    return [str(t) for t in found]


async def topic_question(topic: str) -> str:
    """The question that founded a topic, as its latest draft's sources name it."""
    draft = await Draft.filter(topic=topic).order_by("-id").first()
    if draft is None:
        return ""
    for source in draft.sources:
        if source.get("source_id") == topic:
            return str(source.get("title", ""))
    return ""


async def assign_topic(draft_id: int, topic: str) -> None:
    """Give a draft that has none the topic its approval founded (or joined)."""
    await Draft.filter(id=draft_id, topic__isnull=True).update(topic=topic)
