"""Replies out: ``chat.postMessage`` into the customer's thread, never posted twice.

``SendError`` tells the outbox whether to retry (rate limit, 5xx, network) or give up (a
Slack error code no retry can fix).
"""

from __future__ import annotations

import aiohttp
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from bot.domain import Reply, SendError, SendResult, retry_after_seconds

# Errors where retrying the same call cannot succeed (Slack Web API error codes).
PERMANENT_ERRORS = frozenset({
    "channel_not_found", "not_in_channel", "is_archived", "msg_too_long", "no_text",
    "invalid_auth", "not_authed", "account_inactive", "token_revoked", "restricted_action",
    "cannot_reply_to_message", "missing_scope", "invalid_blocks", "too_many_attachments",
})


class SlackSender:
    """Posts replies into the customer's thread (``bot.domain.ReplySender`` for Slack)."""

    def __init__(self, *, client: AsyncWebClient) -> None:
        self._client = client
        # Replies whose last attempt may have reached Slack (timeout, 5xx): before posting
        # again, look for our earlier post in the thread so the customer never gets it twice.
        self._uncertain: set[str] = set()

    async def send(self, reply: Reply) -> SendResult:
        """``chat.postMessage`` into the thread; ``SendError`` says whether to retry."""
        meta = reply.thread_metadata
        channel, _, key_ts = reply.thread_key.partition(":")
        channel = str(meta.get("channel") or channel)
        thread_ts = str(meta.get("thread_ts") or meta.get("ts") or key_ts)
        if reply.reply_id in self._uncertain:
            earlier = await self._find_earlier_post(channel, thread_ts, reply.reply_id)
            if earlier is not None:
                self._uncertain.discard(reply.reply_id)
                return SendResult(channel_message_id=f"{channel}:{earlier}",
                                  metadata={"channel": channel, "ts": earlier})
        try:
            response = await self._client.chat_postMessage(
                channel=channel, thread_ts=thread_ts, text=reply.text,
                unfurl_links=False, unfurl_media=False,
                metadata={"event_type": "supportbot_reply",
                          "event_payload": {"reply_id": reply.reply_id}},
            )
        except SlackApiError as exc:
            raise self._send_error(exc, reply) from exc
        except (aiohttp.ClientError, TimeoutError) as exc:
            self._uncertain.add(reply.reply_id)
            raise SendError(f"Slack unreachable: {exc.__class__.__name__}") from exc
        self._uncertain.discard(reply.reply_id)
        ts = str(response.get("ts"))
        return SendResult(channel_message_id=f"{channel}:{ts}",
                          metadata={"channel": channel, "ts": ts, "thread_ts": thread_ts})

    def _send_error(self, exc: SlackApiError, reply: Reply) -> SendError:
        status = exc.response.status_code
        error = str(exc.response.get("error") or f"HTTP {status}")
        if status == 429 or error == "ratelimited":
            retry_after = retry_after_seconds(exc.response.headers)
            shown = "?" if retry_after is None else f"{retry_after:g}"
            return SendError(f"Slack rate limit (retry after {shown}s)", retry_after=retry_after)
        if error in PERMANENT_ERRORS:
            return SendError(f"Slack refused the reply: {error}", permanent=True)
        if status >= 500:
            self._uncertain.add(reply.reply_id)
        return SendError(f"Slack error: {error}")

    async def _find_earlier_post(self, channel: str, thread_ts: str, reply_id: str) -> str | None:
        try:
            response = await self._client.conversations_replies(
                channel=channel, ts=thread_ts, include_all_metadata=True, limit=200
            )
        except (SlackApiError, aiohttp.ClientError, TimeoutError) as exc:
            raise SendError(f"could not check the thread before re-sending: {exc}") from exc
        for message in response.get("messages") or []:
            payload = (message.get("metadata") or {}).get("event_payload") or {}
            if payload.get("reply_id") == reply_id:
                return str(message.get("ts"))
        return None


