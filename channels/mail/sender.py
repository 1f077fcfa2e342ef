"""``SmtpSender``: replies from the outbox go out over SMTP (plain, STARTTLS or SSL; AUTH).

Failures are classified for the outbox: 4xx and network errors are temporary (retried with
backoff), 5xx answers about this message are permanent (dead-lettered and shown on the card).
"""

from __future__ import annotations

import asyncio
import logging
import smtplib
import ssl
from collections.abc import Callable
from datetime import UTC, datetime

from bot.domain import Reply, SendError, SendResult
from channels.mail.archive import SentArchive
from channels.mail.compose import (
    ComposeError,
    build_reply,
    cc_participants,
    parent_id,
    recipient,
    references_chain,
)
from channels.mail.headers import split_address
from channels.mail.imap_connect import ImapAccount, imap_connector
from channels.mail.inbound import MailOptions
from channels.mail.oauth2 import OAuth2Error, RefreshingToken, xoauth2
from channels.mail.tls import client_context
from config import Settings

log = logging.getLogger(__name__)

SmtpConnect = Callable[[], smtplib.SMTP]


def smtp_connector(
    *,
    host: str,
    port: int,
    username: str | None = None,
    password: str | None = None,
    starttls: bool = True,
    use_ssl: bool = False,
    timeout: float = 30.0,
    ssl_context: ssl.SSLContext | None = None,
    oauth2_token: Callable[[], str] | None = None,
) -> SmtpConnect:
    """A factory of connected, authenticated SMTP clients (called in a worker thread);
    ``oauth2_token`` logs ``username`` in with XOAUTH2 instead of a password."""

    def connect() -> smtplib.SMTP:
        context = ssl_context or ssl.create_default_context()
        client: smtplib.SMTP
        if use_ssl:
            client = smtplib.SMTP_SSL(host, port, timeout=timeout, context=context)
        else:
            client = smtplib.SMTP(host, port, timeout=timeout)
        try:
            if starttls and not use_ssl:
                client.ehlo()
                client.starttls(context=context)
                client.ehlo()  # RFC 3207 4.2: capabilities must be fetched again after TLS
            if username and oauth2_token is not None:
                client.ehlo_or_helo_if_needed()
                token = oauth2_token()
                client.auth("XOAUTH2", lambda challenge=None: xoauth2(username, token))
            elif username:
                client.login(username, password or "")
        except BaseException:
            client.close()
            raise
        return client

    return connect


def classify(exc: BaseException) -> SendError:
    """Map an smtplib/network failure to a ``SendError`` with the right ``permanent`` flag."""
    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        codes = [code for code, _ in exc.recipients.values()]
        permanent = bool(codes) and all(code >= 500 for code in codes)
        detail = "; ".join(f"{code} {msg!r}" for code, msg in exc.recipients.values())
        return SendError(f"recipient refused: {detail}", permanent=permanent)
    if isinstance(exc, smtplib.SMTPAuthenticationError | smtplib.SMTPConnectError):
        # Our configuration or the relay's state, not this message: retry, visible on the card.
        return SendError(f"SMTP relay refused us: {exc}", permanent=False)
    if isinstance(exc, smtplib.SMTPResponseException):
        code = exc.smtp_code
        text = (
            exc.smtp_error.decode("utf-8", "replace")
            if isinstance(exc.smtp_error, bytes)
            else str(exc.smtp_error)
        )
        return SendError(f"SMTP {code}: {text}", permanent=500 <= code < 600)
    return SendError(f"SMTP delivery failed: {type(exc).__name__}: {exc}", permanent=False)


