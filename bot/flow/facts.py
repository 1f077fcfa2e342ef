"""Where the router's decision facts come from: runtime settings and earned topics.

``StoredFacts`` reads what admins set from Slack and the topics' records from the database
(re-read at most every ``ttl`` seconds: at tens of messages a second, reading them per message
would be most of the database's work). ``FixedFacts`` serves evaluations that run without a
database. Both feed the same ``bot.pipeline.decide.decide``.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any, Protocol

from bot.flow.earning import topic_record, topic_rejection
from bot.pipeline.earning import TopicRecord, TopicRejection
from bot.store import drafts, runtime
from config import Settings

RUNTIME_SETTINGS_TTL = 2.0  # seconds an admin's /support change may take to apply


@dataclass(frozen=True, slots=True)
class ConversationFacts:
    """What the conversation contributes to a decision: automatic replies so far."""

    auto_replies: int = 0
    customer_auto_replies_today: int = 0


class FactSource(Protocol):
    """The run-time facts a decision reads. ``earning`` False: topics need not earn
    auto-send (an evaluation without the history to judge it)."""

    @property
    def earning(self) -> bool: ...

    async def auto_send_threshold(self) -> float | None: ...

    async def paused_channels(self) -> frozenset[str]: ...

    async def topic(self, topic: str, question: str) -> TopicRecord: ...

    async def topic_rejection(self, topic: str) -> TopicRejection | None: ...


class StoredFacts:
    """Facts from the database, as production reads them."""

    def __init__(self, *, settings: Settings, ttl: float = RUNTIME_SETTINGS_TTL) -> None:
        self._settings = settings
        self._ttl = ttl
        self._cache: dict[str, tuple[float, Any]] = {}

    @property
    def earning(self) -> bool:
        """Production requires topics to earn auto-send (as the settings say)."""
        return True

    async def _cached(self, key: str, load: Any) -> Any:
        now = time.monotonic()
        hit = self._cache.get(key)
        if hit is not None and now - hit[0] < self._ttl:
            return hit[1]
        value = await load()
        self._cache[key] = (now, value)
        return value

    async def auto_send_threshold(self) -> float | None:
        """The admin's threshold, else the setting; None is off."""
        return await self._cached(  # type: ignore[no-any-return]
            "threshold", lambda: runtime.auto_send_threshold(self._settings.auto_send_threshold))

    async def paused_channels(self) -> frozenset[str]:
        """Channels whose auto-send an admin paused."""
        return await self._cached("paused", runtime.paused_channels)  # type: ignore[no-any-return]

    async def topic(self, topic: str, question: str) -> TopicRecord:
        """The topic's earned record (read fresh: one approval can change it)."""
        s = self._settings
        return await topic_record(topic, window=s.earn_window, min_approvals=s.earn_min_approvals,
                                  min_rate=s.earn_min_rate, question=question)

    async def topic_rejection(self, topic: str) -> TopicRejection | None:
        """The rejection standing on the topic (read fresh: one decision can change it)."""
        return await topic_rejection(topic)


class FixedFacts:
    """A fixed threshold and paused channels, and no earned-topic requirement: for evaluations
    that judge the threshold alone. ``topics`` (the stored facts, when there is a database)
    still answers topic records; without it every topic has earned nothing."""

    def __init__(self, *, auto_send_threshold: float | None,
                 paused: frozenset[str] = frozenset(), topics: FactSource | None = None) -> None:
        self._threshold = auto_send_threshold
        self._paused = paused
        self._topics = topics

    @property
    def earning(self) -> bool:
        return False

    async def auto_send_threshold(self) -> float | None:
        return self._threshold

    async def paused_channels(self) -> frozenset[str]:
        return self._paused

    async def topic(self, topic: str, question: str) -> TopicRecord:
        if self._topics is not None:
            return await self._topics.topic(topic, question)
        return TopicRecord(topic, 0, 0, False, question)

    async def topic_rejection(self, topic: str) -> TopicRejection | None:
        if self._topics is not None:
            return await self._topics.topic_rejection(topic)
        return None


async def conversation_facts(conversation_id: int, *, auto_replies: int,
                             customer_id: int | None, since: Any) -> ConversationFacts:
    """The conversation's automatic replies and its customer's since ``since``."""
    today = 0 if customer_id is None else await drafts.auto_sent_to_customer_since(
        customer_id, since)
    return ConversationFacts(auto_replies=auto_replies, customer_auto_replies_today=today)
