"""Mail test fixtures: the .eml corpus, options, a recording ``accept``, real servers."""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from bot.domain import Accepted, AcceptError, Inbound
from channels.mail.imap import ImapPoller
from channels.mail.imap_connect import ImapAccount, imap_connector
from channels.mail.imap_start import StartPolicy
from channels.mail.inbound import MailOptions
from tests.fakes.imap_server import FakeImapServer
from tests.fakes.smtp_relay import SmtpRelay

FIXTURES = Path(__file__).parent / "fixtures"
DOMAIN = "acme.example"


def eml(name: str) -> bytes:
    """The bytes of one corpus fixture."""
    return (FIXTURES / name).read_bytes()


def corpus() -> list[Path]:
    """Every .eml in the corpus, sorted."""
    return sorted(FIXTURES.glob("*.eml"))


def simple_mail(
    message_id: str,
    *,
    subject: str = "Help",
    sender: str = "jane@example.com",
    body: str = "Hello",
    headers: str = "",
) -> bytes:
    """A minimal well-formed mail; ``headers`` adds raw header lines."""
    return (
        f"From: Jane <{sender}>\r\nTo: support@{DOMAIN}\r\nSubject: {subject}\r\n"
        f"Date: Tue, 4 Mar 2025 10:00:00 +0000\r\nMessage-ID: {message_id}\r\n{headers}"
        f"MIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n{body}\r\n"
    ).encode()


async def wait_until(predicate: Callable[[], bool], deadline_s: float = 10.0) -> None:
    """Poll ``predicate`` until true, failing after ``deadline_s`` seconds (never a fixed sleep)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + deadline_s
    while not predicate():
        if loop.time() > deadline:
            raise AssertionError("condition not met before the deadline")
        await asyncio.sleep(0.01)


class RecordingAccept:
    """Stands in for ``bot.store.inbox.accept``: records, dedupes on Message-ID like the real one,
    and fails with ``AcceptError`` while ``failures`` is positive."""

    def __init__(self) -> None:
        self.calls: list[Inbound] = []
        self.stored: dict[str, Inbound] = {}
        self.failures = 0
        self._ids = itertools.count(1)

    async def __call__(self, inbound: Inbound) -> Accepted:
        self.calls.append(inbound)
        if self.failures > 0:
            self.failures -= 1
            raise AcceptError("database unavailable")
        duplicate = inbound.channel_message_id in self.stored
        self.stored.setdefault(inbound.channel_message_id, inbound)
        return Accepted(conversation_id=1, message_id=next(self._ids), duplicate=duplicate)


@pytest.fixture
def options(tmp_path: Path) -> MailOptions:
    return MailOptions(
        our_domains=frozenset({DOMAIN}),
        support_local="support",
        attachments_dir=tmp_path / "attachments",
    )


@pytest.fixture
def recording_accept() -> RecordingAccept:
    return RecordingAccept()


@pytest.fixture
def imap_server() -> Iterator[FakeImapServer]:
    with FakeImapServer() as server:
        yield server


@pytest.fixture
async def smtp_relay() -> AsyncIterator[SmtpRelay]:
    relay = await SmtpRelay().start()
    yield relay
    await relay.close()


class MemoryCursorStore:
    """The two kv functions the poller uses, in memory (one test uses the real kv)."""

    def __init__(self) -> None:
        self.values: dict[str, Any] = {}

    async def get(self, key: str, default: Any = None) -> Any:
        return self.values.get(key, default)

    async def put(self, key: str, value: Any) -> None:
        self.values[key] = value


def account_for(server: FakeImapServer) -> ImapAccount:
    return ImapAccount(
        host=server.host,
        port=server.port,
        user=server.user,
        password=server.password,
        use_ssl=False,
        starttls=False,
        timeout=5,
    )


@pytest.fixture
def store() -> MemoryCursorStore:
    return MemoryCursorStore()


@pytest.fixture
def make_poller(
    imap_server: FakeImapServer,
    recording_accept: RecordingAccept,
    options: MailOptions,
    store: MemoryCursorStore,
) -> Callable[..., ImapPoller]:
    def factory(server: FakeImapServer | None = None, **overrides: Any) -> ImapPoller:
        account = account_for(server or imap_server)
        kwargs: dict[str, Any] = {
            "connect": imap_connector(account),
            "accept": recording_accept,
            "options": options,
            "cursor_key": f"imap:{account.cursor_name}/INBOX",
            # These tests are about fetching: take what is there (first starts: test_imap_start).
            "start": StartPolicy(mode="all"),
            "idle_check_seconds": 0.2,
            "poll_seconds": 3600.0,  # mail must arrive through IDLE unless a test says otherwise
            "backoff_initial": 0.05,
            "backoff_max": 0.2,
            "get_value": store.get,
            "put_value": store.put,
        }
        kwargs.update(overrides)
        return ImapPoller(**kwargs)

    return factory
