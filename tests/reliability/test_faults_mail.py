"""Mail faults: the outgoing SMTP relay down, answering 4xx, answering 5xx; the IMAP server
dropping the connection mid-IDLE. Mail comes in through our real SMTP server or the real IMAP
poller, replies leave through the real ``SmtpSender`` to an aiosmtpd relay."""

from __future__ import annotations

import asyncio
import logging

import pytest

from bot.store.models import Message, OutboxItem, QueueStatus
from tests.fakes.http import wait_for
from tests.fakes.imap_server import FakeImapServer
from tests.fakes.smtp_relay import SmtpRelay
from tests.reliability.conftest import StackFactory, db_true, free_port, mail_bytes, smtp_send

AUTO = {"SUPPORTBOT_AUTO_SEND_THRESHOLD": "0.5"}


async def test_replies_wait_while_the_relay_is_down_and_go_out_once_it_is_back(
    make_stack: StackFactory, caplog: pytest.LogCaptureFixture
) -> None:
    port = free_port()  # nothing listens here yet: the relay is "down"
    stack = await make_stack(SMTP_PORT=port, **AUTO)
    assert stack.smtp_port is not None
    await asyncio.to_thread(smtp_send, stack.smtp_port, mail_bytes("<m1@example.com>"))
    try:
        await wait_for(db_true(lambda: OutboxItem.filter(attempts__gte=2).exists()), timeout=30)
    except TimeoutError:
        raise AssertionError(await stack.explain()) from None
    item = await OutboxItem.get()
    assert item.status == QueueStatus.PENDING and "Connection" in (item.last_error or "")
    assert "attempt 1 failed" in caplog.text
    assert (await stack.metrics())["supportbot_outbox_depth"] == 1.0

    relay = await SmtpRelay().start(port)
    try:
        await wait_for(lambda: relay.messages, timeout=30)
        await stack.wait_settled()
        assert len(relay.messages) == 1
        assert relay.messages[0].message["In-Reply-To"] == "<m1@example.com>"
        assert (await stack.metrics())["supportbot_outbox_depth"] == 0.0
    finally:
        await relay.close()


@pytest.mark.parametrize(("customer", "status"), [("tempfail", "451"), ("reject", "550")])
async def test_relay_refusals_are_retried_or_dead_lettered_and_shown(
    make_stack: StackFactory, caplog: pytest.LogCaptureFixture, customer: str, status: str
) -> None:
    stack = await make_stack(SUPPORTBOT_OUTBOX_MAX_ATTEMPTS="3", **AUTO)
    assert stack.smtp_port is not None
    before = (await stack.metrics())["supportbot_dead_letters"]
    with caplog.at_level(logging.WARNING):
        await asyncio.to_thread(smtp_send, stack.smtp_port,
                                mail_bytes("<m1@example.com>", sender=f"{customer}@example.com"),
                                mail_from=f"{customer}@example.com")
        await wait_for(db_true(lambda: OutboxItem.filter(status=QueueStatus.DEAD).exists()),
                       timeout=30)
    item = await OutboxItem.get()
    # 4xx is temporary: every attempt is used. 5xx is permanent: dead at the first answer.
    assert item.attempts == (3 if status == "451" else 1)
    assert status in (item.last_error or "")
    assert stack.relay.messages == []
    await wait_for(lambda: status in stack.card_text())
    assert (await stack.metrics())["supportbot_dead_letters"] - before == 1.0


@pytest.mark.slow
async def test_imap_dropped_mid_idle_reconnects_and_loses_nothing(
    make_stack: StackFactory, caplog: pytest.LogCaptureFixture
) -> None:
    with FakeImapServer() as imap:
        stack = await make_stack(
            IMAP_HOST=imap.host, IMAP_PORT=imap.port, IMAP_USER=imap.user,
            IMAP_PASSWORD=imap.password, IMAP_SSL="false", IMAP_STARTTLS="false",
            smtp_in=False,
        )
        imap.deliver(mail_bytes("<before@example.com>"))
        await wait_for(db_true(lambda: Message.filter(channel_message_id="<before@example.com>")
                               .exists()), timeout=30)
        # The poller now sits in IDLE. Drop every connection, deliver while down, restart.
        await asyncio.to_thread(imap.stop)
        imap.deliver(mail_bytes("<during@example.com>"))
        await wait_for(lambda: "reconnecting" in caplog.text, timeout=30)
        await asyncio.to_thread(imap.start)
        imap.deliver(mail_bytes("<after@example.com>"))
        await wait_for(db_true(lambda: _count_in(3)), timeout=60)
        await stack.wait_settled()
        ids = sorted(await Message.filter(direction="in").values_list("channel_message_id",
                                                                       flat=True))
        assert ids == ["<after@example.com>", "<before@example.com>", "<during@example.com>"]
        # Every message was flagged \\Seen only after it was stored.
        assert all("\\Seen" in flags for flags in imap.flags().values())


async def _count_in(expected: int) -> bool:
    return await Message.filter(direction="in").count() >= expected
