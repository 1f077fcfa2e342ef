"""Named database leases: with several workers, only the holder runs a scheduled job."""

from __future__ import annotations

from datetime import datetime, timedelta

from tortoise.exceptions import IntegrityError
from tortoise.expressions import Q

from bot.store.models import Lease


async def acquire(name: str, owner: str, *, ttl: timedelta, now: datetime) -> bool:
    """Take (or renew) the lease ``name`` until ``now + ttl``; False if another owner holds it."""
    until = now + ttl
    taken = await Lease.filter(
        Q(until__isnull=True) | Q(until__lte=now) | Q(owner=owner), name=name
    ).update(owner=owner, until=until)
    if taken:
        return True
    try:
        await Lease.create(name=name, owner=owner, until=until)
    except IntegrityError:
        return False  # it exists and someone else holds it
    return True


async def release(name: str, owner: str) -> None:
    """Give the lease back early (only if still ours)."""
    await Lease.filter(name=name, owner=owner).update(until=None)
