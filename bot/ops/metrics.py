"""Prometheus metrics at ``/metrics``: queue depths and ages are read from the database on each
scrape (so every process reports the shared truth); counters are this process's own."""

from __future__ import annotations

from prometheus_client import CONTENT_TYPE_LATEST, Gauge, generate_latest

from bot.clock import utcnow
from bot.store import inbox, outbox
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
    INBOX_DEPTH.set(await inbox.depth())
    OUTBOX_DEPTH.set(await outbox.depth())
    DEAD_LETTERS.set(await outbox.dead_letters())
    oldest = await inbox.oldest_pending_at()
    OLDEST_PENDING.set((utcnow() - oldest).total_seconds() if oldest else 0.0)
    return generate_latest(REGISTRY)
