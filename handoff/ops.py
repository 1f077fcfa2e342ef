"""Operational news in the approval channel: the daily digest and scheduled-job problems."""

from __future__ import annotations

import asyncio
import logging

from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from bot.ops.stats import Stats
from handoff.admin import format_stats
from handoff.chart import render_chart
from handoff.runtime import with_retry

log = logging.getLogger(__name__)


class SlackOps:
    """Posts the digest (summary and chart) and problem reports to the approval channel."""

    def __init__(self, *, client: AsyncWebClient, channel: str) -> None:
        self._client = client
        self._channel = channel

    async def post_digest(self, stats: Stats) -> None:
        """The ``/support stats`` summary for the last day, with its chart."""
        text = "*Daily digest*\n" + format_stats(stats)
        await with_retry(lambda: self._client.chat_postMessage(channel=self._channel, text=text))
        png = await asyncio.to_thread(render_chart, stats)
        try:
            await self._client.files_upload_v2(channel=self._channel, file=png,
                                               filename="supportbot-digest.png",
                                               title="Support desk, last 24h")
        except SlackApiError:
            log.exception("digest chart upload failed (the summary was posted)")

    async def report_problem(self, text: str) -> None:
        """One message in the approval channel."""
        await with_retry(lambda: self._client.chat_postMessage(channel=self._channel, text=text))
