"""Where a mailbox seen for the first time starts, so a first start never answers old mail.

``new`` (the default) starts after the highest UID present: only mail arriving from now on is
ingested. ``unseen`` also takes the unread mail of the last ``days`` days (a backlog nobody
read yet). ``all`` takes everything, read or not: only when an operator asks for it, because
with auto-send on it would answer every past customer again.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any, Literal

from config import Settings

StartMode = Literal["new", "unseen", "all"]


@dataclass(frozen=True, slots=True)
class StartPolicy:
    """The first-start rule of one mailbox (IMAP_START, IMAP_START_DAYS)."""

    mode: StartMode = "new"
    days: int = 7

    @classmethod
    def from_settings(cls, settings: Settings) -> StartPolicy:
        modes: dict[str, StartMode] = {"new": "new", "unseen": "unseen", "all": "all"}
        return cls(mode=modes[settings.imap_start], days=settings.imap_start_days)

    def backlog_criteria(self, today: date) -> list[Any] | None:
        """IMAP SEARCH criteria (RFC 3501 6.4.4) of the mail already there that is taken;
        ``None`` when none is (``new``)."""
        if self.mode == "new":
            return None
        if self.mode == "all":
            return ["ALL"]
        # SINCE compares the internal date (arrival), at day granularity.
        return ["UNSEEN", "SINCE", today - timedelta(days=self.days)]

    def describe(self) -> str:
        """A phrase for logs and ``supportbot doctor``."""
        return {
            "new": "only mail arriving from now on",
            "unseen": f"unseen mail of the last {self.days} days, then new mail",
            "all": "every message in the folder, read or not",
        }[self.mode]


def rescan_criteria() -> list[Any]:
    """What a UIDVALIDITY rescan takes (RFC 3501 2.3.1.1: old UIDs mean nothing now): every
    unseen message whatever its date, never read mail; Message-ID dedupe in ``accept`` drops
    what was stored before."""
    return ["UNSEEN"]
