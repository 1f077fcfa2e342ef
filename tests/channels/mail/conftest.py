"""Mail test fixtures: the .eml corpus, options, a recording ``accept``, real servers."""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path

import pytest

from bot.domain import Accepted, AcceptError, Inbound
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
