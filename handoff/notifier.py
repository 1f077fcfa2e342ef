"""``SlackApprovalNotifier``: the core's ``ApprovalNotifier`` for the Slack approval channel.

Cards are rebuilt from the database on every change and updated in place (``chat.update``).
A conversation's first card starts its thread: later drafts, customer follow-ups, full texts,
agents' notes and delivery failures all go into that thread.
"""

from __future__ import annotations

import asyncio
import logging
import weakref
from datetime import datetime, timedelta
from typing import Any

import aiohttp
from slack_sdk.errors import SlackApiError
from slack_sdk.models.blocks import Block
from slack_sdk.web.async_client import AsyncWebClient

from bot.store import cards
from config import Settings
from handoff.cards import (
    as_dicts,
    auto_sent_card,
    auto_sent_fallback,
    card_fallback,
    draft_card,
    failure_blocks,
    followup_blocks,
    full_text_message,
)
from handoff.runtime import with_retry
from handoff.state import customer_label, load_card
from handoff.text import MESSAGE_TEXT, fit

log = logging.getLogger(__name__)
_SLACK_ERRORS = (SlackApiError, aiohttp.ClientError, TimeoutError)


class SlackApprovalNotifier:
    """Posts and updates cards; implements ``bot.ports.ApprovalNotifier``.

    Slack failures are logged, never raised into the core: the draft stays pending in the
    database and ``post_missing_cards`` (a scheduled job) posts its card later.
    """

    def __init__(self, *, client: AsyncWebClient, settings: Settings) -> None:
        if not settings.approval_channel:
            raise ValueError("SUPPORTBOT_APPROVAL_CHANNEL is required for the approval channel")
        self._client = client
        self._channel: str = settings.approval_channel
        # One card update at a time per draft, so an older state never overwrites a newer one.
        # Weak values: a lock lives only while some update holds or awaits it.
        self._locks: weakref.WeakValueDictionary[int, asyncio.Lock] = (
            weakref.WeakValueDictionary())

    # --- ApprovalNotifier -----------------------------------------------------------------

    async def draft_ready(self, draft_id: int) -> None:
        try:
            await self._post_card(draft_id)
        except _SLACK_ERRORS:
            log.exception("could not post the card of draft %s (it stays pending)", draft_id)

    async def customer_followup(self, message_id: int) -> None:
        message = await cards.message_with_customer(message_id)
        conversation = message.conversation
        blocks = followup_blocks(author=customer_label(conversation, message), text=message.text,
                                 conversation_id=conversation.id, assignee=conversation.assignee)
        try:
            await self.post_in_thread(conversation.id, fit(f"{message.author} wrote: "
                                                           f"{message.text}", MESSAGE_TEXT),
                                      blocks=blocks)
        except _SLACK_ERRORS:
            log.exception("could not post follow-up message %s", message_id)

    async def draft_superseded(self, draft_id: int) -> None:
        await self.refresh(draft_id)

    async def delivery_failed(self, outbox_item_id: int) -> None:
        item = await cards.outbox_item(outbox_item_id)
        if item is None:
            return
        draft_id: int | None = item.draft_id  # type: ignore[attr-defined]
        conversation_id: int = item.conversation_id  # type: ignore[attr-defined]
        error = item.last_error or "unknown error"
        try:
            if draft_id is not None and await self._has_card(draft_id):
                await self.refresh(draft_id)
                text = f"❗ The reply was not delivered: {error}. Use *Retry sending* on the card."
                await self.post_in_thread(conversation_id, fit(text, MESSAGE_TEXT))
            else:
                await self.post_in_thread(
                    conversation_id, fit(f"A reply could not be delivered: {error}", 3000),
                    blocks=failure_blocks(error=error, outbox_item_id=item.id,
                                          conversation_id=conversation_id))
        except _SLACK_ERRORS:
            log.exception("could not show the failure of outbox item %s", outbox_item_id)

    async def auto_sent(self, draft_id: int) -> None:
        try:
            view = await load_card(draft_id)
            card_channel, thread = await cards.approval_place(view.conversation_id)
            channel = card_channel or self._channel
            kwargs: dict[str, Any] = {"channel": channel, "text": auto_sent_fallback(view),
                                      "blocks": as_dicts(auto_sent_card(view))}
            if thread:
                kwargs["thread_ts"] = thread
            response = await with_retry(lambda: self._client.chat_postMessage(**kwargs))
            ts = str(response["ts"])
            await cards.record_card(draft_id, ts)
            if not thread:
                await cards.record_thread(view.conversation_id, channel=channel, ts=ts)
        except _SLACK_ERRORS:
            log.exception("could not post the auto-sent card of draft %s", draft_id)

    async def delivered(self, outbox_item_id: int) -> None:
        item = await cards.outbox_item(outbox_item_id)
        draft_id: int | None = getattr(item, "draft_id", None)
        if draft_id is not None:
            await self.refresh(draft_id)

    # --- used by the action handlers and admin commands -----------------------------------

    async def refresh(self, draft_id: int) -> None:
        """Re-render a draft's card in place from the stored state."""
        lock = self._locks.get(draft_id)
        if lock is None:
            lock = self._locks[draft_id] = asyncio.Lock()
        async with lock:
            card = await cards.card_ts(draft_id)
            if card is None:
                return
            ts, conversation_id = card
            view = await load_card(draft_id)
            if view.status == "auto_sent":
                blocks, fallback = auto_sent_card(view), auto_sent_fallback(view)
            else:
                blocks, fallback = draft_card(view)[0], card_fallback(view)
            channel = await self._card_channel(conversation_id)
            try:
                await with_retry(lambda: self._client.chat_update(
                    channel=channel, ts=ts, text=fallback, blocks=as_dicts(blocks)))
            except _SLACK_ERRORS:
                log.exception("could not update the card of draft %s", draft_id)

    async def refresh_conversation(self, conversation_id: int) -> None:
        """Re-render the newest card of a conversation (take over, release)."""
        latest = await cards.latest_card_draft(conversation_id)
        if latest is not None:
            await self.refresh(latest)

    async def post_in_thread(
        self, conversation_id: int, text: str, *, blocks: list[Block] | None = None
    ) -> str:
        """Post into the conversation's card thread (starting one if it has none)."""
        card_channel, thread = await cards.approval_place(conversation_id)
        channel = card_channel or self._channel
        kwargs: dict[str, Any] = {"channel": channel, "text": text}
        if thread:
            kwargs["thread_ts"] = thread
        if blocks is not None:
            kwargs["blocks"] = as_dicts(blocks)
        response = await with_retry(lambda: self._client.chat_postMessage(**kwargs))
        ts = str(response["ts"])
        if not thread:
            await cards.record_thread(conversation_id, channel=channel, ts=ts)
        return ts

    async def post_missing_cards(self, *, limit: int = 50) -> int:
        """Post the cards of pending drafts that have none (Slack was down): a scheduled job."""
        ids = await cards.pending_without_card(limit)
        for draft_id in ids:
            await self.draft_ready(draft_id)
        return len(ids)

    async def remind_stale(self, *, older_than: timedelta, now: datetime) -> int:
        """Nudge drafts pending longer than ``older_than`` (once each): a scheduled job."""
        stale = await cards.stale_pending(older_than=older_than, now=now)
        for draft in stale:
            if not await cards.claim_reminder(draft.id, now):
                continue  # another worker reminded it
            minutes = int((now - draft.created_at).total_seconds() // 60)
            try:
                await self.post_in_thread(
                    draft.conversation_id,  # type: ignore[attr-defined]
                    f"⏰ This draft has been waiting {minutes} min for a decision.")
            except _SLACK_ERRORS:
                log.exception("could not remind about draft %s", draft.id)
        return len(stale)

    async def card_channel(self, conversation_id: int) -> str:
        """The channel a conversation's cards live in."""
        return await self._card_channel(conversation_id)

    # --- internals ------------------------------------------------------------------------

    async def _card_channel(self, conversation_id: int) -> str:
        channel, _ = await cards.approval_place(conversation_id)
        return channel or self._channel

    async def _has_card(self, draft_id: int) -> bool:
        return await cards.has_card(draft_id)

    async def _post_card(self, draft_id: int) -> None:
        view = await load_card(draft_id)
        card_channel, thread = await cards.approval_place(view.conversation_id)
        channel = card_channel or self._channel
        blocks, shortened = draft_card(view)
        kwargs: dict[str, Any] = {"channel": channel, "text": card_fallback(view),
                                  "blocks": as_dicts(blocks)}
        if thread:
            kwargs["thread_ts"] = thread  # follow-up drafts go into the first card's thread
        response = await with_retry(lambda: self._client.chat_postMessage(**kwargs))
        ts = str(response["ts"])
        await cards.record_card(draft_id, ts)
        if not thread:
            await cards.record_thread(view.conversation_id, channel=channel, ts=ts)
        if shortened:
            await with_retry(lambda: self._client.chat_postMessage(
                channel=channel, thread_ts=thread or ts, text=full_text_message(view)))
