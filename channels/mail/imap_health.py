"""How the mailbox is doing, for readiness, metrics, ``supportbot doctor`` and the team.

The poller reports every success and failure here. A failure that needs a person (a refused
login, an untrusted certificate, a server that stopped answering, or any failure repeated
``alert_after`` times) is announced once through the injected ``alert`` callback (the app
wires it to the approval channel), and once more when the mailbox works again.
"""

from __future__ import annotations

import logging
import ssl
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from imapclient.exceptions import LoginError

from channels.mail.oauth2 import OAuth2Error

log = logging.getLogger(__name__)

Alert = Callable[[str], Awaitable[None]]


class MailboxStalled(TimeoutError):
    """The server kept the connection open but did not answer within the timeout."""


def failure_kind(exc: BaseException) -> str:
    """``auth``, ``tls``, ``stall`` or ``network``: what kind of failure this is."""
    text = str(exc).upper()
    if (isinstance(exc, LoginError | OAuth2Error) or "AUTHENTICATIONFAILED" in text
            or "LOGIN FAILED" in text):
        return "auth"
    if isinstance(exc, ssl.SSLError):
        return "tls"
    if isinstance(exc, TimeoutError):  # socket.timeout is TimeoutError since 3.10
        return "stall"
    return "network"


_NEEDS_A_PERSON = {"auth", "tls", "stall"}


@dataclass
class MailboxHealth:
    """Mutable health of one watched folder; ``snapshot()`` is what callers read."""

    mailbox: str
    alert: Alert | None = None
    alert_after: int = 3
    clock: Callable[[], float] = time.monotonic
    now: Callable[[], datetime] = field(default=lambda: datetime.now(UTC))
    connected: bool = False
    last_ok: float | None = None
    last_ok_at: datetime | None = None
    errors_total: int = 0
    consecutive_failures: int = 0
    last_error: str | None = None
    last_error_kind: str | None = None
    alerting: bool = False
    alerts_sent: int = 0

    async def succeeded(self) -> None:
        """A poll or an IDLE round trip worked: the mailbox is fine (tell people if it was not)."""
        was_alerting = self.alerting
        self.connected = True
        self.last_ok = self.clock()
        self.last_ok_at = self.now()
        self.consecutive_failures = 0
        self.alerting = False
        if was_alerting:
            log.warning("IMAP %s works again", self.mailbox)
            await self._send(f":white_check_mark: Mailbox {self.mailbox} works again; "
                             "mail is being fetched.")

    async def failed(self, exc: BaseException) -> None:
        """Record a failure; announce it once when it needs a person."""
        kind = failure_kind(exc)
        self.connected = False
        self.errors_total += 1
        self.consecutive_failures += 1
        self.last_error = f"{type(exc).__name__}: {exc}"[:500]
        self.last_error_kind = kind
        if self.alerting:
            return
        if kind in _NEEDS_A_PERSON or self.consecutive_failures >= self.alert_after:
            self.alerting = True
            why = {
                "auth": "the login was refused (check IMAP_USER / IMAP_PASSWORD or the token)",
                "tls": "the TLS handshake failed (certificate not trusted? see IMAP_CA_FILE)",
                "stall": "the server stopped answering (connection open, no reply)",
                "network": f"{self.consecutive_failures} attempts in a row failed",
            }[kind]
            log.error("IMAP %s: %s: %s", self.mailbox, why, self.last_error)
            await self._send(f":warning: Mailbox {self.mailbox}: {why}. No new mail is fetched "
                             f"until this is fixed; retrying. Last error: {self.last_error}")

    async def _send(self, text: str) -> None:
        if self.alert is None:
            return
        try:
            await self.alert(text)
            self.alerts_sent += 1
        except Exception:  # the alert path failing must not stop the poller
            log.exception("could not announce the state of mailbox %s", self.mailbox)

    def age_seconds(self) -> float | None:
        """Seconds since the last successful poll or IDLE round trip (None: never)."""
        return None if self.last_ok is None else max(0.0, self.clock() - self.last_ok)

    def ready(self, max_age_seconds: float) -> bool:
        """True while connected and heard from within ``max_age_seconds``."""
        age = self.age_seconds()
        return self.connected and age is not None and age <= max_age_seconds

    def snapshot(self) -> dict[str, Any]:
        """JSON-ready state for ``/readyz``, metrics and ``supportbot doctor``."""
        age = self.age_seconds()
        return {
            "mailbox": self.mailbox,
            "connected": self.connected,
            "last_ok_at": self.last_ok_at.isoformat() if self.last_ok_at else None,
            "last_ok_age_seconds": None if age is None else round(age, 3),
            "errors_total": self.errors_total,
            "consecutive_failures": self.consecutive_failures,
            "last_error": self.last_error,
            "last_error_kind": self.last_error_kind,
            "alerting": self.alerting,
        }
