"""Our inbound SMTP server (aiosmtpd): mail for our domains becomes an ``Inbound``.

The SMTP reply code is the durability contract with the sending MTA: 250 only once ``accept``
has stored the message, 4xx when we failed (the sender keeps the mail and retries), 5xx only
for mail no retry can fix. We never relay: recipients outside our domains are refused.
"""

from __future__ import annotations

import asyncio
import logging
import ssl
from collections.abc import Callable, Iterable
from datetime import UTC, datetime
from typing import Any

from aiosmtpd.smtp import SMTP, AuthenticatorType, Envelope, Session

from bot.domain import AcceptError, AcceptFn
from bot.store import mail as mail_store
from channels.mail.headers import split_address
from channels.mail.inbound import (
    CustomerOf,
    MailOptions,
    OnBounce,
    email_customer_of,
    keep_raw_copy,
    mark_participant,
    prepare_mail,
    report_bounce,
)
from channels.mail.parse import MailRejected, OwnMail
from channels.mail.raw import KeepRaw
from channels.mail.smtp_protocol import EnhancedSMTP
from config import Settings

log = logging.getLogger(__name__)
MAX_RECIPIENTS = 100


def _redact(address: str) -> str:
    """``jane.doe@example.com`` → ``j***@example.com``: addresses are personal data in logs."""
    local, domain = split_address(address)
    return f"{local[:1]}***@{domain}" if domain else "***"


