"""A recording SMTP relay (aiosmtpd on a loopback port) that our ``SmtpSender`` talks to.

Failure scenarios are picked by recipient, like the fake Slack API picks them by token:
``tempfail…@`` answers 451 at RCPT, ``reject…@`` answers 550, ``datafail…@`` answers 452
after DATA; anything else is accepted and recorded.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from email import policy
from email.message import EmailMessage
from email.parser import BytesParser

from aiosmtpd.smtp import SMTP, Envelope, Session


@dataclass(frozen=True)
class RelayedMessage:
    """One message the relay accepted."""

    mail_from: str
    rcpt_tos: tuple[str, ...]
    raw: bytes

    @property
    def message(self) -> EmailMessage:
        parsed = BytesParser(policy=policy.default).parsebytes(self.raw)
        assert isinstance(parsed, EmailMessage)
        return parsed


class SmtpRelay:
    """Start with ``await relay.start()``; ``relay.messages`` lists what was accepted."""

    def __init__(self) -> None:
        self.host = "127.0.0.1"
        self.port = 0
        self.messages: list[RelayedMessage] = []
        self.attempts = 0
        # Senders the relay will not send as (MAIL FROM refused, as a relay without a
        # "send as" permission for that address answers).
        self.refused_senders: set[str] = set()
        self._server: asyncio.Server | None = None

    async def handle_MAIL(
        self, server: SMTP, session: Session, envelope: Envelope, address: str, options: list[str]
    ) -> str:
        if address.lower() in self.refused_senders:
            return "553 5.7.1 Sender address rejected: not owned by user"
        envelope.mail_from = address
        envelope.mail_options.extend(options)
        return "250 OK"

    async def handle_RCPT(
        self, server: SMTP, session: Session, envelope: Envelope, address: str, options: list[str]
    ) -> str:
        self.attempts += 1
        local = address.partition("@")[0].lower()
        if local.startswith("tempfail"):
            return "451 4.2.0 Mailbox temporarily unavailable"
        if local.startswith("reject"):
            return "550 5.1.1 No such user here"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        if any(r.lower().startswith("datafail") for r in envelope.rcpt_tos):
            return "452 4.3.1 Insufficient system storage"
        raw = envelope.original_content or b""
        self.messages.append(
            RelayedMessage(envelope.mail_from or "", tuple(envelope.rcpt_tos), raw)
        )
        return "250 2.0.0 Queued"

    async def start(self, port: int = 0) -> SmtpRelay:
        """Listen on ``port`` (0: a free one; a fixed one brings a "down" relay back)."""
        loop = asyncio.get_running_loop()
        self._server = await loop.create_server(
            lambda: SMTP(self, decode_data=False, enable_SMTPUTF8=True, loop=loop),
            self.host, port,
        )
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    async def close(self) -> None:
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
            self._server = None
