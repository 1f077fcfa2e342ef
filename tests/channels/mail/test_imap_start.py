"""First start of a mailbox (IMAP_START): old mail is never answered unless an operator asks."""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import pytest

from bot.domain import Accepted, AcceptError, Inbound
from channels.mail.imap import ImapPoller
from channels.mail.imap_start import StartPolicy
from config import load_settings
from tests.channels.mail.conftest import MemoryCursorStore, RecordingAccept, simple_mail
from tests.fakes.imap_server import FakeImapServer

OLD = datetime.now(UTC) - timedelta(days=30)


def ids(accept: RecordingAccept) -> list[str]:
    return [inbound.channel_message_id for inbound in accept.calls]


def fill_mailbox(server: FakeImapServer) -> None:
    """What a real support mailbox holds on the day supportbot is switched on."""
    server.deliver(simple_mail("<read-long-ago@example.com>"), seen=True, when=OLD)
    server.deliver(simple_mail("<unread-long-ago@example.com>"), when=OLD)
    server.deliver(simple_mail("<read-today@example.com>"), seen=True)
    server.deliver(simple_mail("<unread-today@example.com>"))


async def poll(poller: ImapPoller) -> int:
    try:
        return await poller.poll_once()
    finally:
        await poller.close()


async def test_default_first_start_takes_only_mail_arriving_afterwards(
    imap_server: FakeImapServer,
    make_poller: Callable[..., ImapPoller],
    recording_accept: RecordingAccept,
    caplog: pytest.LogCaptureFixture,
) -> None:
    fill_mailbox(imap_server)
    caplog.set_level(logging.INFO, logger="channels.mail.imap")
    assert await poll(make_poller(start=StartPolicy())) == 0
    assert "first start (IMAP_START=new): only mail arriving from now on" in caplog.text
    imap_server.deliver(simple_mail("<arrived-later@example.com>"))
    assert await poll(make_poller(start=StartPolicy())) == 1
    assert ids(recording_accept) == ["<arrived-later@example.com>"]
    # The mail that was there stays as the team left it.
    assert imap_server.flags() == {101: {"\\Seen"}, 102: set(), 103: {"\\Seen"}, 104: set(),
                                   105: {"\\Seen"}}


async def test_unseen_start_takes_recent_unread_mail_never_read_mail(
    imap_server: FakeImapServer,
    make_poller: Callable[..., ImapPoller],
    recording_accept: RecordingAccept,
) -> None:
    fill_mailbox(imap_server)
    start = StartPolicy(mode="unseen", days=7)
    assert await poll(make_poller(start=start)) == 1
    imap_server.deliver(simple_mail("<arrived-later@example.com>"))
    assert await poll(make_poller(start=start)) == 1
    assert ids(recording_accept) == ["<unread-today@example.com>", "<arrived-later@example.com>"]


async def test_all_takes_read_mail_only_when_asked(
    imap_server: FakeImapServer,
    make_poller: Callable[..., ImapPoller],
    recording_accept: RecordingAccept,
) -> None:
    fill_mailbox(imap_server)
    assert await poll(make_poller(start=StartPolicy(mode="all"))) == 4


async def test_a_backlog_interrupted_by_a_failure_is_finished_once(
    imap_server: FakeImapServer,
    make_poller: Callable[..., ImapPoller],
    recording_accept: RecordingAccept,
    store: MemoryCursorStore,
) -> None:
    for n in range(3):
        imap_server.deliver(simple_mail(f"<backlog-{n}@example.com>"))
    imap_server.deliver(simple_mail("<read@example.com>"), seen=True)
    start = StartPolicy(mode="unseen", days=1)

    async def second_fails(inbound: Inbound) -> Accepted:
        if len(recording_accept.calls) == 1:
            recording_accept.failures = 1  # the database goes away for the second message
        return await recording_accept(inbound)

    with pytest.raises(AcceptError, match="database unavailable"):
        await poll(make_poller(start=start, accept=second_fails))
    [cursor] = store.values.values()
    assert cursor["backlog"] == [102, 103] and cursor["last_uid"] == 104
    assert await poll(make_poller(start=start)) == 2
    assert list(recording_accept.stored) == [f"<backlog-{n}@example.com>" for n in range(3)]
    assert next(iter(store.values.values()))["backlog"] == []


async def test_uidvalidity_change_never_takes_read_mail(
    imap_server: FakeImapServer,
    make_poller: Callable[..., ImapPoller],
    recording_accept: RecordingAccept,
) -> None:
    imap_server.deliver(simple_mail("<first@example.com>"))
    assert await poll(make_poller()) == 1
    imap_server.reset_mailboxes()
    imap_server.deliver(simple_mail("<read-by-a-human@example.com>"), seen=True)
    imap_server.deliver(simple_mail("<first@example.com>"))
    imap_server.deliver(simple_mail("<new-unread@example.com>"))
    assert await poll(make_poller()) == 2
    assert list(recording_accept.stored) == ["<first@example.com>", "<new-unread@example.com>"]


def test_the_setting_is_validated_and_described() -> None:
    settings = load_settings({"IMAP_START": "Unseen", "IMAP_START_DAYS": "3"}, env_file=None)
    policy = StartPolicy.from_settings(settings)
    assert policy == StartPolicy(mode="unseen", days=3)
    assert policy.describe() == "unseen mail of the last 3 days, then new mail"
    assert StartPolicy.from_settings(load_settings({}, env_file=None)).mode == "new"
    with pytest.raises(ValueError, match="IMAP_START"):
        load_settings({"IMAP_START": "everything"}, env_file=None)
