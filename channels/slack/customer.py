"""The customer listener: Slack message events stored through ``accept`` before the ack.

Listeners run before Slack gets its HTTP 200 (``process_before_response``), so they only do
fast work: a database write and a cache read, never a Slack API call. The customer's name and
e-mail (``users.info``) are filled in by a tracked background task after the ack. This module
never imports the router, another channel or ``handoff``.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

from slack_bolt.async_app import AsyncApp
from slack_bolt.request.async_request import AsyncBoltRequest

from bot.domain import Accepted, AcceptFn, Sender
from channels.slack.events import SeenEvents, clean_text, ignore_reason, to_inbound
from channels.slack.users import SlackUserDirectory
from config import Settings

log = logging.getLogger(__name__)

#: Stores a Slack user's profile (``Sender`` with ``id`` = Slack user id) on their customer.
ProfileFn = Callable[[Sender], Awaitable[None]]


#: ``on_edit(channel_message_id, new_text)``: a customer edited a stored message.
EditFn = Callable[[str, str], Awaitable[object]]


class SlackCustomerChannel:
    """Turns customer message events into ``Inbound`` and hands them to ``accept``."""

    def __init__(
        self, *, settings: Settings, accept: AcceptFn, users: SlackUserDirectory,
        on_accepted: Callable[[Accepted], object] | None = None,
        on_profile: ProfileFn,
        on_edit: EditFn | None = None,
    ) -> None:
        self._on_edit = on_edit
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
        if event.get("subtype") == "message_changed":
            await self._edited(event, bot_user_id)
            return None
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

    async def _edited(self, event: Mapping[str, Any], bot_user_id: object) -> None:
        """A customer edited a message: hand its new text to ``on_edit``."""
        inner: Mapping[str, Any] = event.get("message") or {}
        channel = event.get("channel")
        if (self._on_edit is None or channel is None or channel == self._settings.approval_channel
                or not inner.get("user") or inner.get("user") == bot_user_id
                or inner.get("bot_id") or inner.get("ts") is None):
            return
        # Stored as plain text like every customer message (mentions unwrapped, entities
        # unescaped), so the card renders an edit exactly as it renders a new message.
        text = clean_text(str(inner.get("text") or ""),
                          bot_user_id=str(bot_user_id) if bot_user_id else None)
        await self._on_edit(f"{channel}:{inner['ts']}", text)

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
    on_edit: EditFn | None = None,
) -> SlackCustomerChannel:
    """Listen for customer messages (support channels, DMs, mentions) on ``app``.

    ``on_accepted`` is called after a new message is stored (``bot/app.py`` wakes the worker).
    ``on_profile`` stores a customer's name and e-mail once ``users.info`` told us, after the
    ack. Message events in the approval channel are left to ``handoff`` (its internal notes).
    """
    channel = SlackCustomerChannel(
        settings=settings, accept=accept,
        users=users or SlackUserDirectory(client=app.client), on_accepted=on_accepted,
        on_profile=on_profile, on_edit=on_edit,
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
