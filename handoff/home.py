"""The App Home tab: *Mine*, *Waiting on us* and *Recently auto-sent*, published with
``views.publish`` when an agent opens it, and again (debounced) when a conversation they own
or owned changes."""

from __future__ import annotations

import asyncio
import dataclasses
import logging
from datetime import datetime
from typing import Any

import aiohttp
from slack_bolt.async_app import AsyncApp
from slack_sdk.errors import SlackApiError
from slack_sdk.models.blocks import (
    Block,
    ContextBlock,
    DividerBlock,
    HeaderBlock,
    MarkdownTextObject,
    SectionBlock,
)

from bot.store import attention, conversations
from bot.store import drafts as draft_store
from handoff.actions import Handoff
from handoff.cards import as_dicts
from handoff.names import SlackNames
from handoff.text import SECTION_TEXT, fit, slack_date, user

log = logging.getLogger(__name__)
_SHOWN = 15
#: Seconds a republish waits for more changes: a take-over re-renders two cards, a burst of
#: decisions many; each agent's tab is published once for all of them.
HOME_DEBOUNCE = 2.0


def _line(item: attention.Waiting, now: datetime) -> str:
    minutes = max(0, int((now - item.since).total_seconds() // 60))
    owner = f" · {user(item.assignee)}" if item.assignee else ""
    return (f"• *{fit(item.customer, 60)}* · {item.reason} · {minutes} min{owner} · "
            f"#{item.conversation_id}\n   _{fit(item.first_words, 90)}_")


def _section(title: str, lines: list[str], empty: str) -> list[Block]:
    body = "\n".join(lines) if lines else empty
    if len(body) > SECTION_TEXT:
        body = body[: SECTION_TEXT - 1] + "…"
    return [HeaderBlock(text=title), SectionBlock(text=MarkdownTextObject(text=body))]


async def home_blocks(agent: str, now: datetime,
                      waiting: list[attention.Waiting] | None = None,
                      names: SlackNames | None = None) -> list[Block]:
    """The tab's blocks for ``agent`` at ``now`` (``waiting``: already read; ``names``: shows
    mentions in the customers' words as names)."""
    if waiting is None:
        waiting = await attention.waiting_on_us(limit=50)
    if names is not None:
        waiting = [dataclasses.replace(w, first_words=await names.render(w.first_words))
                   for w in waiting]
    mine = [w for w in waiting if w.assignee == agent]
    sent = await draft_store.recent_auto_sent(5)
    auto_lines = [f"• {slack_date(d.decided_at)} #{d.conversation.id} · confidence "
                  f"{d.confidence:.2f}\n   _{fit(' '.join(d.message.text.split()), 90)}_"
                  for d in sent]
    return [
        *_section(f"Mine ({len(mine)})", [_line(w, now) for w in mine[:_SHOWN]],
                  "Nothing assigned to you is waiting."),
        DividerBlock(),
        *_section(f"Waiting on us ({len(waiting)})", [_line(w, now) for w in waiting[:_SHOWN]],
                  "Nothing is waiting on us. 🎉"),
        DividerBlock(),
        *_section("Recently auto-sent", auto_lines, "Nothing was sent automatically yet."),
        ContextBlock(elements=[MarkdownTextObject(
            text="Open the card threads in the approval channel to act.")]),
    ]


class HomePublisher:
    """Publishes agents' App Home tabs: on demand (``app_home_opened``) and, debounced, when a
    conversation changes for those who own it or whose *Mine* list showed it."""

    def __init__(self, h: Handoff, *, delay: float = HOME_DEBOUNCE) -> None:
        self._h = h
        self.delay = delay
        self._due: set[str] = set()  # agents with a publish scheduled and not yet started
        self._mine: dict[str, set[int]] = {}  # conversations each agent's tab shows as Mine

    def changed(self, conversation_id: int) -> None:
        """A conversation's cards changed (the notifier's ``on_change``)."""
        self._h.tasks.spawn(self._affected(conversation_id), name=f"home:{conversation_id}")

    async def _affected(self, conversation_id: int) -> None:
        conversation = await conversations.get(conversation_id)
        agents = {a for a, mine in self._mine.items() if conversation_id in mine}
        if conversation is not None and conversation.assignee:
            agents.add(conversation.assignee)
        for agent in sorted(agents):
            self.schedule(agent)

    def schedule(self, agent: str) -> None:
        """Publish ``agent``'s tab after ``delay``, once for every change until then."""
        if agent in self._due:
            return
        self._due.add(agent)
        self._h.tasks.spawn(self._later(agent), name=f"home-publish:{agent}")

    async def _later(self, agent: str) -> None:
        await asyncio.sleep(self.delay)
        self._due.discard(agent)
        await self.publish(agent)

    async def publish(self, agent: str) -> None:
        """Publish ``agent``'s tab now (Slack failures are logged: the tab is a convenience)."""
        waiting = await attention.waiting_on_us(limit=50)
        blocks = await home_blocks(agent, self._h.clock(), waiting, self._h.notifier.names)
        mine = {w.conversation_id for w in waiting if w.assignee == agent}
        try:
            await self._h.client.views_publish(user_id=agent, view={
                "type": "home", "blocks": as_dicts(blocks)})
        except (SlackApiError, aiohttp.ClientError, TimeoutError):
            log.exception("could not publish the App Home of %s", agent)
            return
        self._mine[agent] = mine


def register_home(app: AsyncApp, h: Handoff) -> HomePublisher:
    """Publish the App Home tab when an agent opens it, and when their conversations change."""
    home = HomePublisher(h)
    h.notifier.on_change = home.changed

    @app.event("app_home_opened")
    async def opened(event: dict[str, Any]) -> None:
        if event.get("tab", "home") != "home":
            return
        agent = str(event["user"])
        if not await h.access.may_decide(agent) and not h.access.is_admin(agent):
            return
        await home.publish(agent)

    return home