class SmtpSender:
    """Implements the ``Sender`` protocol for email."""

    def __init__(
        self,
        *,
        connect: SmtpConnect,
        support_address: str,
        sender_name: str | None = None,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        cc_participants: bool = False,
        own_addresses: frozenset[str] = frozenset(),
        our_domains: frozenset[str] = frozenset(),
        archive: SentArchive | None = None,
        support_addresses: tuple[str, ...] = (),
        plus_addressing: bool = True,
    ) -> None:
        self._connect = connect
        self._plus_addressing = plus_addressing
        self._archive = archive
        self._cc = cc_participants
        # Every address a reply may come From: the main one and the further ones; which one
        # a reply uses is read from the answered mail, but only ever one of these.
        self._from = {a.lower(): a for a in (support_address, *support_addresses)}
        self._own = {a.lower() for a in own_addresses} | set(self._from)
        self._support_locals = {split_address(a)[0].split("+", 1)[0].lower()
                                for a in self._from}
        self._domains = {d.lower() for d in our_domains} | {
            split_address(a)[1] for a in self._from}
        self._support_address = support_address
        self._sender_name = sender_name
        self._clock = clock

    @classmethod
    def from_settings(cls, settings: Settings, *,
                      oauth2_token: Callable[[], str] | None = None) -> SmtpSender:
        """The sender for SMTP_* settings; needs SMTP_HOST and SUPPORTBOT_SUPPORT_ADDRESS."""
        if not settings.smtp_host or not settings.support_address:
            raise ValueError("SMTP_HOST and SUPPORTBOT_SUPPORT_ADDRESS are required to send mail")
        connect = smtp_connector(
            host=settings.smtp_host,
            port=settings.smtp_port,
            username=settings.smtp_user,
            password=settings.smtp_password.get_secret_value() if settings.smtp_password else None,
            starttls=settings.smtp_starttls,
            use_ssl=settings.smtp_ssl,
            ssl_context=client_context(ca_file=settings.smtp_ca_file,
                                       cert_file=settings.smtp_client_cert,
                                       key_file=settings.smtp_client_key),
            oauth2_token=oauth2_token or RefreshingToken.from_settings(settings),
        )
        options = MailOptions.from_settings(settings)
        archive = None
        if settings.imap_sent_folder and settings.imap_enabled:
            archive = SentArchive(connect=imap_connector(ImapAccount.from_settings(settings)),
                                  sent_folder=settings.imap_sent_folder,
                                  inbox_folder=settings.imap_folder)
        return cls(
            connect=connect,
            support_address=settings.support_address,
            sender_name=settings.brand_name,
            cc_participants=settings.mail_cc_participants,
            own_addresses=options.own_addresses,
            our_domains=options.our_domains,
            archive=archive,
            support_addresses=options.support_addresses,
            plus_addressing=settings.mail_plus_addressing,
        )

    def _ours(self, address: str) -> bool:
        """Our own address: the support address or any plus-address of it in our domains, or
        a configured own address. Colleagues in our domain stay on CC."""
        local, domain = split_address(address)
        base = local.split("+", 1)[0].lower()
        return address.lower() in self._own or (base in self._support_locals
                                                and domain in self._domains)

    def from_address(self, reply: Reply) -> str:
        """The address the customer wrote to (``billing@…``), when it is one of ours; else
        the main support address."""
        wrote_to = reply.thread_metadata.get("support_address")
        if isinstance(wrote_to, str):
            return self._from.get(wrote_to.lower(), self._support_address)
        return self._support_address

    async def send(self, reply: Reply) -> SendResult:
        """Send one reply; ``SendError`` is ``permanent`` for 5xx and unaddressable replies."""
        try:
            to = recipient(reply)
            cc = cc_participants(reply, to=to, ours=self._ours) if self._cc else []
            sender = self.from_address(reply)
            msg = build_reply(
                reply,
                support_address=sender,
                sender_name=self._sender_name,
                now=self._clock(),
                cc=cc,
                plus_addressing=self._plus_addressing,
            )
        except ComposeError as exc:
            raise SendError(str(exc), permanent=True) from exc
        to = msg["To"].addresses[0].addr_spec
        await asyncio.to_thread(self._deliver, msg, sender, [to, *cc])
        message_id = str(msg["Message-ID"])
        if self._archive is not None:
            try:
                await self._archive.record(msg.as_bytes(),
                                           parent_id(reply.thread_metadata, reply.in_reply_to))
            except Exception as exc:  # delivered is delivered: the copy is a courtesy
                log.warning("reply %s sent, but the Sent copy / \\Answered flag failed: %s",
                            message_id, exc)
        return SendResult(
            channel_message_id=message_id,
            metadata={
                "message_id": message_id,
                "references": references_chain(reply.thread_metadata, reply.related_message_ids),
                "subject": str(msg["Subject"]),
                "to": [to],
                "cc": cc,
            },
        )

    def _deliver(self, msg: object, sender: str, to: list[str]) -> None:
        try:
            client = self._connect()
        except OAuth2Error as exc:  # our configuration: retried, visible on the card
            raise SendError(str(exc), permanent=False) from exc
        except (smtplib.SMTPException, OSError) as exc:
            raise classify(exc) from exc
        try:
            client.send_message(msg, from_addr=sender, to_addrs=to)  # type: ignore[arg-type]
        except (smtplib.SMTPException, OSError) as exc:
            raise classify(exc) from exc
        finally:
            try:
                client.quit()
            except (smtplib.SMTPException, OSError):
                client.close()
