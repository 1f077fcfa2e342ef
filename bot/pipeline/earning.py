"""Earned auto-send: a topic may be answered without review only after agents approved its
drafts unedited often enough, and it loses that standing when edits or rejections rise.

A topic is a learned answer (near-duplicate questions are folded into one entry by the
learned-answers store); a draft belongs to the topic of the closest learned answer when that
answer's question is within ``topic_cosine`` of the customer's. Only human decisions count,
over the topic's last ``window`` of them, so recent edits demote a topic automatically.

The rule and the record are pure; ``bot.flow.earning`` loads a topic's decisions from the store.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from bot.domain import LearnedStatus, Passage


@dataclass(frozen=True, slots=True)
class TopicRecord:
    """How agents treated one topic's drafts recently, and whether auto-send is earned."""

    topic: str
    approved: int
    decided: int
    earned: bool
    question: str = ""
    review: str = LearnedStatus.ACCEPTED  # a proposed or stale learned answer never earns
    #: An agent stopped auto-send for this topic (``/support`` or the auto-sent card).
    stopped: bool = False

    @property
    def rate(self) -> float:
        return self.approved / self.decided if self.decided else 0.0

    def describe(self, min_approvals: int, min_rate: float) -> str:
        state = "earned" if self.earned else "not earned"
        review = {LearnedStatus.PROPOSED: "; its learned answer awaits admin review",
                  LearnedStatus.STALE: "; its learned answer is stale (KB article changed)",
                  }.get(LearnedStatus(self.review), "")
        return (f"auto-send {state} for this topic: {self.approved}/{self.decided} approved "
                f"unedited ({self.rate:.0%}; needs {min_approvals} at ≥{min_rate:.0%}){review}")


@dataclass(frozen=True, slots=True)
class TopicRejection:
    """The newest rejection of a draft on a topic that no approval has overruled since: it
    applies to every later question of that topic, however it is worded."""

    topic: str
    reason: str
    rejected_at: datetime
    agent: str | None = None
    question: str = ""

    def describe(self, now: datetime) -> str:
        """The card's line: "An agent rejected a draft on this topic 2 days ago: <reason>"."""
        reason = " ".join(self.reason.split())[:300] or "no reason given"
        return f"An agent rejected a draft on this topic {ago(now - self.rejected_at)}: {reason}"


def ago(delta: timedelta) -> str:
    """A short, human age: "just now", "5 min ago", "3 h ago", "2 days ago"."""
    seconds = max(0, int(delta.total_seconds()))
    if seconds < 60:
        return "just now"
    if seconds < 3600:
        return f"{seconds // 60} min ago"
    if seconds < 2 * 86400:
        hours = seconds // 3600
        return "1 h ago" if hours == 1 else f"{hours} h ago"
    return f"{seconds // 86400} days ago"


def topic_of(passages: Sequence[Passage], *, min_cosine: float) -> tuple[str, str] | None:
    """(learned answer id, its question) of the draft's topic, if a learned answer is close."""
    for passage in passages:
        if passage.kind != "learned":
            continue
        cosine = passage.similarity
        if cosine >= min_cosine:
            return passage.source_id, passage.title
    return None


def is_earned(approved: int, decided: int, *, min_approvals: int, min_rate: float) -> bool:
    """The rule itself (pure): enough unedited approvals at a high enough rate."""
    return approved >= min_approvals and decided > 0 and approved / decided >= min_rate
