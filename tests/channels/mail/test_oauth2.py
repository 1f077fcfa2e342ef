"""OAuth2 (XOAUTH2) for IMAP and SMTP, against a fake token endpoint on loopback."""

from __future__ import annotations

import asyncio
from base64 import b64decode
from collections.abc import AsyncIterator, Callable, Iterator
from typing import Any

import httpx
import pytest
from aiosmtpd.smtp import SMTP, AuthResult, Envelope, Session

from bot.domain import Channel, Reply, Sender, SendError
from channels.mail.imap import ImapPoller
from channels.mail.imap_connect import ImapAccount, imap_connector
from channels.mail.imap_health import failure_kind
from channels.mail.oauth2 import OAuth2Error, RefreshingToken, xoauth2
from channels.mail.sender import SmtpSender, smtp_connector
from tests.channels.mail.conftest import DOMAIN, wait_until
from tests.conftest import SettingsFactory
from tests.fakes.imap_server import FakeImapServer
from tests.fakes.oauth2_server import FakeTokenEndpoint


@pytest.fixture
def token_endpoint() -> Iterator[FakeTokenEndpoint]:
    with FakeTokenEndpoint() as endpoint:
        yield endpoint


def provider(endpoint: FakeTokenEndpoint, refresh: str = "refresh-ok",
             clock: Callable[[], float] | None = None) -> RefreshingToken:
    kwargs: dict[str, Any] = {"clock": clock} if clock else {}
    return RefreshingToken(token_url=endpoint.url, client_id="client-1", refresh_token=refresh,
                           client_secret="s3cret", http=httpx.Client(), **kwargs)


def test_tokens_are_refreshed_before_they_expire_and_cached_until_then(
    token_endpoint: FakeTokenEndpoint,
) -> None:
    now = [0.0]
    token = provider(token_endpoint, clock=lambda: now[0])
    assert token() == "access-1"
    now[0] = 3000.0
    assert token() == "access-1"  # cached: valid for another 600 s
    now[0] = 3550.0  # within the 60 s margin
    assert token() == "access-2"
    assert token_endpoint.requests[0] == {"grant_type": "refresh_token",
                                          "refresh_token": "refresh-ok",
                                          "client_id": "client-1", "client_secret": "s3cret"}


def test_a_refused_refresh_token_is_an_auth_failure(token_endpoint: FakeTokenEndpoint) -> None:
    with pytest.raises(OAuth2Error, match="invalid_grant") as refused:
        provider(token_endpoint, refresh="revoked")()
    assert failure_kind(refused.value) == "auth"


class XOAuth2Relay:
    """An aiosmtpd handler that takes mail only after an XOAUTH2 login with a valid token."""

    def __init__(self, valid: Callable[[str], bool]) -> None:
        self.valid = valid
        self.logins: list[str] = []
        self.messages: list[bytes] = []

    async def auth_XOAUTH2(self, server: SMTP, args: list[str]) -> AuthResult:
        raw = b64decode(args[1]).decode() if len(args) > 1 else ""
        fields = dict(p.split("=", 1) for p in raw.split("\x01") if "=" in p)
        token = fields.get("auth", "").removeprefix("Bearer ")
        self.logins.append(fields.get("user", ""))
        return AuthResult(success=self.valid(token), handled=False)

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        if not session.authenticated:
            return "530 5.7.0 Authentication required"
        self.messages.append(envelope.original_content or b"")
        return "250 OK"


@pytest.fixture
async def xoauth_relay(
    token_endpoint: FakeTokenEndpoint,
) -> AsyncIterator[tuple[XOAuth2Relay, int]]:
    relay = XOAuth2Relay(lambda token: token in token_endpoint.issued)
    loop = asyncio.get_running_loop()
    server = await loop.create_server(
        lambda: SMTP(relay, auth_require_tls=False, loop=loop), "127.0.0.1", 0)
    yield relay, server.sockets[0].getsockname()[1]
    server.close()
    await server.wait_closed()


