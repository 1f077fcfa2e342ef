"""The App Home tab: *Mine*, *Waiting on us* and *Recently auto-sent*, published with
``views.publish`` when an agent opens it."""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Any

from slack_bolt.async_app import AsyncApp
from slack_sdk.models.blocks import (
    Block,
    ContextBlock,
    DividerBlock,
    HeaderBlock,
    MarkdownTextObject,
    SectionBlock,
)

from bot.store import attention
from bot.store import drafts as draft_store
from handoff.actions import Handoff
from handoff.cards import as_dicts
from handoff.text import SECTION_TEXT, fit, slack_date, user

log = logging.getLogger(__name__)
_SHOWN = 15


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


async def home_blocks(agent: str, now: datetime) -> list[Block]:
    """The tab's blocks for ``agent`` at ``now``."""
    waiting = await attention.waiting_on_us(limit=50)
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


def register_home(app: AsyncApp, h: Handoff) -> None:
    """Publish the App Home tab when an agent opens it."""

    @app.event("app_home_opened")
    async def opened(event: dict[str, Any]) -> None:
        if event.get("tab", "home") != "home":
            return
        agent = str(event["user"])
        if not await h.access.may_decide(agent) and not h.access.is_admin(agent):
            return
        blocks = await home_blocks(agent, h.clock())
        await h.client.views_publish(user_id=agent, view={"type": "home",
                                                          "blocks": as_dicts(blocks)})
