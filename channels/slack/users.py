"""Who a Slack user is: ``users.info`` behind a bounded, time-limited cache."""

from __future__ import annotations

import asyncio
import logging
import time
from collections import OrderedDict
from collections.abc import Callable, Mapping
from typing import Any

import aiohttp
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from bot.domain import Sender

log = logging.getLogger(__name__)


class SlackUserDirectory:
    """``users.info`` with a cache: (name, e-mail) per user id, kept ``ttl`` seconds."""

    def __init__(
        self, *, client: AsyncWebClient, ttl: float = 3600.0, max_size: int = 10_000,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._client = client
        self._ttl = ttl
        self._max = max_size
        self._clock = clock
        self._cache: OrderedDict[str, tuple[float, Sender]] = OrderedDict()
        self._inflight: dict[str, asyncio.Task[Sender]] = {}

    def cached(self, user_id: str) -> Sender | None:
        """The cached profile, if fresh."""
        hit = self._cache.get(user_id)
        if hit is None or self._clock() - hit[0] > self._ttl:
            return None
        self._cache.move_to_end(user_id)
        return hit[1]

    async def lookup(self, user_id: str) -> Sender:
        """Name and e-mail of ``user_id``; the bare id when Slack cannot tell us."""
        hit = self.cached(user_id)
        if hit is not None:
            return hit
        # One users.info call per user even when many of their messages arrive at once.
        task = self._inflight.get(user_id)
        if task is None:
            task = asyncio.create_task(self._fetch(user_id))
            self._inflight[user_id] = task
            task.add_done_callback(lambda _t: self._inflight.pop(user_id, None))
        return await asyncio.shield(task)

    async def _fetch(self, user_id: str) -> Sender:
        try:
            response = await self._client.users_info(user=user_id)
        except (SlackApiError, aiohttp.ClientError, TimeoutError) as exc:
            log.warning("users.info failed for %s: %s", user_id, exc)
            return Sender(id=user_id)
        user: Mapping[str, Any] = response.get("user") or {}
        profile: Mapping[str, Any] = user.get("profile") or {}
        name = profile.get("display_name") or profile.get("real_name") or user.get("real_name")
        sender = Sender(id=user_id, email=profile.get("email") or None,
                        name=name or user.get("name") or None)
        self._cache[user_id] = (self._clock(), sender)
        while len(self._cache) > self._max:
            self._cache.popitem(last=False)
        return sender
