"""Plumbing the handoff shares: tracked background tasks and rate-limit-aware Slack calls."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any, TypeVar

from slack_sdk.errors import SlackApiError

from bot.domain import retry_after_seconds

log = logging.getLogger(__name__)
T = TypeVar("T")
MAX_RETRY_AFTER = 30.0


class TaskSet:
    """Background work after an acknowledgement (card updates, ephemerals, learning).

    Every task keeps a handle here until it ends, and a failure is logged with its traceback;
    ``drain`` awaits them (tests, shutdown).
    """

    def __init__(self) -> None:
        self._tasks: set[asyncio.Task[Any]] = set()

    def spawn(self, coro: Coroutine[Any, Any, Any], *, name: str) -> asyncio.Task[Any]:
        task = asyncio.create_task(coro, name=name)
        self._tasks.add(task)
        task.add_done_callback(self._done)
        return task

    def _done(self, task: asyncio.Task[Any]) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.error("background task %s failed", task.get_name(), exc_info=task.exception())

    def __len__(self) -> int:
        return len(self._tasks)

    async def drain(self) -> None:
        """Wait until no task is left (tasks may spawn more while we wait); callers bound it
        with ``asyncio.timeout``."""
        while self._tasks:
            await asyncio.gather(*list(self._tasks), return_exceptions=True)


async def with_retry(call: Callable[[], Awaitable[T]], *, attempts: int = 3) -> T:
    """Run a Slack Web API call, waiting out ``ratelimited`` answers (``Retry-After``).

    Cards have no outbox behind them, so a rate limit must not lose one; other errors are
    raised at once.
    """
    for attempt in range(1, attempts + 1):
        try:
            return await call()
        except SlackApiError as exc:
            if exc.response.status_code != 429 or attempt == attempts:
                raise
            delay = retry_after_seconds(exc.response.headers) or 1.0
            log.warning("Slack rate limit, retrying in %.0fs", delay)
            await asyncio.sleep(min(delay, MAX_RETRY_AFTER))
    raise AssertionError("unreachable")
