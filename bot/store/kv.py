"""Runtime key-value settings and cursors stored in the ``Setting`` table.

Admins change some settings from Slack (auto-send threshold, paused channels); channels keep
small cursors here (IMAP UIDVALIDITY and last UID), so every process sees the same values.
"""

from __future__ import annotations

from typing import Any

from tortoise.exceptions import IntegrityError

from bot.store.models import Setting


async def get_value(key: str, default: Any = None) -> Any:
    """The stored value of ``key``, or ``default``."""
    row = await Setting.get_or_none(key=key)
    if row is None or not isinstance(row.value, dict):
        return default
    return row.value.get("value", default)


async def put_value(key: str, value: Any, *, updated_by: str | None = None) -> None:
    """Store ``value`` (JSON-serialisable) under ``key``, replacing any earlier value."""
    # Stored inside an envelope: Tortoise's JSONField takes a bare str for already-encoded
    # JSON, so a plain string value ("off") would not survive the round trip.
    envelope = {"value": value}
    updated = await Setting.filter(key=key).update(value=envelope, updated_by=updated_by)
    if not updated:
        try:
            await Setting.create(key=key, value=envelope, updated_by=updated_by)
        except IntegrityError:  # a concurrent first write: last writer wins, as with update
            await Setting.filter(key=key).update(value=envelope, updated_by=updated_by)


async def delete_value(key: str) -> None:
    """Forget ``key``."""
    await Setting.filter(key=key).delete()
