"""Slack as a customer channel: events in (HTTP or Socket Mode), replies out in the thread.

The bolt ``AsyncApp`` runs with ``process_before_response=True``: a listener finishes before
Slack gets its HTTP 200, so a customer message is stored by ``accept`` *before* it is
acknowledged (a failed store answers 500 and Slack retries). Listeners therefore only do fast
work (a database write, a cache read); never a Slack API call: the customer's name and e-mail
(``users.info``) are filled in by a tracked background task after the ack. Everything slow
happens in the worker. This module never imports the router, another channel or ``handoff``.
"""

from __future__ import annotations

import asyncio
import logging
import re
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Mapping
from datetime import UTC, datetime
from typing import Any

import aiohttp
from slack_bolt.adapter.socket_mode.aiohttp import AsyncSocketModeHandler
from slack_bolt.async_app import AsyncApp
from slack_bolt.request.async_request import AsyncBoltRequest
from slack_bolt.response import BoltResponse
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from bot.domain import (
    Accepted,
    AcceptError,
    AcceptFn,
    Channel,
    Inbound,
    Reply,
    Sender,
    SendError,
    SendResult,
)
from config import Settings

log = logging.getLogger(__name__)

#: Message subtypes that are still a person writing (everything else is an edit, deletion,
#: join, topic change, bot post, …). ``thread_broadcast`` is a thread reply also sent to the
#: channel; ``file_share`` is a message with an attachment.
CUSTOMER_SUBTYPES = frozenset({None, "thread_broadcast", "file_share"})
# Errors where retrying the same call cannot succeed (Slack Web API error codes).
PERMANENT_ERRORS = frozenset({
    "channel_not_found", "not_in_channel", "is_archived", "msg_too_long", "no_text",
    "invalid_auth", "not_authed", "account_inactive", "token_revoked", "restricted_action",
    "cannot_reply_to_message", "missing_scope", "invalid_blocks", "too_many_attachments",
})
_MENTION = re.compile(r"<@([UW][A-Z0-9]+)(?:\|[^>]*)?>")
_LINK = re.compile(r"<((?:https?|mailto):[^|>]+)(?:\|([^>]+))?>")
_SPECIAL = re.compile(r"<!(?:subteam\^[A-Z0-9]+\|)?([^>|]+)(?:\|[^>]*)?>")


def make_slack_app(settings: Settings, *, client: AsyncWebClient) -> AsyncApp:
    """The bolt app for HTTP (``/slack/events``) and Socket Mode, on the injected client.

    ``client`` is built by the caller with ``base_url=settings.slack_api_url`` (tests point it
    at a fake). The signing secret is required for HTTP mode; Socket Mode does not sign.
    """
    secret = settings.slack_signing_secret
    app = AsyncApp(
        client=client,
        signing_secret=secret.get_secret_value() if secret is not None else "",
        # Persist first, then acknowledge: see the module docstring.
        process_before_response=True,
        # Always on, even in Socket Mode: bolt skips the check for Socket Mode envelopes
        # itself, and an HTTP endpoint that is mounted anyway must still fail closed.
        request_verification_enabled=True,
        name="supportbot",
    )
    app.error(_client_error_handler)
    return app


async def _client_error_handler(error: Exception, body: Any, logger: Any) -> BoltResponse | None:
    """A signed request whose fields have shapes bolt does not expect (``"event": true``,
    ``"user": []``) is the sender's error: 400 and a logged rejection, not a 500 that Slack
    would retry forever. Storage failures (``AcceptError``) stay 500 so that Slack retries."""
    if isinstance(error, (TypeError, AttributeError, KeyError, ValueError, IndexError)) and \
            not isinstance(error, AcceptError):
        log.warning("rejected a malformed Slack request: %s: %s", error.__class__.__name__, error)
        return BoltResponse(status=400, body='{"error":"malformed_request"}')
    return None


async def start_socket_mode(app: AsyncApp, settings: Settings) -> AsyncSocketModeHandler:
    """Connect to Slack over Socket Mode (``SLACK_APP_TOKEN``). The caller keeps the handler
    and calls ``await handler.close_async()`` on shutdown."""
    if settings.slack_app_token is None:
        raise ValueError("SLACK_APP_TOKEN is required for Socket Mode")
    handler = AsyncSocketModeHandler(app, settings.slack_app_token.get_secret_value())
    await handler.connect_async()  # type: ignore[no-untyped-call]
    return handler


# --- translation: pure functions -----------------------------------------------------------


