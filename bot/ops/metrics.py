"""Prometheus metrics at ``/metrics``: queue depths and ages are read from the database on each
scrape (so every process reports the shared truth); counters are this process's own."""

from __future__ import annotations

from datetime import datetime
from typing import cast

from prometheus_client import CONTENT_TYPE_LATEST, Gauge, generate_latest
from tortoise.functions import Min

from bot.clock import utcnow
from bot.store.models import InboxItem, OutboxItem, QueueStatus
from bot.telemetry import REGISTRY

CONTENT_TYPE = CONTENT_TYPE_LATEST  # the exposition format generate_latest() writes
INBOX_DEPTH = Gauge("supportbot_inbox_depth", "Accepted messages awaiting the router",
                    registry=REGISTRY)
OUTBOX_DEPTH = Gauge("supportbot_outbox_depth", "Replies not yet sent", registry=REGISTRY)
OLDEST_PENDING = Gauge("supportbot_inbox_oldest_pending_age_seconds",
                       "Age of the oldest unrouted inbox item", registry=REGISTRY)
DEAD_LETTERS = Gauge("supportbot_dead_letters", "Dead-lettered replies", registry=REGISTRY)


async def render() -> bytes:
    """Refresh the database-backed gauges and render the exposition format."""
    INBOX_DEPTH.set(await InboxItem.filter(status=QueueStatus.PENDING).count())
    OUTBOX_DEPTH.set(await OutboxItem.filter(status=QueueStatus.PENDING).count())
    DEAD_LETTERS.set(await OutboxItem.filter(status=QueueStatus.DEAD).count())
    # Tortoise types every values_list() result as tuples, even flat=True on a single row.
    oldest = cast("datetime | None", await (
        InboxItem.filter(status=QueueStatus.PENDING).annotate(first=Min("created_at"))
        .first().values_list("first", flat=True)
    ))
    OLDEST_PENDING.set((utcnow() - oldest).total_seconds() if oldest else 0.0)
    return generate_latest(REGISTRY)
