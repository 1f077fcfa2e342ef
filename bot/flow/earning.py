"""Earned auto-send: a topic may be answered without review only after agents approved its
drafts unedited often enough, and it loses that standing when edits or rejections rise.

A topic is a learned answer (near-duplicate questions are folded into one entry by the
learned-answers store); a draft belongs to the topic of the closest learned answer when that
answer's question is within ``topic_cosine`` of the customer's. Only human decisions count,
over the topic's last ``window`` of them, so recent edits demote a topic automatically.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import cast

from bot.domain import Passage
from bot.store.models import Draft, LearningSignal

HUMAN_ACTIONS = ("approved", "edited", "rejected")


@dataclass(frozen=True, slots=True)
class TopicRecord:
    """How agents treated one topic's drafts recently, and whether auto-send is earned."""

    topic: str
    approved: int
    decided: int
    earned: bool
    question: str = ""

    @property
    def rate(self) -> float:
        return self.approved / self.decided if self.decided else 0.0

    def describe(self, min_approvals: int, min_rate: float) -> str:
        state = "earned" if self.earned else "not earned"
        return (f"auto-send {state} for this topic: {self.approved}/{self.decided} approved "
                f"unedited ({self.rate:.0%}; needs {min_approvals} at ≥{min_rate:.0%})")


def topic_of(passages: Sequence[Passage], *, min_cosine: float) -> tuple[str, str] | None:
    """(learned answer id, its question) of the draft's topic, if a learned answer is close."""
    for passage in passages:
        if passage.kind != "learned":
            continue
        cosine = float(passage.metadata.get("dense_score", passage.score))
        if cosine >= min_cosine:
            return passage.source_id, passage.title
    return None


def is_earned(approved: int, decided: int, *, min_approvals: int, min_rate: float) -> bool:
    """The rule itself (pure): enough unedited approvals at a high enough rate."""
    return approved >= min_approvals and decided > 0 and approved / decided >= min_rate


async def topic_record(topic: str, *, window: int, min_approvals: int, min_rate: float,
                       question: str = "") -> TopicRecord:
    """The topic's record over its last ``window`` human decisions."""
    # Tortoise types values_list(flat=True) as a list of tuples; it is a list of values.
    actions = cast("list[str]", await (
        LearningSignal.filter(draft__topic=topic, action__in=HUMAN_ACTIONS)
        .order_by("-id").limit(window).values_list("action", flat=True)
    ))
    approved = sum(1 for a in actions if a == "approved")
    return TopicRecord(topic, approved, len(actions),
                       is_earned(approved, len(actions), min_approvals=min_approvals,
                                 min_rate=min_rate), question)


async def earned_topics(*, window: int, min_approvals: int, min_rate: float,
                        limit: int = 20) -> list[TopicRecord]:
    """Topics that have currently earned auto-send, most approved first (for /support)."""
    topics = await Draft.filter(topic__not_isnull=True).distinct().values_list("topic", flat=True)
    records = []
    for topic in topics:
        record = await topic_record(str(topic), window=window, min_approvals=min_approvals,
                                    min_rate=min_rate, question=await _question(str(topic)))
        if record.earned:
            records.append(record)
    return sorted(records, key=lambda r: (-r.approved, r.topic))[:limit]


async def _question(topic: str) -> str:
    draft = await Draft.filter(topic=topic).order_by("-id").first()
    if draft is None:
        return ""
    for source in draft.sources:
        if source.get("source_id") == topic:
            return str(source.get("title", ""))
    return ""
