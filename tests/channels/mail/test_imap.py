"""The IMAP poller against a real IMAP server (pymap, in memory) on loopback."""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import Callable
from typing import Any

import pytest
from imapclient import IMAPClient

from bot.store import kv
from channels.mail.imap import ImapPoller, _is_keepalive
from channels.mail.imap_connect import ImapAccount, imap_connector
from channels.mail.inbound import MailOptions
from config import Settings
from tests.channels.mail.conftest import RecordingAccept, eml, simple_mail, wait_until
from tests.fakes.imap_server import FakeImapServer


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


class Running:
    """A poller's ``run`` as a tracked task, stopped and awaited at the end."""

    def __init__(self, poller: ImapPoller) -> None:
        self.poller = poller
        self.stop = asyncio.Event()
        self.task: asyncio.Task[None] | None = None

    async def __aenter__(self) -> Running:
        self.task = asyncio.create_task(self.poller.run(self.stop))
        return self

    async def __aexit__(self, *exc: object) -> None:
        self.stop.set()
        assert self.task is not None
        await asyncio.wait_for(self.task, timeout=10)


def ids(accept: RecordingAccept) -> list[str]:
    return [inbound.channel_message_id for inbound in accept.calls]


async def test_poll_once_accepts_then_flags_seen(
    imap_server: FakeImapServer,
    make_poller: Callable[..., ImapPoller],
    recording_accept: RecordingAccept,
    store: MemoryCursorStore,
) -> None:
    imap_server.deliver(eml("gmail_reply.eml"))
    imap_server.deliver(eml("shift_jis.eml"))
    poller = make_poller()
    try:
        assert await poller.poll_once() == 2
        assert await poller.poll_once() == 0
    finally:
        await poller.close()
    assert ids(recording_accept) == [
        "<CAJx9kQ2Second+Reply=abc@mail.gmail.com>",
        "<20250309090000.ABCDEF@example.jp>",
    ]
    assert recording_accept.calls[0].metadata["source"] == "imap:INBOX"
    assert imap_server.flags() == {101: {"\\Seen"}, 102: {"\\Seen"}}
    [cursor] = store.values.values()
    assert cursor["last_uid"] == 102 and cursor["uidvalidity"] > 0


async def test_accept_failure_leaves_message_unflagged_and_retries(
    imap_server: FakeImapServer,
    make_poller: Callable[..., ImapPoller],
    recording_accept: RecordingAccept,
) -> None:
    imap_server.deliver(eml("apple_mail.eml"))
    imap_server.deliver(eml("html_only.eml"))
    recording_accept.failures = 1
    async with Running(make_poller()):
        await wait_until(lambda: len(recording_accept.stored) == 2)
    assert imap_server.flags() == {101: {"\\Seen"}, 102: {"\\Seen"}}
    assert ids(recording_accept)[0] == ids(recording_accept)[1]  # the failed one came again


async def test_same_message_twice_is_ingested_once(
    imap_server: FakeImapServer,
    make_poller: Callable[..., ImapPoller],
    recording_accept: RecordingAccept,
    store: MemoryCursorStore,
) -> None:
    imap_server.deliver(eml("outlook_reply.eml"))
    imap_server.deliver(
        eml("outlook_reply.eml")
    )  # a client copied it back, or a rule duplicated it
    poller = make_poller()
    try:
        await poller.poll_once()
        store.values.clear()  # a lost cursor: everything is fetched again
        await poller.poll_once()
    finally:
        await poller.close()
    assert len(recording_accept.calls) == 4 and len(recording_accept.stored) == 1


async def test_uidvalidity_change_rescans_without_duplicates(
    imap_server: FakeImapServer,
    make_poller: Callable[..., ImapPoller],
    recording_accept: RecordingAccept,
    store: MemoryCursorStore,
) -> None:
    imap_server.deliver(eml("apple_mail.eml"))
    poller = make_poller()
    try:
        await poller.poll_once()
        before = dict(next(iter(store.values.values())))
    finally:
        await poller.close()
    imap_server.reset_mailboxes()  # the server rebuilt its index: new UIDVALIDITY, UIDs restart
    imap_server.deliver(eml("apple_mail.eml"))
    imap_server.deliver(eml("base64_utf8.eml"))
    poller = make_poller()
    try:
        assert await poller.poll_once() == 2
    finally:
        await poller.close()
    after = next(iter(store.values.values()))
    assert after["uidvalidity"] != before["uidvalidity"]
    assert len(recording_accept.stored) == 2


async def test_idle_delivers_new_mail_promptly(
    imap_server: FakeImapServer,
    make_poller: Callable[..., ImapPoller],
    recording_accept: RecordingAccept,
) -> None:
    imap_server.deliver(simple_mail("<m1@example.com>"))
    async with Running(make_poller()) as running:
        await wait_until(lambda: len(recording_accept.calls) == 1)
        for n in range(2, 5):
            imap_server.deliver(simple_mail(f"<m{n}@example.com>"))
            await wait_until(lambda n=n: len(recording_accept.calls) == n)  # type: ignore[misc]
        assert running.poller.connects == 1
    assert ids(recording_accept) == [f"<m{n}@example.com>" for n in range(1, 5)]


