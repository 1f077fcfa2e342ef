"""``SlackApprovalNotifier``: the core's ``ApprovalNotifier`` for the Slack approval channel.

Cards are rebuilt from the database on every change and updated in place (``chat.update``).
A conversation's first card starts its thread: later drafts, customer follow-ups, full texts,
agents' notes and delivery failures all go into that thread.

A draft has one live card, even across a crash: the post is claimed in the database first
(``bot.store.cards.claim_card_post``) and the card carries the claim's token in its message
metadata, so a post whose ``ts`` was never recorded (the process died, or Slack's answer was
lost) is found again in the channel or thread and recorded, not posted a second time.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import weakref
from collections.abc import Callable
from dataclasses import replace
from datetime import datetime, timedelta
from typing import Any

import aiohttp
from slack_sdk.errors import SlackApiError
from slack_sdk.models.blocks import Block
from slack_sdk.web.async_client import AsyncWebClient

from bot.clock import Clock, utcnow
from bot.store import attention, cards
from config import Settings
from handoff.cards import (
    as_dicts,
    auto_sent_card,
    auto_sent_fallback,
    card_fallback,
    draft_card,
    failure_blocks,
    followup_blocks,
)
from handoff.links import SlackLinks
from handoff.names import SlackNames
from handoff.runtime import with_retry
from handoff.state import CardView, customer_label, load_card
from handoff.text import MESSAGE_TEXT, chunks, fit, user

log = logging.getLogger(__name__)
_SLACK_ERRORS = (SlackApiError, aiohttp.ClientError, TimeoutError)
# The Slack message metadata event type of a draft's card (its payload holds the claim token).
CARD_EVENT = "supportbot_card"
# How far back a lost card is looked for among the channel's top-level messages.
_HISTORY_PAGES = 5


class SlackApprovalNotifier:
    """Posts and updates cards; implements ``bot.ports.ApprovalNotifier``.

    Slack failures are logged, never raised into the core: the draft stays pending in the
    database and ``post_missing_cards`` (a scheduled job) posts its card later.
    """

    def __init__(self, *, client: AsyncWebClient, settings: Settings,
                 clock: Clock = utcnow) -> None:
        if not settings.approval_channel:
            raise ValueError("SUPPORTBOT_APPROVAL_CHANNEL is required for the approval channel")
        self._client = client
        self._clock = clock
        # A post claimed longer ago than a worker's lease died with its process.
        self._claim_for = timedelta(seconds=settings.lease_seconds)
        self._channel: str = settings.approval_channel
        self._approvers: list[str] = list(settings.approvers)
        self.links = SlackLinks(client=client)
        # One card update at a time per draft, so an older state never overwrites a newer one.
        # Weak values: a lock lives only while some update holds or awaits it.
        self._locks: weakref.WeakValueDictionary[int, asyncio.Lock] = (
            weakref.WeakValueDictionary())
        self.names = SlackNames(client=client)
        #: Told the conversation id whenever a conversation's cards change (the App Home
        #: republisher listens here).
        self.on_change: Callable[[int], None] | None = None

    # --- ApprovalNotifier -----------------------------------------------------------------

    async def draft_ready(self, draft_id: int) -> None:
        try:
            await self._post_card(draft_id)
        except _SLACK_ERRORS:
            log.exception("could not post the card of draft %s (it stays pending)", draft_id)

    async def customer_followup(self, message_id: int) -> None:
        message = await cards.message_with_customer(message_id)
        conversation = message.conversation
        text = await self.names.render(message.text)
        blocks = followup_blocks(author=customer_label(conversation, message), text=text,
                                 conversation_id=conversation.id, assignee=conversation.assignee)
        # The notification names who must act (the owner, else the approvers); the top-level
        # card's state line says the conversation waits on us.
        mention = self.attention_of(conversation.assignee)
        try:
            await self.post_in_thread(conversation.id, f"{mention} " + fit(
                f"{message.author} wrote: {text}", MESSAGE_TEXT - 200), blocks=blocks)
        except _SLACK_ERRORS:
            log.exception("could not post follow-up message %s", message_id)
        await self.refresh_top(conversation.id)

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
        # The top-level card's state line says the reply is dead and who must act.
        await self.refresh_top(conversation_id, besides=draft_id)

    async def auto_sent(self, draft_id: int) -> None:
        try:
            await self._post_card(draft_id)  # the compact "sent automatically" card
        except _SLACK_ERRORS:
            log.exception("could not post the auto-sent card of draft %s", draft_id)

    async def delivered(self, outbox_item_id: int) -> None:
        await self._refresh_for_delivery(outbox_item_id)

    async def delivery_retrying(self, outbox_item_id: int) -> None:
        await self._refresh_for_delivery(outbox_item_id)

    async def _refresh_for_delivery(self, outbox_item_id: int) -> None:
        """A reply's delivery changed: re-render its draft's card and the conversation's
        top-level card (whose state line follows the newest reply)."""
        item = await cards.outbox_item(outbox_item_id)
        if item is None:
            return
        draft_id: int | None = item.draft_id  # type: ignore[attr-defined]
        if draft_id is not None:
            await self.refresh(draft_id)
        await self.refresh_top(item.conversation_id, besides=draft_id)  # type: ignore[attr-defined]

    # --- what a card shows ------------------------------------------------------------------

    async def view(self, draft_id: int) -> CardView:
        """A draft's ``CardView`` with people and groups named (mentions in the customer's
        text as names, the owner's name for the header, the approvers to mention)."""
        view = await load_card(draft_id, links=self.links)
        owner = await self.names.user(view.assignee) if view.assignee else None
        return replace(view, question=await self.names.render(view.question),
                       approvers=self.attention_of(None), assignee_name=owner)

    async def post_full_texts(self, draft_id: int, *, edited_by: str | None = None) -> int:
        """Post into the card's thread what the card had to shorten, whole, in pieces within
        Slack's limits: the customer's message and the draft, or (after an edit) the reply as
        sent. Returns the number of posts (0: nothing was shortened)."""
        view = await self.view(draft_id)
        _, shortened = draft_card(view)
        if not shortened:
            return 0
        if edited_by is not None:
            if view.status != "edited" or not view.final_text:
                return 0  # sent as drafted: the full draft was posted with the card
            parts = [(f"Full reply as sent (edited by {user(edited_by)}):", view.final_text)]
        else:
            parts = [("Full customer message:", view.question)]
            if view.draft.strip():
                parts.append(("Full draft:", view.draft))
        posts = 0
        for title, text in parts:
            pieces = chunks(text)
            for number, piece in enumerate(pieces, 1):
                head = title if len(pieces) == 1 else f"{title} (part {number}/{len(pieces)})"
                await self.post_in_thread(view.conversation_id, f"{head}\n{piece}")
                posts += 1
        return posts

    async def drafter_status(self, problem: str | None) -> None:
        if problem is None:
            text = ("✅ Drafting with Claude works again: new cards carry Claude's drafts.")
        else:
            text = (f"⚠️ Drafting with Claude is failing: {problem}. Until it works again, "
                    "every card carries the offline extractive draft (labelled so) and goes "
                    "to a human. This notice is posted once; another follows on recovery.")
        try:
            await with_retry(lambda: self._client.chat_postMessage(
                channel=self._channel, text=fit(text, MESSAGE_TEXT)))
        except _SLACK_ERRORS:
            log.exception("could not tell the approval channel about the drafter (%s)",
                          problem or "recovered")

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
            view = await self.view(draft_id)
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
        if self.on_change is not None:
            self.on_change(conversation_id)

    async def refresh_conversation(self, conversation_id: int) -> None:
        """Re-render the newest card of a conversation and its top-level card (take over,
        assign, release, a reply by hand)."""
        latest = await cards.latest_card_draft(conversation_id)
        if latest is not None:
            await self.refresh(latest)
        await self.refresh_top(conversation_id, besides=latest)

    async def refresh_top(self, conversation_id: int, *, besides: int | None = None) -> None:
        """Re-render the conversation's top-level card (the one its thread hangs from), unless
        it is ``besides`` (just refreshed)."""
        top = await cards.thread_card_draft(conversation_id)
        if top is not None and top != besides:
            await self.refresh(top)

    async def post_in_thread(
        self, conversation_id: int, text: str, *, blocks: list[Block] | None = None,
        broadcast: bool = False,
    ) -> str:
        """Post into the conversation's card thread (starting one if it has none); with
        ``broadcast`` also to the channel (``reply_broadcast``), for what needs attention."""
        card_channel, thread = await cards.approval_place(conversation_id)
        channel = card_channel or self._channel
        kwargs: dict[str, Any] = {"channel": channel, "text": text}
        if thread:
            kwargs["thread_ts"] = thread
            if broadcast:
                kwargs["reply_broadcast"] = True
        if blocks is not None:
            kwargs["blocks"] = as_dicts(blocks)
        response = await with_retry(lambda: self._client.chat_postMessage(**kwargs))
        ts = str(response["ts"])
        if not thread:
            await cards.record_thread(conversation_id, channel=channel, ts=ts)
        return ts

    async def post_missing_cards(self, *, limit: int = 50) -> int:
        """Post the cards of pending drafts that have none (Slack was down, or a crash came
        between posting and recording: then the card is found again, not posted twice); a
        scheduled job and a worker's start. Returns how many cards it posted or found."""
        done = 0
        for draft_id in await cards.pending_without_card(limit):
            try:
                done += await self._post_card(draft_id)
            except _SLACK_ERRORS:
                log.exception("could not post the card of draft %s (it stays pending)",
                              draft_id)
        return done

    async def remind_stale(self, *, older_than: timedelta, now: datetime) -> int:
        """Remind about every conversation waiting on us longer than ``older_than`` (a draft
        to review, a customer's follow-up after a rejection or take-over, a dead-lettered
        reply), with escalating mentions: the owner (or the approvers) after ``older_than``,
        broadcast to the channel after twice that, owner and approvers after four times that.
        A scheduled job; each level is sent once per customer message."""
        reminded = 0
        for item in await attention.waiting_on_us(limit=100):
            age = now - item.since
            if age < older_than:
                continue
            level = 1 if age < 2 * older_than else 2 if age < 4 * older_than else 3
            if not await attention.claim_reminder(item.conversation_id,
                                                  message_id=item.message_id, level=level):
                continue
            minutes = int(age.total_seconds() // 60)
            text = (f"⏰ {self.attention_of(item.assignee, level)} {item.reason}: "
                    f"{fit(item.customer, 100)} has been waiting {minutes} min.")
            try:
                await self.post_in_thread(item.conversation_id, text, broadcast=level >= 2)
                reminded += 1
            except _SLACK_ERRORS:
                log.exception("could not remind about conversation %s", item.conversation_id)
        return reminded

    def attention_of(self, assignee: str | None, level: int = 1) -> str:
        """Who a reminder mentions: the owner, else the approvers (their user group, or the
        approvers by name); both from level 3 on."""
        groups = [e for e in self._approvers if e.startswith("S")]
        people = [e for e in self._approvers if e[:1] in ("U", "W")]
        approvers = (f"<!subteam^{groups[0]}>" if groups else
                     " ".join(user(p) for p in people[:5]) if people else "<!here>")
        if assignee and level < 3:
            return user(assignee)
        if assignee:
            return f"{user(assignee)} {approvers}"
        return approvers

    async def card_channel(self, conversation_id: int) -> str:
        """The channel a conversation's cards live in."""
        return await self._card_channel(conversation_id)

    # --- internals ------------------------------------------------------------------------

    async def _card_channel(self, conversation_id: int) -> str:
        channel, _ = await cards.approval_place(conversation_id)
        return channel or self._channel

    async def _has_card(self, draft_id: int) -> bool:
        return await cards.has_card(draft_id)

    async def _post_card(self, draft_id: int) -> bool:
        """Post the draft's card (its review card, or the compact one of an auto-sent reply)
        once; False when it has one or another post of it is under way."""
        now = self._clock()
        claim = await cards.claim_card_post(draft_id, now=now, stale_before=now - self._claim_for)
        if claim is None:
            return False
        view = await self.view(draft_id)
        card_channel, thread = await cards.approval_place(view.conversation_id)
        channel = card_channel or self._channel
        try:
            found = (await self._find_card(channel, thread, claim.token) if claim.resumed
                     else None)
            if found is not None:
                log.warning("card of draft %s was posted but not recorded; recording %s",
                            draft_id, found)
                await self._record(draft_id, view.conversation_id, channel, thread, found)
                await self.refresh(draft_id)  # the found card shows the state of now
                return True
            if view.status == "auto_sent":
                blocks, shortened, fallback = auto_sent_card(view), False, auto_sent_fallback(view)
            else:
                blocks, shortened = draft_card(view)
                fallback = card_fallback(view)
            kwargs: dict[str, Any] = {
                "channel": channel, "text": fallback, "blocks": as_dicts(blocks),
                "metadata": {"event_type": CARD_EVENT,
                             "event_payload": {"draft_id": draft_id, "token": claim.token}}}
            if thread:
                kwargs["thread_ts"] = thread  # follow-up drafts go into the first card's thread
            response = await with_retry(lambda: self._client.chat_postMessage(**kwargs))
        except BaseException:
            await cards.release_card_post(draft_id)
            raise
        ts = str(response["ts"])
        await self._record(draft_id, view.conversation_id, channel, thread, ts)
        if shortened:
            await self.post_full_texts(draft_id)
        return True

    async def _record(self, draft_id: int, conversation_id: int, channel: str,
                      thread: str | None, ts: str) -> None:
        await cards.record_card(draft_id, ts)
        if not thread:
            await cards.record_thread(conversation_id, channel=channel, ts=ts)

    async def _find_card(self, channel: str, thread: str | None, token: str) -> str | None:
        """The ts of the card carrying ``token`` in its metadata: in the thread when the card
        went into one, else among the channel's newest top-level messages."""
        cursor: str | None = None
        for _ in range(_HISTORY_PAGES):
            kwargs: dict[str, Any] = {"channel": channel, "include_all_metadata": True,
                                      "limit": 200}
            if cursor:
                kwargs["cursor"] = cursor
            response = await with_retry(functools.partial(
                self._client.conversations_replies, ts=thread, **kwargs) if thread else
                functools.partial(self._client.conversations_history, **kwargs))
            for message in response.get("messages") or []:
                meta = message.get("metadata") or {}
                payload = meta.get("event_payload") or {}
                if meta.get("event_type") == CARD_EVENT and payload.get("token") == token:
                    return str(message["ts"])
            cursor = (response.get("response_metadata") or {}).get("next_cursor") or None
            if not cursor:
                break
        return None