def clean_text(text: str, *, bot_user_id: str | None = None) -> str:
    """Slack mrkdwn → plain text: drop the bot's own mention, unwrap links and mentions,
    unescape the three entities Slack escapes (``&amp; &lt; &gt;``, in that order last)."""
    if bot_user_id:
        text = re.sub(rf"<@{re.escape(bot_user_id)}(?:\|[^>]*)?>\s*", "", text)
    text = _LINK.sub(lambda m: f"{m.group(2)} ({m.group(1)})" if m.group(2) else m.group(1), text)
    text = _MENTION.sub(lambda m: f"@{m.group(1)}", text)
    text = _SPECIAL.sub(lambda m: f"@{m.group(1)}", text)
    text = text.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")
    return text.strip()


def thread_key(channel: str, ts: str, thread_ts: str | None) -> str:
    """A top-level message starts a thread at its own ts; replies join their parent's."""
    return f"{channel}:{thread_ts or ts}"


def ignore_reason(
    event: Mapping[str, Any], settings: Settings, *, bot_user_id: str | None
) -> str | None:
    """Why this event is not a customer message, or None when it is one."""
    kind, subtype, channel = event.get("type"), event.get("subtype"), event.get("channel")
    if kind not in ("message", "app_mention"):
        return f"event type {kind}"
    if subtype not in CUSTOMER_SUBTYPES:
        return f"subtype {subtype}"
    if channel is None or event.get("ts") is None:
        return "no channel or ts"
    if channel == settings.approval_channel:
        return "approval channel"
    if bot_user_id is not None and event.get("user") == bot_user_id:
        return "our own message"
    if event.get("bot_id") and settings.ignore_other_bots:
        return "another bot"
    if not event.get("user") and not event.get("bot_id"):
        return "no author"
    if kind == "app_mention" or event.get("channel_type") == "im":
        return None
    if channel in settings.support_channels:
        return None
    return "not a support channel"


def to_inbound(
    event: Mapping[str, Any], *, team: str | None, sender: Sender, bot_user_id: str | None
) -> Inbound:
    """Translate a customer message event into the core's ``Inbound``."""
    channel, ts = str(event["channel"]), str(event["ts"])
    thread_ts = event.get("thread_ts")
    text = clean_text(str(event.get("text") or ""), bot_user_id=bot_user_id)
    if not text and event.get("files"):
        names = ", ".join(str(f.get("name") or "file") for f in event["files"])
        text = f"(shared {names})"
    return Inbound(
        channel=Channel.SLACK,
        thread_key=thread_key(channel, ts, thread_ts),
        # channel:ts is unique per message, so Slack's retried deliveries dedupe in accept.
        channel_message_id=f"{channel}:{ts}",
        text=text,
        sender=sender,
        received_at=datetime.fromtimestamp(float(ts), UTC),
        metadata={
            "channel": channel,
            "ts": ts,
            "thread_ts": thread_ts,
            "team": team or event.get("team"),
            "user": event.get("user") or event.get("bot_id"),
            "channel_type": event.get("channel_type"),
        },
    )


# --- state: user cache and seen events -----------------------------------------------------


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


class SeenEvents:
    """The ids of events already stored: Slack retries (``X-Slack-Retry-Num``) skip work."""

    def __init__(self, max_size: int = 10_000) -> None:
        self._ids: OrderedDict[str, None] = OrderedDict()
        self._max = max_size

    def __contains__(self, event_id: object) -> bool:
        return event_id in self._ids

    def add(self, event_id: str) -> None:
        self._ids[event_id] = None
        while len(self._ids) > self._max:
            self._ids.popitem(last=False)


# --- the listener ------------------------------------------------------------------------

#: Stores a Slack user's profile (``Sender`` with ``id`` = Slack user id) on their customer.
ProfileFn = Callable[[Sender], Awaitable[None]]


