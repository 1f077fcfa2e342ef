"""Mailbox health: a hung server, a refused login and an untrusted certificate are detected,
announced once, and announced again when the mailbox works; TLS trusts IMAP_CA_FILE."""

from __future__ import annotations

import asyncio
import ssl
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import trustme

from channels.mail.imap import ImapPoller
from channels.mail.imap_connect import ImapAccount, imap_connector
from channels.mail.imap_health import MailboxHealth, failure_kind
from tests.channels.mail.conftest import RecordingAccept, simple_mail, wait_until
from tests.conftest import SettingsFactory
from tests.fakes.imap_server import FakeImapServer
from tests.fakes.tcp_proxy import HangingProxy


class Alerts:
    """The approval-channel notifier as the poller sees it: one callback, recorded."""

    def __init__(self) -> None:
        self.texts: list[str] = []

    async def __call__(self, text: str) -> None:
        self.texts.append(text)


@pytest.fixture
def alerts() -> Alerts:
    return Alerts()


@pytest.fixture
async def proxy(imap_server: FakeImapServer) -> AsyncIterator[HangingProxy]:
    proxy = await HangingProxy(imap_server.host, imap_server.port).start()
    yield proxy
    await proxy.close()


class Running:
    def __init__(self, poller: ImapPoller) -> None:
        self.poller = poller
        self.stop = asyncio.Event()
        self.task: asyncio.Task[None] | None = None

    async def __aenter__(self) -> ImapPoller:
        self.task = asyncio.create_task(self.poller.run(self.stop))
        return self.poller

    async def __aexit__(self, *exc: object) -> None:
        self.stop.set()
        assert self.task is not None
        await asyncio.wait_for(self.task, timeout=20)


async def test_a_hung_server_is_detected_announced_once_and_recovery_announced(
    imap_server: FakeImapServer,
    proxy: HangingProxy,
    make_poller: Callable[..., ImapPoller],
    recording_accept: RecordingAccept,
    alerts: Alerts,
) -> None:
    account = ImapAccount(host=proxy.host, port=proxy.port, user=imap_server.user,
                          password=imap_server.password, use_ssl=False, timeout=2)
    poller = make_poller(connect=imap_connector(account), alert=alerts,
                         idle_renew_seconds=1.0, timeout_seconds=2)
    async with Running(poller):
        imap_server.deliver(simple_mail("<before@example.com>"))
        await wait_until(lambda: len(recording_accept.calls) == 1)
        await wait_until(lambda: poller.health.snapshot()["last_ok_age_seconds"] is not None)
        proxy.freeze()  # TCP stays open, the server says nothing more
        # The keepalive (IDLE re-issue) finds the silence; reconnects meet a silent greeting.
        await wait_until(lambda: poller.health.consecutive_failures >= 3, deadline_s=30)
        snapshot = poller.health.snapshot()
        assert snapshot["connected"] is False and snapshot["alerting"] is True
        assert snapshot["last_error_kind"] == "stall"
        assert len(alerts.texts) == 1 and "stopped answering" in alerts.texts[0]
        imap_server.deliver(simple_mail("<during@example.com>"))
        proxy.thaw()
        await wait_until(lambda: len(recording_accept.calls) == 2, deadline_s=20)
        await wait_until(lambda: len(alerts.texts) == 2)
    assert "works again" in alerts.texts[1]
    assert poller.health.snapshot()["consecutive_failures"] == 0
    assert [i.channel_message_id for i in recording_accept.calls] == [
        "<before@example.com>", "<during@example.com>"]


async def test_a_wrong_password_is_announced_once_not_on_every_retry(
    imap_server: FakeImapServer,
    make_poller: Callable[..., ImapPoller],
    alerts: Alerts,
) -> None:
    account = ImapAccount(host=imap_server.host, port=imap_server.port, user=imap_server.user,
                          password="wrong", use_ssl=False, timeout=5)
    poller = make_poller(connect=imap_connector(account), alert=alerts)
    async with Running(poller):
        await wait_until(lambda: poller.health.consecutive_failures >= 4)
    assert len(alerts.texts) == 1
    assert "login was refused" in alerts.texts[0]
    assert poller.health.snapshot()["last_error_kind"] == "auth"
    assert not poller.health.ready(max_age_seconds=3600)


@pytest.fixture
def tls_server(tmp_path: Path) -> Iterator[tuple[FakeImapServer, Path]]:
    ca = trustme.CA()
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("127.0.0.1").configure_cert(context)
    ca_file = tmp_path / "private-ca.pem"
    ca.cert_pem.write_to_path(str(ca_file))
    with FakeImapServer(ssl_context=context) as server:
        yield server, ca_file


async def test_an_untrusted_certificate_is_announced_and_a_ca_file_fixes_it(
    tls_server: tuple[FakeImapServer, Path],
    make_settings: SettingsFactory,
    make_poller: Callable[..., ImapPoller],
    recording_accept: RecordingAccept,
    alerts: Alerts,
) -> None:
    server, ca_file = tls_server
    env: dict[str, Any] = {"IMAP_HOST": server.host, "IMAP_PORT": server.port,
                           "IMAP_USER": server.user, "IMAP_PASSWORD": server.password,
                           "IMAP_SSL": "true", "IMAP_TIMEOUT_SECONDS": "5"}
    untrusted = ImapAccount.from_settings(make_settings(**env))
    poller = make_poller(connect=imap_connector(untrusted), alert=alerts)
    async with Running(poller):
        await wait_until(lambda: poller.health.consecutive_failures >= 2)
    assert len(alerts.texts) == 1 and "TLS handshake failed" in alerts.texts[0]

    trusted = ImapAccount.from_settings(make_settings(**env, IMAP_CA_FILE=ca_file))
    server.deliver(simple_mail("<over-tls@example.com>"))
    poller = make_poller(server, connect=imap_connector(trusted))
    try:
        assert await poller.poll_once() == 1
    finally:
        await poller.close()
    assert recording_accept.calls[-1].channel_message_id == "<over-tls@example.com>"


async def test_snapshot_and_readiness_follow_the_last_success() -> None:
    now = [100.0]
    health = MailboxHealth(mailbox="support@imap.example/INBOX", clock=lambda: now[0])
    assert health.snapshot()["last_ok_age_seconds"] is None and not health.ready(60)
    await health.succeeded()
    now[0] += 30
    assert health.ready(60) and health.snapshot()["last_ok_age_seconds"] == 30.0
    now[0] += 60
    assert not health.ready(60)
    await health.failed(ConnectionRefusedError("refused"))
    snap = health.snapshot()
    assert snap["connected"] is False and snap["errors_total"] == 1
    assert snap["alerting"] is False  # one refused connection is not yet worth a page
    await health.failed(ConnectionRefusedError("refused"))
    await health.failed(ConnectionRefusedError("refused"))
    assert health.snapshot()["alerting"] is True


def test_failure_kinds() -> None:
    from imapclient.exceptions import LoginError

    assert failure_kind(LoginError("[AUTHENTICATIONFAILED] Invalid credentials")) == "auth"
    assert failure_kind(ssl.SSLCertVerificationError("unable to get local issuer")) == "tls"
    assert failure_kind(TimeoutError("timed out")) == "stall"
    assert failure_kind(ConnectionResetError("reset")) == "network"
