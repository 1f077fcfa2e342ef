"""In-process wake-ups: an edge that accepted a message, or a decision that queued a reply,
wakes this process's worker loops now instead of at their next database poll."""

from __future__ import annotations

import asyncio


class WakeUp:
    """Two events, one per worker loop. Built first and handed to the worker, the accept path
    and ``deliver``, so none of them needs the others to exist."""

    def __init__(self) -> None:
        self.inbox = asyncio.Event()
        self.outbox = asyncio.Event()

    def kick(self) -> None:
        """Something was accepted or queued: both loops look now."""
        self.inbox.set()
        self.outbox.set()

    def reply_queued(self) -> None:
        """A reply was queued: the outbox loop looks now."""
        self.outbox.set()