async def test_idle_is_reissued_before_the_server_timeout(
    imap_server: FakeImapServer,
    make_poller: Callable[..., ImapPoller],
    recording_accept: RecordingAccept,
) -> None:
    ticks = itertools.count(step=10 * 60)  # every clock read is ten minutes later
    idles: list[int] = []
    connect = imap_connector(account_for(imap_server))

    def counting_connect() -> IMAPClient:
        client = connect()
        original = client.idle

        def idle() -> Any:
            idles.append(1)
            return original()

        client.idle = idle
        return client

    async with Running(make_poller(connect=counting_connect, clock=lambda: float(next(ticks)))):
        await wait_until(lambda: len(idles) >= 3)
        imap_server.deliver(simple_mail("<after-renew@example.com>"))
        await wait_until(lambda: len(recording_accept.calls) == 1)


async def test_polling_fallback_without_idle(
    make_poller: Callable[..., ImapPoller],
    recording_accept: RecordingAccept,
) -> None:
    naps: list[float] = []

    async def quick_sleep(seconds: float) -> None:
        naps.append(seconds)
        await asyncio.sleep(0.01)

    with FakeImapServer(idle=False) as server:
        poller = make_poller(server, poll_seconds=60.0, sleep=quick_sleep)
        async with Running(poller):
            server.deliver(simple_mail("<poll-1@example.com>"))
            await wait_until(lambda: len(recording_accept.calls) == 1 and 60.0 in naps)
            server.deliver(simple_mail("<poll-2@example.com>"))
            await wait_until(lambda: len(recording_accept.calls) == 2)
        assert poller.connects == 1


async def test_backfill_after_the_poller_was_stopped(
    imap_server: FakeImapServer,
    make_poller: Callable[..., ImapPoller],
    recording_accept: RecordingAccept,
) -> None:
    imap_server.deliver(simple_mail("<before@example.com>"))
    async with Running(make_poller()):
        await wait_until(lambda: len(recording_accept.calls) == 1)
    for n in range(3):  # delivered while we were down
        imap_server.deliver(simple_mail(f"<while-down-{n}@example.com>"))
    async with Running(make_poller()):
        await wait_until(lambda: len(recording_accept.calls) == 4)
    assert ids(recording_accept) == [
        "<before@example.com>",
        *(f"<while-down-{n}@example.com>" for n in range(3)),
    ]


async def test_server_restart_mid_idle_reconnects_and_catches_up(
    imap_server: FakeImapServer,
    make_poller: Callable[..., ImapPoller],
    recording_accept: RecordingAccept,
) -> None:
    imap_server.deliver(simple_mail("<first@example.com>"))
    stored = recording_accept.stored
    async with Running(make_poller()) as running:
        # Flagged means accepted and done: the poller is on its way into IDLE.
        await wait_until(lambda: imap_server.flags() == {101: {"\\Seen"}})
        await asyncio.to_thread(imap_server.stop)
        imap_server.deliver(simple_mail("<during-outage@example.com>"))
        await asyncio.to_thread(imap_server.start)
        await wait_until(lambda: len(stored) == 2)
        imap_server.deliver(simple_mail("<after-restart@example.com>"))
        await wait_until(lambda: len(stored) == 3)
        assert running.poller.connects >= 2
    assert list(stored) == [
        "<first@example.com>",
        "<during-outage@example.com>",
        "<after-restart@example.com>",
    ]


async def test_move_to_processed_folder(
    imap_server: FakeImapServer,
    make_poller: Callable[..., ImapPoller],
    recording_accept: RecordingAccept,
) -> None:
    imap_server.deliver(eml("apple_mail.eml"))
    poller = make_poller(processed_folder="Processed")
    try:
        await poller.poll_once()
    finally:
        await poller.close()
    assert imap_server.flags() == {}
    assert len(imap_server.flags("Processed")) == 1


async def test_rejected_and_own_mail_are_skipped_not_retried(
    imap_server: FakeImapServer,
    make_poller: Callable[..., ImapPoller],
    recording_accept: RecordingAccept,
    store: MemoryCursorStore,
) -> None:
    imap_server.deliver(b"Subject: no sender\r\n\r\nhello\r\n")
    imap_server.deliver(eml("own_reply.eml"))
    imap_server.deliver(eml("apple_mail.eml"))
    poller = make_poller()
    try:
        assert await poller.poll_once() == 1
    finally:
        await poller.close()
    assert next(iter(store.values.values()))["last_uid"] == 103
    assert imap_server.flags() == {101: set(), 102: set(), 103: {"\\Seen"}}


async def test_cursor_lives_in_the_kv_store(
    imap_server: FakeImapServer,
    sqlite_db: Settings,
    recording_accept: RecordingAccept,
    options: MailOptions,
) -> None:
    settings = sqlite_db.model_copy(
        update={
            "imap_host": imap_server.host,
            "imap_port": imap_server.port,
            "imap_user": imap_server.user,
        }
    )
    poller = ImapPoller.from_settings(settings, accept=recording_accept)
    assert poller._key == f"imap:support@{imap_server.host}/INBOX"
    poller = ImapPoller(
        connect=imap_connector(account_for(imap_server)),
        accept=recording_accept,
        options=options,
        cursor_key=poller._key,
    )
    imap_server.deliver(eml("apple_mail.eml"))
    try:
        await poller.poll_once()
    finally:
        await poller.close()
    stored = await kv.get_value(f"imap:support@{imap_server.host}/INBOX")
    assert stored["last_uid"] == 101


def test_keepalive_lines_are_not_activity() -> None:
    assert _is_keepalive((b"OK", b"Still here"))
    assert not _is_keepalive((3, b"EXISTS"))
    assert not _is_keepalive((b"BYE", b"Autologout"))