class SlackCustomerChannel:
    """Turns customer message events into ``Inbound`` and hands them to ``accept``."""

    def __init__(
        self, *, settings: Settings, accept: AcceptFn, users: SlackUserDirectory,
        on_accepted: Callable[[Accepted], object] | None = None,
        on_profile: ProfileFn,
    ) -> None:
        self._settings = settings
        self._accept = accept
        self.users = users
        self._on_accepted = on_accepted
        self._on_profile = on_profile
        self.seen = SeenEvents()
        self._profile_tasks: set[asyncio.Task[None]] = set()

    async def handle(
        self, body: Mapping[str, Any], context: Mapping[str, Any], request: AsyncBoltRequest
    ) -> Accepted | None:
        """Store one event if it is a customer message. Raises on a storage failure so that
        bolt answers 500 and Slack delivers the event again."""
        event: Mapping[str, Any] = body.get("event") or {}
        event_id = body.get("event_id")
        if event_id is not None and event_id in self.seen:
            retry = request.headers.get("x-slack-retry-num", ["?"])[0]
            log.info("event %s already stored (Slack retry %s)", event_id, retry)
            return None
        bot_user_id = context.get("bot_user_id")
        reason = ignore_reason(event, self._settings, bot_user_id=bot_user_id)
        if reason is not None:
            log.debug("ignoring Slack event %s: %s", event_id, reason)
            return None
        user_id = event.get("user")
        # Never wait on users.info here: under a burst its latency (and its rate limit) would
        # push the ack past Slack's 3 s and Slack would deliver the event again.
        cached = self.users.cached(str(user_id)) if user_id else None
        sender = cached or Sender(id=str(user_id or event.get("bot_id")))
        inbound = to_inbound(event, team=body.get("team_id"), sender=sender,
                             bot_user_id=bot_user_id)
        accepted = await self._accept(inbound)
        if event_id is not None:
            self.seen.add(str(event_id))
        if user_id and cached is None:
            # After accept, so the customer row exists when the profile arrives.
            self._fill_profile(str(user_id))
        if self._on_accepted is not None and not accepted.duplicate:
            self._on_accepted(accepted)
        return accepted

    def _fill_profile(self, user_id: str) -> None:
        task = asyncio.create_task(self._lookup_and_save(user_id),
                                   name=f"slack-profile-{user_id}")
        self._profile_tasks.add(task)
        task.add_done_callback(self._profile_done)

    async def _lookup_and_save(self, user_id: str) -> None:
        profile = await self.users.lookup(user_id)
        if profile.name or profile.email:
            await self._on_profile(profile)

    def _profile_done(self, task: asyncio.Task[None]) -> None:
        self._profile_tasks.discard(task)
        if not task.cancelled() and (exc := task.exception()) is not None:
            log.error("could not fill in the Slack profile (%s)", task.get_name(),
                      exc_info=exc)

    async def profiles_settled(self) -> None:
        """Wait until every background profile fill started so far has finished (tests,
        shutdown). Failures are logged by the tasks themselves, not raised here."""
        while self._profile_tasks:
            await asyncio.gather(*self._profile_tasks, return_exceptions=True)


def register_customer_channel(
    app: AsyncApp,
    *,
    settings: Settings,
    accept: AcceptFn,
    users: SlackUserDirectory | None = None,
    on_accepted: Callable[[Accepted], object] | None = None,
    on_profile: ProfileFn,
) -> SlackCustomerChannel:
    """Listen for customer messages (support channels, DMs, mentions) on ``app``.

    ``on_accepted`` is called after a new message is stored (``bot/app.py`` wakes the worker).
    ``on_profile`` stores a customer's name and e-mail once ``users.info`` told us, after the
    ack. Message events in the approval channel are left to ``handoff`` (its internal notes).
    """
    channel = SlackCustomerChannel(
        settings=settings, accept=accept,
        users=users or SlackUserDirectory(client=app.client), on_accepted=on_accepted,
        on_profile=on_profile,
    )

    async def outside_approval_channel(event: Mapping[str, Any]) -> bool:
        return event.get("channel") != settings.approval_channel

    async def on_message(
        body: dict[str, Any], context: dict[str, Any], request: AsyncBoltRequest
    ) -> None:
        await channel.handle(body, context, request)

    app.event("message", matchers=[outside_approval_channel])(on_message)
    app.event("app_mention", matchers=[outside_approval_channel])(on_message)
    return channel


# --- outbound ----------------------------------------------------------------------------


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
            retry_after = _retry_after(exc.response.headers)
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


def _retry_after(headers: Mapping[str, Any]) -> float | None:
    """Seconds from a 429's ``Retry-After`` (Slack sends delta-seconds); None when absent or
    unreadable. Header names are matched case-insensitively (aiohttp may lowercase them)."""
    for name, value in headers.items():
        if str(name).lower() == "retry-after":
            raw = value[0] if isinstance(value, list) and value else value
            try:
                seconds = float(str(raw).strip())
            except ValueError:
                return None
            return seconds if seconds >= 0 else None
    return None
