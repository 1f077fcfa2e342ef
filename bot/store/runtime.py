"""Settings admins change at run time from Slack: the auto-send threshold and paused channels.

The one place that knows their keys and how they are encoded; the router, the evaluation and
``/support`` all read and write them through these functions.
"""

from __future__ import annotations

from bot.store import kv

AUTO_SEND_KEY = "auto_send_threshold"
PAUSED_CHANNELS_KEY = "paused_channels"
STOPPED_TOPICS_KEY = "stopped_topics"
_UNSET = "unset"


async def auto_send_threshold(default: float | None) -> float | None:
    """The auto-send threshold in force: the admin's choice, else ``default`` (the setting).

    None means auto-send is off.
    """
    stored = await kv.get_value(AUTO_SEND_KEY, _UNSET)
    if stored == _UNSET:
        return default
    return None if stored in (None, "off") else float(stored)


async def admin_auto_send_threshold() -> float | str | None:
    """What an admin stored: a threshold, None for "off", or ``"unset"`` (the setting applies)."""
    stored = await kv.get_value(AUTO_SEND_KEY, _UNSET)
    if stored in (None, "off"):
        return None
    return _UNSET if stored == _UNSET else float(stored)


async def set_auto_send_threshold(value: float | None, *, updated_by: str | None) -> None:
    """Store the admin's threshold; None switches auto-send off."""
    await kv.put_value(AUTO_SEND_KEY, "off" if value is None else value, updated_by=updated_by)


async def paused_channels() -> frozenset[str]:
    """Channels on which auto-send is paused."""
    return frozenset(str(c) for c in (await kv.get_value(PAUSED_CHANNELS_KEY, []) or []))


async def set_paused_channels(channels: frozenset[str] | set[str], *,
                              updated_by: str | None) -> None:
    """Store the channels on which auto-send is paused."""
    await kv.put_value(PAUSED_CHANNELS_KEY, sorted(channels), updated_by=updated_by)


async def stopped_topics() -> frozenset[str]:
    """Topics for which an agent stopped auto-send (their drafts always wait for a human)."""
    return frozenset(str(t) for t in (await kv.get_value(STOPPED_TOPICS_KEY, []) or []))


async def stop_topic(topic: str, *, updated_by: str | None) -> bool:
    """Stop auto-send for ``topic``; False when it was stopped already."""
    stopped = await stopped_topics()
    if topic in stopped:
        return False
    await kv.put_value(STOPPED_TOPICS_KEY, sorted(stopped | {topic}), updated_by=updated_by)
    return True
