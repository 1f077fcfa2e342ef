"""Links to Slack messages (the customer's own message, another conversation's card thread).

A permalink is ``<workspace url>archives/<channel>/p<ts without the dot>``, with
``?thread_ts=…&cid=…`` for a reply in a thread: the form ``chat.getPermalink`` answers. The
workspace URL comes from ``auth.test`` once per process, so re-rendering a card (every
decision, delivery and follow-up does) costs no Slack call per link.
"""

from __future__ import annotations

import asyncio
import logging

import aiohttp
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

log = logging.getLogger(__name__)


def permalink(workspace_url: str, channel: str, ts: str, thread_ts: str | None = None) -> str:
    """The permalink of message ``ts`` in ``channel`` (a thread reply when ``thread_ts`` names
    another message)."""
    base = workspace_url if workspace_url.endswith("/") else workspace_url + "/"
    link = f"{base}archives/{channel}/p{ts.replace('.', '')}"
    if thread_ts and thread_ts != ts:
        link += f"?thread_ts={thread_ts}&cid={channel}"
    return link


class SlackLinks:
    """Builds permalinks from the workspace URL, asked of ``auth.test`` on first use (a failed
    lookup is retried on the next card; meanwhile cards show no links)."""

    def __init__(self, *, client: AsyncWebClient) -> None:
        self._client = client
        self._url: str | None = None
        self._lock = asyncio.Lock()

    async def workspace_url(self) -> str | None:
        """``https://<workspace>.slack.com/``, or None when Slack did not say."""
        if self._url is not None:
            return self._url
        async with self._lock:
            if self._url is None:
                try:
                    response = await self._client.auth_test()
                    self._url = str(response.get("url") or "") or None
                except (SlackApiError, aiohttp.ClientError, TimeoutError):
                    log.warning("auth.test failed: cards show no Slack links for now",
                                exc_info=True)
        return self._url

    async def message(self, channel: str | None, ts: str | None,
                      thread_ts: str | None = None) -> str | None:
        """The permalink of one message, or None (unknown place, or no workspace URL)."""
        if not channel or not ts:
            return None
        url = await self.workspace_url()
        return permalink(url, channel, ts, thread_ts) if url else None
