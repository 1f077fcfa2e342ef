"""A bounce of a reply we sent marks that delivery failed and shows it on the card, instead of
opening a new (suppressed) conversation; automatic mail is stored but never answered."""

from __future__ import annotations

import asyncio
import re
import smtplib
from collections.abc import AsyncIterator

import pytest

from bot.clock import utcnow
from bot.ports import NullNotifier
from bot.store import mail as mail_store
from bot.store.inbox import accept
from bot.store.models import Conversation, Customer, Message, OutboxItem, QueueStatus
from channels.mail.inbound import MailOptions, bounce_recorder
from channels.mail.smtp_server import InboundSmtpHandler, start_smtp_server
from config import Settings
from tests.channels.mail.conftest import DOMAIN, eml, simple_mail

OUR_REPLY = "<supportbot.r-300@acme.example>"


class RecordingNotifier(NullNotifier):
    def __init__(self) -> None:
        self.failed: list[int] = []

    async def delivery_failed(self, outbox_item_id: int) -> None:
        self.failed.append(outbox_item_id)


@pytest.fixture
def notifier() -> RecordingNotifier:
    return RecordingNotifier()


@pytest.fixture
async def smtp_port(db: Settings, options: MailOptions, notifier: RecordingNotifier
                    ) -> AsyncIterator[int]:
    own = MailOptions(our_domains=options.our_domains, support_local="support",
                      own_addresses=frozenset({f"support@{DOMAIN}"}))
    handler = InboundSmtpHandler(accept=accept, domains=[DOMAIN], options=own,
                                 keep_raw=mail_store.keep_raw_mail,
                                 on_bounce=bounce_recorder(notifier))
    server = await start_smtp_server(handler, host="127.0.0.1", port=0, data_size_limit=1 << 20)
    yield server.sockets[0].getsockname()[1]
    server.close()
    await server.wait_closed()


def _send(port: int, raw: bytes) -> None:
    wire = re.sub(rb"(?<!\r)\n", b"\r\n", raw)  # fixtures are stored with LF line ends
    with smtplib.SMTP("127.0.0.1", port, timeout=10) as client:
        client.sendmail("", [f"support@{DOMAIN}"], wire)


async def _sent_reply() -> OutboxItem:
    customer = await Customer.create(email="nobody@example.net", name="Nobody")
    conversation = await Conversation.create(channel="email", thread_key="<root@example.net>",
                                             token="tok12345", customer=customer,
                                             status="answered")
    return await OutboxItem.create(conversation=conversation, channel="email", payload={},
                                   idempotency_key="r-300", status=QueueStatus.SENT,
                                   next_attempt_at=utcnow(), channel_message_id=OUR_REPLY,
                                   sent_at=utcnow())


async def test_a_dsn_for_our_reply_marks_it_failed_on_the_card(
    smtp_port: int, notifier: RecordingNotifier
) -> None:
    item = await _sent_reply()
    await asyncio.to_thread(_send, smtp_port, eml("dsn_bounce.eml"))
    item = await OutboxItem.get(id=item.id)
    assert item.status == QueueStatus.DEAD
    assert item.last_error is not None and "5.1.1" in item.last_error
    assert notifier.failed == [item.id]
    assert await Message.all().count() == 0  # no new conversation for the report
    assert await Conversation.all().count() == 1


async def test_a_dsn_for_mail_that_is_not_ours_is_stored_suppressed(
    smtp_port: int, notifier: RecordingNotifier
) -> None:
    await asyncio.to_thread(_send, smtp_port, eml("dsn_bounce.eml"))  # no such reply sent
    [message] = await Message.all()
    assert message.suppress_reply is not None
    assert notifier.failed == []


@pytest.mark.parametrize(
    "raw",
    [
        simple_mail("<own@x.example>", sender=f"support@{DOMAIN}"),
        simple_mail("<nr@x.example>", sender="no-reply@shop.example"),
        simple_mail("<lu@x.example>", sender="news@shop.example",
                    headers="List-Unsubscribe: <mailto:u@shop.example>\r\n"),
        eml("out_of_office_de_body.eml"),
    ],
    ids=["own-address", "noreply", "list-unsubscribe", "german-out-of-office"],
)
async def test_automatic_mail_is_stored_and_marked_never_to_answer(
    smtp_port: int, raw: bytes
) -> None:
    await asyncio.to_thread(_send, smtp_port, raw)
    [message] = await Message.all()
    assert message.suppress_reply
