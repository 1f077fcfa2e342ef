"""Participants: someone other than the customer writing into a conversation (through its
plus-address token or a reply-all) is shown as itself, reviewed, and never auto-answered."""

from __future__ import annotations

import asyncio
import smtplib
from collections.abc import AsyncIterator

import pytest

from bot.store.inbox import accept
from bot.store.models import Conversation, Message
from channels.mail.inbound import MailOptions, email_customer_of
from channels.mail.smtp_server import InboundSmtpHandler, start_smtp_server
from config import Settings
from tests.channels.mail.conftest import DOMAIN


@pytest.fixture
async def smtp_port(db: Settings, options: MailOptions) -> AsyncIterator[int]:
    handler = InboundSmtpHandler(accept=accept, domains=[DOMAIN], options=options,
                                 customer_of=email_customer_of)
    server = await start_smtp_server(handler, host="127.0.0.1", port=0, data_size_limit=1 << 20)
    yield server.sockets[0].getsockname()[1]
    server.close()
    await server.wait_closed()


def mail(message_id: str, sender: str, to: str, headers: str = "") -> bytes:
    return (f"From: {sender}\r\nTo: {to}\r\nSubject: Order 77\r\nMessage-ID: {message_id}\r\n"
            f"Date: Tue, 4 Mar 2025 10:00:00 +0000\r\n{headers}"
            "Content-Type: text/plain; charset=utf-8\r\n\r\nWhere is order 77?\r\n").encode()


def send(port: int, raw: bytes, rcpt: str) -> None:
    with smtplib.SMTP("127.0.0.1", port, timeout=10) as client:
        client.sendmail("x@example.com", [rcpt], raw)


async def test_a_third_party_writing_via_the_token_is_shown_as_itself_and_flagged(
    smtp_port: int,
) -> None:
    support = f"support@{DOMAIN}"
    await asyncio.to_thread(send, smtp_port, mail("<j1@example.com>", "Jane <jane@example.com>",
                                                  support), support)
    conversation = await Conversation.get().select_related("customer")
    token_address = f"support+{conversation.token}@{DOMAIN}"
    await asyncio.to_thread(send, smtp_port, mail("<c1@other.example>",
                                                  "Carol <carol@other.example>", token_address),
                            token_address)
    await asyncio.to_thread(send, smtp_port, mail("<j2@example.com>", "Jane <jane@example.com>",
                                                  token_address), token_address)
    assert await Conversation.all().count() == 1
    conversation = await Conversation.get().select_related("customer")
    assert conversation.customer is not None and conversation.customer.email == "jane@example.com"
    carol = await Message.get(channel_message_id="<c1@other.example>")
    assert carol.author == "Carol" and carol.conversation_id == conversation.id
    assert carol.metadata["participant"] == "third_party"
    assert carol.metadata["conversation_customer"] == "jane@example.com"
    assert "not by the conversation's customer" in carol.metadata["review_reasons"][0]
    jane = await Message.get(channel_message_id="<j2@example.com>")
    assert "participant" not in jane.metadata and "review_reasons" not in jane.metadata


async def test_a_cc_colleague_replying_all_is_a_third_party_too(smtp_port: int) -> None:
    support = f"support@{DOMAIN}"
    await asyncio.to_thread(send, smtp_port, mail("<j1@example.com>", "jane@example.com",
                                                  support), support)
    reply_all = mail("<bob1@example.com>", "Bob <bob@example.com>", support,
                     headers="In-Reply-To: <j1@example.com>\r\nReferences: <j1@example.com>\r\n")
    await asyncio.to_thread(send, smtp_port, reply_all, support)
    bob = await Message.get(channel_message_id="<bob1@example.com>")
    assert bob.metadata["participant"] == "third_party"
    assert await Conversation.all().count() == 1