class InboundSmtpHandler:
    """aiosmtpd handler: checks recipients, parses, hands the message to ``accept``."""

    def __init__(
        self,
        *,
        accept: AcceptFn,
        domains: Iterable[str],
        options: MailOptions,
        keep_raw: KeepRaw | None = None,
        on_bounce: OnBounce | None = None,
        customer_of: CustomerOf | None = None,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self._accept = accept
        self._keep_raw = keep_raw
        self._on_bounce = on_bounce
        self._customer_of = customer_of
        self._domains = frozenset(d.lower().rstrip(".") for d in domains)
        self._options = options
        self._clock = clock

    async def handle_EHLO(self, server: SMTP, session: Session, envelope: Envelope,
                          hostname: str, responses: list[str]) -> list[str]:
        """Offer PIPELINING (RFC 2920): aiosmtpd reads commands one line at a time from the
        stream, so a client may send MAIL, RCPT and DATA without waiting for each answer."""
        session.host_name = hostname
        return [*responses[:-1], "250-PIPELINING", responses[-1]]

    async def handle_MAIL(self, server: SMTP, session: Session, envelope: Envelope,
                          address: str, mail_options: list[str]) -> str:
        """Take the sender as aiosmtpd would, answering with RFC 3463's "other address
        status" for a sender (2.1.0) rather than a bare OK."""
        envelope.mail_from = address
        envelope.mail_options.extend(mail_options)
        return "250 2.1.0 Sender OK"

    async def handle_RCPT(
        self,
        server: SMTP,
        session: Session,
        envelope: Envelope,
        address: str,
        rcpt_options: list[str],
    ) -> str:
        """Refuse recipients outside our domains early (RFC 3463 5.1.1: bad destination);
        ``postmaster`` is always accepted (RFC 5321 4.5.1), with or without a domain."""
        _, domain = split_address(address)
        if address.strip("<>").lower() == "postmaster":
            domain = next(iter(sorted(self._domains)), "")
        if domain not in self._domains:
            return f"550 5.1.1 <{address}>: recipient not handled here (no relaying)"
        if len(envelope.rcpt_tos) >= MAX_RECIPIENTS:
            return "452 4.5.3 Too many recipients"  # RFC 5321 4.5.3.1.10
        envelope.rcpt_tos.append(address)
        envelope.rcpt_options.extend(rcpt_options)
        return "250 2.1.5 OK"

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        """Parse in a worker thread (large MIME is CPU work), accept, then answer."""
        raw = envelope.original_content or envelope.content or b""
        if isinstance(raw, str):
            raw = raw.encode("utf-8", "surrogateescape")
        try:
            prepared = await asyncio.to_thread(
                prepare_mail,
                raw,
                options=self._options,
                received_at=self._clock(),
                source="smtp",
                envelope_recipients=list(envelope.rcpt_tos),
            )
        except OwnMail:
            # Accept and drop: a 5xx would make the relay bounce our own reply back to us.
            log.info("discarded our own mail arriving over SMTP")
            return "250 2.0.0 Discarded: our own outgoing mail"
        except MailRejected as exc:
            log.info("rejected mail from %s: %s", _redact(envelope.mail_from or ""), exc.reason)
            return f"550 5.6.0 Message rejected: {exc.reason}"
        except Exception:
            log.exception("could not parse mail from %s", _redact(envelope.mail_from or ""))
            return "451 4.3.0 Temporary failure while reading the message, please retry"
        inbound = prepared.inbound
        try:
            await keep_raw_copy(self._keep_raw, prepared.raw)
            if await report_bounce(self._on_bounce, prepared.bounce):
                return "250 2.0.0 Delivery report recorded against our reply"
            inbound = await mark_participant(inbound, self._customer_of)
            accepted = await self._accept(inbound)
        except AcceptError as exc:
            log.warning("accept failed for %s: %s", inbound.channel_message_id, exc)
            return "451 4.3.0 Temporary failure storing the message, please retry"
        except Exception:
            log.exception("accept crashed for %s", inbound.channel_message_id)
            return "451 4.3.0 Temporary failure storing the message, please retry"
        state = "duplicate" if accepted.duplicate else "queued"
        return f"250 2.0.0 Message accepted ({state} as conversation {accepted.conversation_id})"


async def start_smtp_server(
    handler: InboundSmtpHandler,
    *,
    host: str,
    port: int,
    data_size_limit: int,
    hostname: str | None = None,
    tls_context: ssl.SSLContext | None = None,
    authenticator: AuthenticatorType | None = None,
) -> asyncio.Server:
    """Listen on ``host:port`` (0 picks a free port: read it from ``server.sockets``); every
    reply carries an RFC 3463 enhanced status code (``smtp_protocol.EnhancedSMTP``).

    ``tls_context`` offers STARTTLS; ``authenticator`` requires AUTH (only over TLS). The
    caller owns the server: ``server.close(); await server.wait_closed()`` stops it.
    """
    loop = asyncio.get_running_loop()
    kwargs: dict[str, Any] = {
        "data_size_limit": data_size_limit,  # aiosmtpd answers 552 above it (RFC 1870)
        "enable_SMTPUTF8": True,
        "decode_data": False,
        "hostname": hostname,
        "ident": "supportbot",
        "loop": loop,
    }
    if tls_context is not None:
        kwargs["tls_context"] = tls_context
    if authenticator is not None:
        kwargs.update(authenticator=authenticator, auth_required=True, auth_require_tls=True)
    return await loop.create_server(lambda: EnhancedSMTP(handler, **kwargs), host=host,
                                   port=port)


async def serve_smtp(
    settings: Settings,
    *,
    accept: AcceptFn,
    tls_context: ssl.SSLContext | None = None,
    authenticator: AuthenticatorType | None = None,
    keep_raw: KeepRaw | None = mail_store.keep_raw_mail,
    on_bounce: OnBounce | None = None,
    customer_of: CustomerOf | None = email_customer_of,
) -> asyncio.Server | None:
    """Start the inbound SMTP server from settings; ``None`` without SUPPORTBOT_SMTP_LISTEN.

    ``keep_raw`` stores the original of each accepted mail (the database by default);
    ``on_bounce`` records bounces of our replies (``inbound.bounce_recorder``);
    ``customer_of`` finds the customer of the conversation a mail joins (the database)."""
    address = settings.smtp_listen_address
    if address is None:
        return None
    if not settings.mail_domains:
        raise ValueError("SUPPORTBOT_MAIL_DOMAINS is required when SUPPORTBOT_SMTP_LISTEN is set")
    handler = InboundSmtpHandler(
        accept=accept, domains=settings.mail_domains, options=MailOptions.from_settings(settings),
        keep_raw=keep_raw, on_bounce=on_bounce,
        customer_of=customer_of,
    )
    host, port = address
    server = await start_smtp_server(
        handler,
        host=host,
        port=port,
        data_size_limit=settings.mail_max_bytes,
        tls_context=tls_context,
        authenticator=authenticator,
    )
    log.info("SMTP server listening on %s:%s for %s", host, port, ", ".join(settings.mail_domains))
    return server
