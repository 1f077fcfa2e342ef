"""Who may decide drafts and who may run admin commands.

``SUPPORTBOT_APPROVERS`` lists user ids (``U…``/``W…``) and user groups (``S…``, expanded with
``usergroups.users.list``); when it is empty, the members of the approval channel decide
(``conversations.members``). Lookups are cached for ``ttl`` seconds; when Slack cannot answer,
access is refused (fail closed) and the refusal says so.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

import aiohttp
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from config import Settings

log = logging.getLogger(__name__)


class AccessPolicy:
    """Cached approver and admin checks."""

    def __init__(
        self, *, client: AsyncWebClient, settings: Settings, ttl: float = 300.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._client = client
        self._settings = settings
        self._ttl = ttl
        self._clock = clock
        self._cache: dict[str, tuple[float, frozenset[str]]] = {}

    def is_admin(self, user_id: str) -> bool:
        """Admins are listed by user id only (``SUPPORTBOT_ADMINS``)."""
        return user_id in self._settings.admins

    async def may_decide(self, user_id: str) -> bool:
        """True when ``user_id`` may approve, edit, reject, take over or reply."""
        entries = self._settings.approvers
        if not entries:
            channel = self._settings.approval_channel
            return channel is not None and user_id in await self._members(channel)
        if user_id in entries:
            return True
        for group in (e for e in entries if e.startswith("S")):
            if user_id in await self._group(group):
                return True
        return False

    def forget(self) -> None:
        """Drop cached memberships (tests; an admin changed the group)."""
        self._cache.clear()

    async def _members(self, channel: str) -> frozenset[str]:
        key = f"channel:{channel}"
        hit = self._cache.get(key)
        if hit is not None and self._clock() - hit[0] < self._ttl:
            return hit[1]
        members: set[str] = set()
        cursor: str | None = None
        try:
            while True:
                response = await self._client.conversations_members(
                    channel=channel, cursor=cursor, limit=1000
                )
                members.update(str(m) for m in response.get("members") or [])
                cursor = (response.get("response_metadata") or {}).get("next_cursor") or None
                if not cursor:
                    break
        except (SlackApiError, aiohttp.ClientError, TimeoutError) as exc:
            log.error("conversations.members failed for %s: %s (refusing access)", channel, exc)
            return frozenset()
        result = frozenset(members)
        self._cache[key] = (self._clock(), result)
        return result

    async def _group(self, group: str) -> frozenset[str]:
        key = f"group:{group}"
        hit = self._cache.get(key)
        if hit is not None and self._clock() - hit[0] < self._ttl:
            return hit[1]
        try:
            response = await self._client.usergroups_users_list(usergroup=group)
        except (SlackApiError, aiohttp.ClientError, TimeoutError) as exc:
            log.error("usergroups.users.list failed for %s: %s (refusing access)", group, exc)
            return frozenset()
        result = frozenset(str(u) for u in response.get("users") or [])
        self._cache[key] = (self._clock(), result)
        return result