def reply() -> Reply:
    return Reply(reply_id="r-1", channel=Channel.EMAIL, conversation_id=1, thread_key="<t@x>",
                 text="Hello", decided_by="U1", in_reply_to="<q@example.com>",
                 recipient=Sender(id="jane@example.com", email="jane@example.com"),
                 thread_metadata={"message_id": "<q@example.com>", "subject": "Help"})


async def test_smtp_logs_in_with_xoauth2_and_sends(
    token_endpoint: FakeTokenEndpoint, xoauth_relay: tuple[XOAuth2Relay, int],
    make_settings: SettingsFactory,
) -> None:
    relay, port = xoauth_relay
    settings = make_settings(
        SMTP_HOST="127.0.0.1", SMTP_PORT=port, SMTP_STARTTLS="false",
        SMTP_USER="support@acme.example", SUPPORTBOT_SUPPORT_ADDRESS=f"support@{DOMAIN}",
        SUPPORTBOT_MAIL_OAUTH2_TOKEN_URL=token_endpoint.url,
        SUPPORTBOT_MAIL_OAUTH2_CLIENT_ID="client-1",
        SUPPORTBOT_MAIL_OAUTH2_CLIENT_SECRET="s3cret",
        SUPPORTBOT_MAIL_OAUTH2_REFRESH_TOKEN="refresh-ok")
    await SmtpSender.from_settings(settings).send(reply())
    assert relay.logins == ["support@acme.example"] and len(relay.messages) == 1
    assert token_endpoint.issued == ["access-1"]


async def test_a_revoked_token_keeps_the_reply_for_a_retry(
    token_endpoint: FakeTokenEndpoint, xoauth_relay: tuple[XOAuth2Relay, int],
) -> None:
    relay, port = xoauth_relay
    sender = SmtpSender(
        connect=smtp_connector(host="127.0.0.1", port=port, username="support@acme.example",
                               starttls=False,
                               oauth2_token=provider(token_endpoint, refresh="revoked")),
        support_address=f"support@{DOMAIN}")
    with pytest.raises(SendError, match="invalid_grant") as failed:
        await sender.send(reply())
    assert failed.value.permanent is False and relay.messages == []


async def test_imap_xoauth2_refusal_is_announced_once(
    token_endpoint: FakeTokenEndpoint, imap_server: FakeImapServer,
    make_poller: Callable[..., ImapPoller],
) -> None:
    alerts: list[str] = []

    async def alert(text: str) -> None:
        alerts.append(text)

    account = ImapAccount(host=imap_server.host, port=imap_server.port, user=imap_server.user,
                          use_ssl=False, timeout=5,
                          oauth2_token=provider(token_endpoint, refresh="revoked"))
    poller = make_poller(connect=imap_connector(account), alert=alert)
    stop = asyncio.Event()
    task = asyncio.create_task(poller.run(stop))
    try:
        await wait_until(lambda: poller.health.consecutive_failures >= 3)
    finally:
        stop.set()
        await task
    assert len(alerts) == 1 and "login was refused" in alerts[0]
    assert len(token_endpoint.requests) >= 3  # a new token is asked for on every reconnect


def test_xoauth2_string() -> None:
    assert xoauth2("a@b.c", "tok") == "user=a@b.c\x01auth=Bearer tok\x01\x01"


def test_imap_from_settings_uses_the_token(make_settings: SettingsFactory,
                                           token_endpoint: FakeTokenEndpoint) -> None:
    settings = make_settings(IMAP_HOST="127.0.0.1", IMAP_USER="support@acme.example",
                             SUPPORTBOT_MAIL_OAUTH2_TOKEN_URL=token_endpoint.url,
                             SUPPORTBOT_MAIL_OAUTH2_CLIENT_ID="client-1",
                             SUPPORTBOT_MAIL_OAUTH2_REFRESH_TOKEN="refresh-ok")
    token = RefreshingToken.from_settings(settings)
    assert token is not None and token() == "access-1"
    with pytest.raises(ValueError, match="REFRESH_TOKEN"):
        RefreshingToken.from_settings(make_settings(
            SUPPORTBOT_MAIL_OAUTH2_TOKEN_URL=token_endpoint.url))
