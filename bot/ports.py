"""Ports the core calls out through; ``bot/app.py`` plugs in the real implementations."""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from typing import Protocol

log = logging.getLogger(__name__)


class ApprovalNotifier(Protocol):
    """Tells the humans' side (the Slack approval channel) what the core did.

    Every method takes ids, not objects: the implementation loads what it needs, so a card is
    always built from the stored state.
    """

    async def draft_ready(self, draft_id: int) -> None:
        """A draft needs a human: post its card (review card, or human-only card)."""

    async def customer_followup(self, message_id: int) -> None:
        """A customer wrote into a conversation that humans own: post it into its thread."""

    async def draft_superseded(self, draft_id: int) -> None:
        """A newer customer message replaced this pending draft: mark its card."""

    async def delivery_failed(self, outbox_item_id: int) -> None:
        """A reply was dead-lettered: show the error and a Retry button on the card."""

    async def delivered(self, outbox_item_id: int) -> None:
        """A reply reached the customer (update the card if there is one)."""

    async def delivery_retrying(self, outbox_item_id: int) -> None:
        """A reply's first attempt failed and it will be retried: the card says sending is
        failing (not "sending" while it is not getting through)."""

    async def auto_sent(self, draft_id: int) -> None:
        """A draft was sent automatically: show it in the open (a compact card with Correct
        and Stop auto-send for this topic)."""

    async def drafter_status(self, problem: str | None) -> None:
        """Drafting with the LLM started failing (``problem`` says why: cards now carry the
        offline draft) or works again (None). Called on the change only, never per message."""

    async def remind_stale(self, *, older_than: timedelta, now: datetime) -> int:
        """Nudge humans about drafts waiting longer than ``older_than``; how many."""

    async def post_missing_cards(self) -> int:
        """Post the cards of pending drafts that never reached the channel; how many."""


class NullNotifier:
    """Used when Slack is off: drafts wait in the database (see `supportbot stats`)."""

    async def draft_ready(self, draft_id: int) -> None:
        log.info("draft %s awaits review (no approval channel configured)", draft_id)

    async def customer_followup(self, message_id: int) -> None:
        return None

    async def draft_superseded(self, draft_id: int) -> None:
        return None

    async def delivery_failed(self, outbox_item_id: int) -> None:
        log.error("outbox item %s dead-lettered (no approval channel to show it)", outbox_item_id)

    async def delivered(self, outbox_item_id: int) -> None:
        return None

    async def delivery_retrying(self, outbox_item_id: int) -> None:
        return None

    async def auto_sent(self, draft_id: int) -> None:
        log.info("draft %s was sent automatically (no approval channel to show it)", draft_id)

    async def drafter_status(self, problem: str | None) -> None:
        if problem is None:
            log.warning("drafting with the LLM works again")
        else:
            log.error("drafting with the LLM fails (%s); drafts carry the offline extract "
                      "(no approval channel to tell)", problem)

    async def remind_stale(self, *, older_than: timedelta, now: datetime) -> int:
        return 0

    async def post_missing_cards(self) -> int:
        return 0
