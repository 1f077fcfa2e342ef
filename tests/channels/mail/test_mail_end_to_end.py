"""End to end with the real ``bot.store.inbox.accept`` on SQLite and PostgreSQL: mail in through
our SMTP server and the IMAP poller, replies out through SmtpSender, threading in the DB."""

from __future__ import annotations

import asyncio
import re
import smtplib
from collections.abc import AsyncIterator

import pytest

from bot.domain import Channel, Reply, Sender
from bot.store.inbox import accept
from bot.store.models import Conversation, Message
from channels.mail.imap import ImapPoller
from channels.mail.imap_connect import ImapAccount, imap_connector
from channels.mail.inbound import MailOptions
from channels.mail.sender import SmtpSender, smtp_connector
from channels.mail.smtp_server import InboundSmtpHandler, start_smtp_server
from config import Settings
from tests.channels.mail.conftest import DOMAIN, eml
from tests.fakes.imap_server import FakeImapServer
from tests.fakes.smtp_relay import SmtpRelay

SUPPORT = f"support@{DOMAIN}"


@pytest.fixture
async def smtp_in(db: Settings, options: MailOptions) -> AsyncIterator[int]:
    handler = InboundSmtpHandler(accept=accept, domains=[DOMAIN], options=options)
    server = await start_smtp_server(handler, host="127.0.0.1", port=0, data_size_limit=1 << 20)
    yield server.sockets[0].getsockname()[1]
    server.close()
    await server.wait_closed()


def mail(
    message_id: str, *, sender: str, subject: str, body: str, to: str = SUPPORT, headers: str = ""
) -> bytes:
    return (
        f"From: {sender}\r\nTo: {to}\r\nSubject: {subject}\r\nMessage-ID: {message_id}\r\n"
        f"Date: Tue, 4 Mar 2025 10:00:00 +0000\r\n{headers}"
        f"Content-Type: text/plain; charset=utf-8\r\n\r\n{body}\r\n"
    ).encode()


async def deliver(port: int, raw: bytes, rcpt: str = SUPPORT) -> None:
    wire = re.sub(rb"(?<!\r)\n", b"\r\n", raw)

    def send() -> None:
        with smtplib.SMTP("127.0.0.1", port, timeout=10) as client:
            client.sendmail("customer@example.com", [rcpt], wire)

    await asyncio.to_thread(send)


async def answer(relay: SmtpRelay, conversation: Conversation, reply_id: str) -> str:
    """Send a reply like the outbox does and record it; returns our Message-ID."""
    answered = (
        await Message.filter(conversation_id=conversation.id, direction="in")
        .order_by("-id")
        .first()
    )
    assert answered is not None
    chain = (
        await Message.filter(conversation_id=conversation.id)
        .order_by("id")
        .values_list("channel_message_id", flat=True)
    )
    sender = SmtpSender(
        connect=smtp_connector(host=relay.host, port=relay.port, starttls=False),
        support_address=SUPPORT,
    )
    reply = Reply(
        reply_id=reply_id,
        channel=Channel.EMAIL,
        conversation_id=conversation.id,
        thread_key=conversation.thread_key,
        text="Here is how.",
        decided_by="U1",
        in_reply_to=answered.channel_message_id,
        recipient=Sender(id="x", email=answered.metadata["customer_address"]),
        conversation_token=conversation.token,
        subject=conversation.subject,
        thread_metadata=answered.metadata,
        related_message_ids=tuple(str(c) for c in chain),
    )
    result = await sender.send(reply)
    await Message.create(
        conversation_id=conversation.id,
        channel="email",
        direction="out",
        author="U1",
        text=reply.text,
        channel_message_id=result.channel_message_id,
        metadata=dict(result.metadata),
    )
    assert result.channel_message_id is not None
    return result.channel_message_id


