"""STARTTLS and AUTH for our inbound SMTP server, from settings.

Both are optional: a server behind a relay on a private network may take plain mail. With a
certificate it offers STARTTLS (RFC 3207); with a user it requires AUTH (RFC 4954), and aiosmtpd
only accepts AUTH after STARTTLS so credentials never cross in clear.
"""

from __future__ import annotations

import hmac
import ssl
from typing import Any

from aiosmtpd.smtp import AuthResult, LoginPassword

from config import Settings


def tls_context(settings: Settings) -> ssl.SSLContext | None:
    """The server-side TLS context of SUPPORTBOT_SMTP_TLS_CERT / _KEY, or None."""
    if settings.smtp_listen_tls_cert is None:
        return None
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(str(settings.smtp_listen_tls_cert),
                            str(settings.smtp_listen_tls_key or settings.smtp_listen_tls_cert))
    return context


class PasswordAuthenticator:
    """Accepts exactly one user and password (PLAIN or LOGIN), compared in constant time."""

    def __init__(self, *, user: str, password: str) -> None:
        self._user = user.encode()
        self._password = password.encode()

    def __call__(self, server: Any, session: Any, envelope: Any, mechanism: str,
                 auth_data: Any) -> AuthResult:
        if mechanism not in ("LOGIN", "PLAIN") or not isinstance(auth_data, LoginPassword):
            return AuthResult(success=False, handled=False)
        ok = hmac.compare_digest(auth_data.login, self._user) & hmac.compare_digest(
            auth_data.password, self._password)
        # handled=False: aiosmtpd then answers 535 itself (handled=True would leave it silent).
        return AuthResult(success=bool(ok), handled=False)


def authenticator(settings: Settings) -> PasswordAuthenticator | None:
    """The authenticator of SUPPORTBOT_SMTP_AUTH_USER / _PASSWORD, or None (no AUTH)."""
    if not settings.smtp_listen_user or settings.smtp_listen_password is None:
        return None
    return PasswordAuthenticator(user=settings.smtp_listen_user,
                                 password=settings.smtp_listen_password.get_secret_value())
