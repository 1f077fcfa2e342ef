"""People and groups named in Slack text, shown as names: ``users.info`` and
``usergroups.list`` behind a small time-limited cache.

Slack text reaches us in two shapes: raw mrkdwn (``<@U123>``, ``<!subteam^S1|@agents>``,
``<!channel>``) and the plain text the Slack channel stores (``@U123``, ``@agents``,
``@subteam^S1``, ``@channel``). Both become ``@Ada Lovelace`` / ``@agents``; broadcasts become
an inert ``@channel`` (a word joiner after the ``@``, so even a client that links names never
pings the channel). Everything is still escaped by ``handoff.text`` afterwards.
"""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Callable, Mapping
from typing import Any

import aiohttp
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

log = logging.getLogger(__name__)
_ERRORS = (SlackApiError, aiohttp.ClientError, TimeoutError)

_RAW_USER = re.compile(r"<@([UW][A-Z0-9]+)(?:\|([^>]*))?>")
_RAW_GROUP = re.compile(r"<!subteam\^([A-Z0-9]+)(?:\|@?([^>]*))?>")
_RAW_BROADCAST = re.compile(r"<!(channel|here|everyone)(?:\|[^>]*)?>")
_PLAIN_USER = re.compile(r"(?<![\w@/.])@([UW][A-Z0-9]{6,})\b")
_PLAIN_GROUP = re.compile(r"@subteam\^([A-Z0-9]+)")
_DOUBLE_AT = re.compile(r"@@(?=\w)")
_PLAIN_BROADCAST = re.compile(r"(?<![\w@])@(channel|here|everyone)\b")
#: U+2060 WORD JOINER: invisible, and it breaks Slack's ``@channel`` name linking.
_JOINER = "\u2060"


def neutralise_broadcasts(text: str) -> str:
    """``<!channel>`` / ``@here`` and the like as words that notify nobody."""
    text = _RAW_BROADCAST.sub(lambda m: f"@{_JOINER}{m.group(1)}", text)
    return _PLAIN_BROADCAST.sub(lambda m: f"@{_JOINER}{m.group(1)}", text)


class SlackNames:
    """Display names of users and handles of user groups, cached for ``ttl`` seconds."""

    def __init__(self, *, client: AsyncWebClient, ttl: float = 3600.0,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self._client = client
        self._ttl = ttl
        self._clock = clock
        self._users: dict[str, tuple[float, str | None]] = {}
        self._groups: tuple[float, dict[str, str]] | None = None

    async def user(self, user_id: str) -> str | None:
        """The user's display name (None when Slack cannot tell us; cached either way)."""
        hit = self._users.get(user_id)
        if hit is not None and self._clock() - hit[0] < self._ttl:
            return hit[1]
        name: str | None = None
        try:
            response = await self._client.users_info(user=user_id)
            found: Mapping[str, Any] = response.get("user") or {}
            profile: Mapping[str, Any] = found.get("profile") or {}
            name = (profile.get("display_name") or profile.get("real_name")
                    or found.get("real_name") or found.get("name") or None)
        except _ERRORS as exc:
            log.warning("users.info failed for %s: %s", user_id, exc)
        if len(self._users) > 10_000:
            self._users.clear()
        self._users[user_id] = (self._clock(), name)
        return name

    async def group(self, group_id: str) -> str | None:
        """The group's handle (``agents``), from one ``usergroups.list`` for all groups."""
        if self._groups is None or self._clock() - self._groups[0] >= self._ttl:
            handles: dict[str, str] = {}
            try:
                response = await self._client.usergroups_list()
                for found in response.get("usergroups") or []:
                    if found.get("id") and found.get("handle"):
                        handles[str(found["id"])] = str(found["handle"])
            except _ERRORS as exc:
                log.warning("usergroups.list failed: %s", exc)
            self._groups = (self._clock(), handles)
        return self._groups[1].get(group_id)

    async def render(self, text: str) -> str:
        """``text`` with user and group mentions as names and broadcasts neutralised."""
        if "@" not in text and "<!" not in text:
            return text
        users = {m.group(1) for m in _RAW_USER.finditer(text)}
        users |= {m.group(1) for m in _PLAIN_USER.finditer(text)}
        groups = {m.group(1) for m in _RAW_GROUP.finditer(text)}
        groups |= {m.group(1) for m in _PLAIN_GROUP.finditer(text)}
        names = {u: await self.user(u) for u in sorted(users)}
        handles = {g: await self.group(g) for g in sorted(groups)}

        def raw_user(m: re.Match[str]) -> str:
            return f"@{names.get(m.group(1)) or m.group(2) or m.group(1)}"

        def raw_group(m: re.Match[str]) -> str:
            return f"@{handles.get(m.group(1)) or m.group(2) or 'group'}"

        text = _RAW_USER.sub(raw_user, text)
        text = _RAW_GROUP.sub(raw_group, text)
        text = _PLAIN_USER.sub(lambda m: f"@{names.get(m.group(1)) or m.group(1)}", text)
        text = _PLAIN_GROUP.sub(lambda m: f"@{handles.get(m.group(1)) or 'group'}", text)
        text = _DOUBLE_AT.sub("@", text)
        return neutralise_broadcasts(text)
