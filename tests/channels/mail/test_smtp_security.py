"""STARTTLS and AUTH on our SMTP server, configured from settings (real TLS on loopback)."""

from __future__ import annotations

import asyncio
import smtplib
import ssl
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import trustme

from channels.mail import smtp_security
from channels.mail.smtp_server import serve_smtp
from tests.channels.mail.conftest import DOMAIN, RecordingAccept, simple_mail
from tests.conftest import SettingsFactory


@pytest.fixture
def ca() -> trustme.CA:
    return trustme.CA()


@pytest.fixture
async def secured(ca: trustme.CA, tmp_path: Path, make_settings: SettingsFactory,
                  recording_accept: RecordingAccept) -> AsyncIterator[int]:
    cert = ca.issue_cert("localhost", "127.0.0.1")
    pem = tmp_path / "server.pem"
    cert.private_key_and_cert_chain_pem.write_to_path(str(pem))
    settings = make_settings(SUPPORTBOT_SMTP_LISTEN="127.0.0.1:0", SUPPORTBOT_MAIL_DOMAINS=DOMAIN,
                             SUPPORTBOT_SMTP_TLS_CERT=pem, SUPPORTBOT_SMTP_AUTH_USER="relay",
                             SUPPORTBOT_SMTP_AUTH_PASSWORD="s3cret")
    server = await serve_smtp(settings, accept=recording_accept,
                              tls_context=smtp_security.tls_context(settings),
                              authenticator=smtp_security.authenticator(settings),
                              keep_raw=None, customer_of=None)
    assert server is not None
    yield server.sockets[0].getsockname()[1]
    server.close()
    await server.wait_closed()


def _session(port: int, ca: trustme.CA, *, tls: bool, password: str | None) -> dict[str, object]:
    context = ssl.create_default_context()
    ca.configure_trust(context)
    with smtplib.SMTP("127.0.0.1", port, timeout=10) as client:
        client.ehlo()
        if tls:
            client.starttls(context=context)
            client.ehlo()
        if password is not None:
            client.login("relay", password)
        return client.sendmail("jane@example.com", [f"support@{DOMAIN}"],
                               simple_mail("<tls@example.com>"))


async def test_mail_over_starttls_with_auth_is_accepted(
    secured: int, ca: trustme.CA, recording_accept: RecordingAccept
) -> None:
    assert await asyncio.to_thread(_session, secured, ca, tls=True, password="s3cret") == {}
    assert [i.channel_message_id for i in recording_accept.calls] == ["<tls@example.com>"]


async def test_wrong_password_is_refused(
    secured: int, ca: trustme.CA, recording_accept: RecordingAccept
) -> None:
    with pytest.raises(smtplib.SMTPAuthenticationError):
        await asyncio.to_thread(_session, secured, ca, tls=True, password="guess")
    assert recording_accept.calls == []


async def test_missing_auth_or_tls_is_refused(
    secured: int, ca: trustme.CA, recording_accept: RecordingAccept
) -> None:
    with pytest.raises(smtplib.SMTPSenderRefused) as no_auth:
        await asyncio.to_thread(_session, secured, ca, tls=True, password=None)
    assert no_auth.value.smtp_code == 530
    # Credentials never cross in clear: AUTH is not even offered before STARTTLS.
    with pytest.raises(smtplib.SMTPNotSupportedError):
        await asyncio.to_thread(_session, secured, ca, tls=False, password="s3cret")
    assert recording_accept.calls == []
