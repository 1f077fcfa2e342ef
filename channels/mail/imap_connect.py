"""Connecting to the IMAP mailbox: TLS, STARTTLS or plain; password or XOAUTH2 login."""

from __future__ import annotations

import ssl
from collections.abc import Callable
from dataclasses import dataclass

from imapclient import IMAPClient

from channels.mail.tls import client_context
from config import Settings

ImapConnect = Callable[[], IMAPClient]
TokenProvider = Callable[[], str]


@dataclass(frozen=True, slots=True)
class ImapAccount:
    """Where and how to log in. ``oauth2_token`` (a callable, so tokens can be refreshed on
    every reconnect) selects XOAUTH2 instead of a password login."""

    host: str
    port: int
    user: str
    password: str | None = None
    use_ssl: bool = True
    starttls: bool = False
    oauth2_token: TokenProvider | None = None
    timeout: float = 60.0
    ssl_context: ssl.SSLContext | None = None

    @property
    def cursor_name(self) -> str:
        """``user@host``: names the cursor kept in the key-value store."""
        return f"{self.user}@{self.host}"

    @classmethod
    def from_settings(
        cls, settings: Settings, *, oauth2_token: TokenProvider | None = None
    ) -> ImapAccount:
        """The account of IMAP_* settings; STARTTLS applies when IMAP_SSL is off and the
        settings carry ``imap_starttls`` (on by default: plaintext logins are opt-out)."""
        if not settings.imap_host or not settings.imap_user:
            raise ValueError("IMAP_HOST and IMAP_USER are required to watch a mailbox")
        return cls(
            host=settings.imap_host,
            port=settings.imap_port,
            user=settings.imap_user,
            password=settings.imap_password.get_secret_value() if settings.imap_password else None,
            use_ssl=settings.imap_ssl,
            starttls=(
                (not settings.imap_ssl) if settings.imap_starttls is None
                else settings.imap_starttls
            ),
            oauth2_token=oauth2_token,
            timeout=settings.imap_timeout_seconds,
            ssl_context=client_context(ca_file=settings.imap_ca_file,
                                       cert_file=settings.imap_client_cert,
                                       key_file=settings.imap_client_key),
        )


def imap_connector(account: ImapAccount) -> ImapConnect:
    """A factory of connected, logged-in clients (blocking: call it in a worker thread)."""

    def connect() -> IMAPClient:
        context = account.ssl_context or ssl.create_default_context()
        client = IMAPClient(
            account.host,
            port=account.port,
            ssl=account.use_ssl,
            ssl_context=context if account.use_ssl else None,
            timeout=account.timeout,
        )
        try:
            if account.starttls and not account.use_ssl:
                client.starttls(context)
            if account.oauth2_token is not None:
                client.oauth2_login(account.user, account.oauth2_token())
            else:
                client.login(account.user, account.password or "")
        except BaseException:
            try:
                client.shutdown()
            except OSError:
                pass
            raise
        return client

    return connect
