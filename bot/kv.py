"""Runtime key-value settings and cursors stored in the ``Setting`` table.

Admins change some settings from Slack (auto-send threshold, paused channels); channels keep
small cursors here (IMAP UIDVALIDITY and last UID), so every process sees the same values.
"""

from __future__ import annotations

from typing import Any

from bot.models import Setting


async def get_value(key: str, default: Any = None) -> Any:
    """The stored value of ``key``, or ``default``."""
    row = await Setting.get_or_none(key=key)
    return default if row is None else row.value


async def put_value(key: str, value: Any, *, updated_by: str | None = None) -> None:
    """Store ``value`` (JSON-serialisable) under ``key``, replacing any earlier value."""
    updated = await Setting.filter(key=key).update(value=value, updated_by=updated_by)
    if not updated:
        await Setting.create(key=key, value=value, updated_by=updated_by)


async def delete_value(key: str) -> None:
    """Forget ``key``."""
    await Setting.filter(key=key).delete()
