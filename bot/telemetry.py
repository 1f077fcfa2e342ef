"""This process's Prometheus instruments. Every layer may record into them; ``bot.ops.metrics``
adds the database-backed gauges and renders the exposition format."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Histogram

REGISTRY = CollectorRegistry()

ACCEPTED = Counter("supportbot_accepted_total", "Inbound messages accepted",
                   ["channel", "duplicate"], registry=REGISTRY)
DECISIONS = Counter("supportbot_decisions_total", "Router decisions by kind", ["decision"],
                    registry=REGISTRY)
LLM_LATENCY = Histogram("supportbot_llm_seconds", "Drafting latency", ["model"],
                        registry=REGISTRY)
LLM_TOKENS = Counter("supportbot_llm_tokens_total", "LLM tokens", ["model", "kind"],
                     registry=REGISTRY)