async def test_reply_chain_stays_one_conversation(smtp_in: int, smtp_relay: SmtpRelay) -> None:
    jane = "Jane <jane@example.com>"
    await deliver(
        smtp_in,
        mail("<m1@example.com>", sender=jane, subject="Export broken", body="CSV export fails"),
    )
    conversation = await Conversation.get(thread_key="<m1@example.com>")
    ours1 = await answer(smtp_relay, conversation, "r1")
    relayed = smtp_relay.messages[-1].message
    assert relayed["Reply-To"] == f"support+{conversation.token}@{DOMAIN}"

    # 2: a well-behaved client: In-Reply-To and References.
    await deliver(
        smtp_in,
        mail(
            "<m2@example.com>",
            sender=jane,
            subject="Re: Export broken",
            body="Still broken",
            headers=f"In-Reply-To: {ours1}\r\nReferences: <m1@example.com> {ours1}\r\n",
        ),
    )
    ours2 = await answer(smtp_relay, conversation, "r2")
    # 3: a client that drops every threading header, but answers to the Reply-To token address.
    token_address = f"support+{conversation.token}@{DOMAIN}"
    await deliver(
        smtp_in,
        mail("<m3@example.com>", sender=jane, subject="export", body="Any news?", to=token_address),
        rcpt=token_address,
    )
    # 4: In-Reply-To only (some mobile clients), pointing at our second answer.
    await deliver(
        smtp_in,
        mail(
            "<m4@example.com>",
            sender=jane,
            subject="RE: Export broken",
            body="Hello?",
            headers=f"In-Reply-To: {ours2}\r\n",
        ),
    )
    # 5: References only, pointing at the customer's own earlier mail.
    await deliver(
        smtp_in,
        mail(
            "<m5@example.com>",
            sender=jane,
            subject="Aw: Export broken",
            body="Works now",
            headers="References: <m3@example.com>\r\n",
        ),
    )

    inbound = (
        await Message.filter(direction="in")
        .order_by("id")
        .values_list("conversation_id", flat=True)
    )
    assert list(inbound) == [conversation.id] * 5  # type: ignore[comparison-overlap]
    assert await Conversation.all().count() == 1


async def test_same_subject_different_customers_never_merge(smtp_in: int) -> None:
    await deliver(
        smtp_in,
        mail("<a1@a.example>", sender="Ann <ann@a.example>", subject="Invoice", body="Wrong VAT"),
    )
    await deliver(
        smtp_in,
        mail("<b1@b.example>", sender="Bob <bob@b.example>", subject="Invoice", body="Wrong total"),
    )
    await deliver(
        smtp_in,
        mail("<b2@b.example>", sender="Bob <bob@b.example>", subject="Re: Invoice", body="Hello?"),
    )
    rows = (
        await Message.filter(direction="in")
        .order_by("id")
        .values_list("conversation_id", flat=True)
    )
    assert len(set(rows)) == 3  # no References, no token: a subject alone never threads
    assert await Conversation.all().count() == 3


async def test_auto_reply_to_our_reply_is_recorded_and_suppressed(
    smtp_in: int, smtp_relay: SmtpRelay
) -> None:
    await deliver(
        smtp_in,
        mail(
            "<t1@contoso.com>",
            sender="Tom <tom.baker@contoso.com>",
            subject="Invoice question",
            body="Which plan am I on?",
        ),
    )
    conversation = await Conversation.get(thread_key="<t1@contoso.com>")
    ours = await answer(smtp_relay, conversation, "r-201")
    ooo = eml("out_of_office.eml").replace(b"<supportbot.r-201@acme.example>", ours.encode())
    await deliver(smtp_in, ooo)
    stored = await Message.get(
        channel_message_id="<AM0PR07MB-ooo-1@am0pr07mb1234.eurprd07.prod.outlook.com>"
    )
    assert stored.conversation_id == conversation.id  # type: ignore[attr-defined]
    assert stored.suppress_reply == "auto-submitted: auto-replied"


async def test_imap_and_smtp_copies_of_one_mail_are_stored_once(
    smtp_in: int, db: Settings, options: MailOptions
) -> None:
    raw = eml("gmail_reply.eml")
    await deliver(smtp_in, raw)
    with FakeImapServer() as server:
        server.deliver(raw)
        server.deliver(raw)
        account = ImapAccount(
            host=server.host,
            port=server.port,
            user=server.user,
            password=server.password,
            use_ssl=False,
            starttls=False,
        )
        poller = ImapPoller(
            connect=imap_connector(account),
            accept=accept,
            options=options,
            cursor_key=f"imap:{account.cursor_name}/INBOX",
        )
        try:
            assert await poller.poll_once() == 2
        finally:
            await poller.close()
    assert (
        await Message.filter(channel_message_id="<CAJx9kQ2Second+Reply=abc@mail.gmail.com>").count()
        == 1
    )
