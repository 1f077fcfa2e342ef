"""Readiness: named checks run together, each with a deadline; remote ones cached.

``/readyz`` answers 503 naming what failed. Checks of our own dependencies (the database, the
search engine) run on every probe; checks that cost a remote call (Slack ``auth.test``, the
LLM's model lookup) are cached for ``ttl`` seconds, so a load balancer probing every few
seconds does not spend Slack's rate limit or an API quota. The composition root builds the
checks; this module knows no client.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass

log = logging.getLogger(__name__)

#: Raises when the dependency is not usable; returns when it is.
Probe = Callable[[], Awaitable[object]]


@dataclass(frozen=True, slots=True)
class Check:
    """One named dependency: its probe, and how long a verdict may be reused (0: never)."""

    probe: Probe
    ttl: float = 0.0


class Readiness:
    """Runs every check concurrently; see the module docstring."""

    def __init__(
        self,
        checks: Mapping[str, Check],
        *,
        timeout: float = 5.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.checks = dict(checks)
        self._timeout = timeout
        self._clock = clock
        self._cached: dict[str, tuple[float, str]] = {}

    async def verdicts(self) -> dict[str, str]:
        """``{name: "ok" | "error: …"}`` for every check."""
        names = list(self.checks)
        results = await asyncio.gather(*(self._verdict(name) for name in names))
        return dict(zip(names, results, strict=True))

    async def _verdict(self, name: str) -> str:
        check = self.checks[name]
        now = self._clock()
        cached = self._cached.get(name)
        if cached is not None and now - cached[0] < check.ttl:
            return cached[1]
        try:
            async with asyncio.timeout(self._timeout):
                await check.probe()
            verdict = "ok"
        except TimeoutError:
            verdict = f"error: no answer within {self._timeout:g}s"
        except Exception as exc:  # readiness reports, it does not raise
            verdict = f"error: {exc.__class__.__name__}"
            log.warning("readiness check %s failed: %s", name, exc)
        self._cached[name] = (now, verdict)
        return verdict
