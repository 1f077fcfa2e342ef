"""This process's Prometheus instruments. Every layer may record into them; ``bot.ops.metrics``
adds the database-backed gauges and renders the exposition format."""

from __future__ import annotations

import math
import time

from prometheus_client import (
    GC_COLLECTOR,
    PLATFORM_COLLECTOR,
    PROCESS_COLLECTOR,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
)

REGISTRY = CollectorRegistry()
# Process metrics (CPU seconds, resident memory, open fds, start time) and the Python runtime's,
# as every Prometheus client exports them: a worker's memory growth is visible like the web's.
for _collector in (PROCESS_COLLECTOR, PLATFORM_COLLECTOR, GC_COLLECTOR):
    REGISTRY.register(_collector)

ACCEPTED = Counter("supportbot_accepted_total", "Inbound messages accepted",
                   ["channel", "duplicate"], registry=REGISTRY)
DECISIONS = Counter("supportbot_decisions_total", "Router decisions by kind", ["decision"],
                    registry=REGISTRY)
LLM_LATENCY = Histogram("supportbot_llm_request_duration_seconds",
                        "Time to draft one reply with the LLM, retries included", ["model"],
                        registry=REGISTRY)
LLM_TOKENS = Counter("supportbot_llm_tokens_total", "LLM tokens", ["model", "kind"],
                     registry=REGISTRY)
DRAFTER_ERRORS = Counter("supportbot_drafter_errors_total",
                         "Drafts the LLM failed to write (the offline draft stood in)",
                         ["model", "kind"], registry=REGISTRY)
DRAFTER_FAILING = Gauge("supportbot_drafter_failing",
                        "1 while drafting with the LLM fails in this process (the offline draft "
                        "stands in), 0 once it works again", registry=REGISTRY)


class Staleness:
    """Seconds since something last worked, as a gauge read at scrape time.

    ``watch()`` starts the clock (an IMAP poller that never reaches its mailbox looks stalled
    from its start); ``mark()`` records a success. NaN while nothing is watched, so a process
    without a mailbox reports no age rather than a misleading zero.
    """

    def __init__(self, name: str, documentation: str) -> None:
        self._since: float | None = None
        self.gauge = Gauge(name, documentation, registry=REGISTRY)
        self.gauge.set_function(self.age)

    def watch(self) -> None:
        if self._since is None:
            self._since = time.monotonic()

    def mark(self) -> None:
        self._since = time.monotonic()

    def age(self) -> float:
        return math.nan if self._since is None else time.monotonic() - self._since


IMAP_POLL_AGE = Staleness(
    "supportbot_imap_last_poll_age_seconds",
    "Seconds since the IMAP poller last reached its mailbox (a fetch or an IDLE check); "
    "stalled when it grows past the poll interval",
)
