"""The sender-authentication verdict (SPF, DKIM, DMARC) a trusted receiving host recorded in
``Authentication-Results`` (RFC 8601).

Anyone can write that header, so only a header whose authserv-id is one of ours
(SUPPORTBOT_MAIL_AUTHSERV_IDS, e.g. ``mx.google.com`` for Google Workspace) counts; receiving
hosts add theirs on top, so the first trusted one is the one that judged this delivery.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

_RESULT = re.compile(r"\b(spf|dkim|dmarc)\s*=\s*([a-z]+)", re.IGNORECASE)


@dataclass(frozen=True, slots=True)
class AuthVerdict:
    """What ``authserv_id`` found: each method's result (None: not evaluated)."""

    authserv_id: str
    spf: str | None = None
    dkim: str | None = None
    dmarc: str | None = None

    @property
    def passed(self) -> bool:
        """DMARC passed; without a DMARC result, a DKIM pass."""
        return self.dmarc == "pass" if self.dmarc is not None else self.dkim == "pass"

    def summary(self) -> str:
        parts = [f"{name}={value}" for name, value in
                 (("dmarc", self.dmarc), ("dkim", self.dkim), ("spf", self.spf)) if value]
        return f"{', '.join(parts) or 'no results'} (by {self.authserv_id})"

    def describe(self) -> dict[str, Any]:
        return {"authserv_id": self.authserv_id, "spf": self.spf, "dkim": self.dkim,
                "dmarc": self.dmarc, "passed": self.passed}


def read_verdict(values: Sequence[str], trusted: Iterable[str]) -> AuthVerdict | None:
    """The verdict of the first ``Authentication-Results`` header from a trusted host."""
    ours = {t.lower() for t in trusted}
    for value in values:
        head, _, rest = " ".join(value.split()).partition(";")
        words = head.split()
        authserv = words[0].lower() if words else ""
        if not authserv or authserv not in ours:
            continue
        found: dict[str, str] = {}
        for method, result in _RESULT.findall(rest):
            method, result = method.lower(), result.lower()
            # Several DKIM signatures: one pass is enough.
            if method not in found or (method == "dkim" and result == "pass"):
                found[method] = result
        return AuthVerdict(authserv, found.get("spf"), found.get("dkim"), found.get("dmarc"))
    return None


def review_reason(verdict: AuthVerdict | None, trusted: Iterable[str]) -> str | None:
    """Why this mail must not be answered automatically, when authentication is checked."""
    if not list(trusted):
        return None
    if verdict is None:
        return "the sender is not authenticated: no Authentication-Results from our mail host"
    if not verdict.passed:
        return f"the sender is not authenticated: {verdict.summary()}"
    return None
