"""Slack message events → the core's ``Inbound``: pure translation, plus the seen-event set.

Which events are a customer writing (``ignore_reason``), how mrkdwn becomes plain text
(``clean_text``), and which thread a message joins (``thread_key``). No I/O here.
"""

from __future__ import annotations

import re
from collections import OrderedDict
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from bot.domain import Channel, Inbound, Sender
from config import Settings

#: Message subtypes that are still a person writing (everything else is an edit, deletion,
#: join, topic change, bot post, …). ``thread_broadcast`` is a thread reply also sent to the
#: channel; ``file_share`` is a message with an attachment.
CUSTOMER_SUBTYPES = frozenset({None, "thread_broadcast", "file_share"})
_MENTION = re.compile(r"<@([UW][A-Z0-9]+)(?:\|[^>]*)?>")
_LINK = re.compile(r"<((?:https?|mailto):[^|>]+)(?:\|([^>]+))?>")
_SPECIAL = re.compile(r"<!(?:subteam\^[A-Z0-9]+\|)?([^>|]+)(?:\|[^>]*)?>")


def clean_text(text: str, *, bot_user_id: str | None = None) -> str:
    """Slack mrkdwn → plain text: drop the bot's own mention, unwrap links and mentions,
    unescape the three entities Slack escapes (``&amp; &lt; &gt;``, in that order last)."""
    if bot_user_id:
        text = re.sub(rf"<@{re.escape(bot_user_id)}(?:\|[^>]*)?>\s*", "", text)
    text = _LINK.sub(lambda m: f"{m.group(2)} ({m.group(1)})" if m.group(2) else m.group(1), text)
    text = _MENTION.sub(lambda m: f"@{m.group(1)}", text)
    # A group's label already carries its "@" (``<!subteam^S1|@agents>``): never "@@agents".
    text = _SPECIAL.sub(lambda m: f"@{m.group(1).lstrip('@')}", text)
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
