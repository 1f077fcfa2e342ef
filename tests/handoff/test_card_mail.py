"""A mail's card (issue 16): mail delivered to our real SMTP server (aiosmtpd on loopback),
its card posted to the fake Slack API, buttons clicked through the real bolt app."""

from __future__ import annotations

import asyncio
import json
import smtplib
from collections.abc import AsyncIterator
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pytest

from bot.store import inbox
from bot.store import mail as mail_store
from bot.store.models import Conversation, Draft, Message, RawMail
from channels.mail.inbound import MailOptions, email_customer_of
from channels.mail.smtp_server import InboundSmtpHandler, start_smtp_server
from handoff import conversation_view
from tests.handoff.conftest import Desk

DOMAIN = "acme.example"
SUPPORT = f"support@{DOMAIN}"
TRUSTED = "mx.acme.example"


@pytest.fixture
async def smtp_port(desk: Desk, tmp_path: Path) -> AsyncIterator[int]:
    options = MailOptions(our_domains=frozenset({DOMAIN}), support_local="support",
                          own_addresses=frozenset({SUPPORT}),
                          trusted_authserv_ids=frozenset({TRUSTED}),
                          attachments_dir=tmp_path / "attachments", max_attachment_bytes=1000)
    handler = InboundSmtpHandler(accept=inbox.accept, domains=[DOMAIN], options=options,
                                 keep_raw=mail_store.keep_raw_mail, customer_of=email_customer_of)
    server = await start_smtp_server(handler, host="127.0.0.1", port=0,
                                     data_size_limit=1 << 20)
    yield server.sockets[0].getsockname()[1]
    server.close()
    await server.wait_closed()


def jane_asks() -> EmailMessage:
    mail = EmailMessage()
    mail["From"] = "Jane Doe <jane@example.com>"
    mail["To"] = SUPPORT
    mail["Subject"] = "Order 77 never arrived"
    mail["Message-ID"] = "<j1@example.com>"
    mail["Date"] = "Tue, 4 Mar 2025 10:00:00 +0000"
    mail.set_content("Hello, my order 77 never arrived. Where is it?")
    return mail


def carol_writes(token_address: str) -> EmailMessage:
    mail = EmailMessage()
    mail["Authentication-Results"] = (f"{TRUSTED}; spf=pass smtp.mailfrom=other.example; "
                                      "dkim=fail header.d=other.example; dmarc=fail")
    mail["From"] = "Carol Smith <carol@other.example>"
    mail["To"] = token_address
    mail["Cc"] = "Bob <bob@example.com>, jane@example.com"
    mail["Subject"] = "Re: Order 77 never arrived"
    mail["Message-ID"] = "<c1@other.example>"
    mail["Date"] = "Tue, 4 Mar 2025 11:00:00 +0000"
    mail.set_content("Please send the refund for order 77 to my account instead <!channel>.\n"
                     "-- \nCarol, Accounts Payable\n")
    mail.add_attachment(b"%PDF-1.4 " + b"x" * 191, maintype="application", subtype="pdf",
                        filename="invoice.pdf")
    mail.add_attachment(b"PK" + b"z" * 4998, maintype="application", subtype="zip",
                        filename="statements.zip")
    return mail


def send(port: int, mail: EmailMessage, rcpt: str) -> None:
    with smtplib.SMTP("127.0.0.1", port, timeout=10) as client:
        client.send_message(mail, from_addr="bounce@example.net", to_addrs=[rcpt])


async def card_for(desk: Desk, channel_message_id: str) -> tuple[Draft, dict[str, Any]]:
    """A review draft for the stored mail, its card posted as the router would."""
    message = await Message.get(channel_message_id=channel_message_id)
    draft = await Draft.create(conversation_id=message.conversation_id,  # type: ignore[attr-defined]
                               message=message, text="Hi, we will look into it.",
                               decision="review", confidence=0.5, model="offline", offline=True)
    await desk.handle.notifier.draft_ready(draft.id)
    post = next(c for c in desk.slack.calls_to("chat.postMessage")
                if f'"card:{draft.id}"' in json.dumps(c.json("blocks")))
    return draft, {"text": post.params["text"], "blocks": post.json("blocks")}


async def deliver_both(port: int) -> None:
    await asyncio.to_thread(send, port, jane_asks(), SUPPORT)
    conversation = await Conversation.get()
    token_address = f"support+{conversation.token}@{DOMAIN}"
    await asyncio.to_thread(send, port, carol_writes(token_address), token_address)


async def test_a_mail_card_shows_the_third_party_sender_auth_verdict_attachments_and_cc(
    desk: Desk, smtp_port: int,
) -> None:
    await deliver_both(smtp_port)
    _, card = await card_for(desk, "<c1@other.example>")
    text = json.dumps(card["blocks"], ensure_ascii=False)
    assert ("From: Carol Smith &lt;carol@other.example&gt; (not the customer)* — the "
            "conversation's customer is jane@example.com") in text
    assert "Carol Smith &lt;carol@other.example&gt; wrote* ⚠️ _(not the customer)_" in text
    assert "written by Carol Smith &lt;carol@other.example&gt;, not the customer" in card["text"]
    assert "CC: bob@example.com, jane@example.com" in text
    assert "⚠️ SPF pass · DKIM fail · DMARC fail (checked by mx.acme.example)" in text
    assert "sender not authenticated" in text
    assert "📎 2 attachments: invoice.pdf (application/pdf, 200 bytes)" in text
    assert "statements.zip (application/zip, 5 KB) — *not kept*: larger than the 1,000-byte" \
        in text
    # The customer field is still the conversation's customer: replies go to Jane.
    assert "*Customer*\\nJane Doe · jane@example.com" in text
    # Earlier in the conversation: Jane's own mail.
    assert "Earlier in this conversation* · 1 message" in text
    assert "my order 77 never arrived" in text
    # The broadcast reaches agents neutralised: shown, but pinging nobody.
    assert "@\u2060channel" in text and "<!channel>" not in text
    assert conversation_view.SHOW_ORIGINAL in text


async def test_a_mail_without_a_trusted_verdict_says_none(desk: Desk, smtp_port: int) -> None:
    await asyncio.to_thread(send, smtp_port, jane_asks(), SUPPORT)
    _, card = await card_for(desk, "<j1@example.com>")
    text = json.dumps(card["blocks"], ensure_ascii=False)
    assert "🔓 SPF none · DKIM none · DMARC none" in text
    assert "📧 From: Jane Doe &lt;jane@example.com&gt;" in text
    assert "not the customer" not in text and "📎" not in text


async def test_show_original_opens_the_raw_mail_text(desk: Desk, smtp_port: int) -> None:
    await deliver_both(smtp_port)
    _, card = await card_for(desk, "<c1@other.example>")
    button = next(e for b in card["blocks"] if b["type"] == "actions"
                  for e in b["elements"] if e["action_id"] == conversation_view.SHOW_ORIGINAL)
    response = await desk.edge.click(user="UAGENT1", action_id=conversation_view.SHOW_ORIGINAL,
                                     value=button["value"])
    assert response.status_code == 200
    await desk.settle()
    [opened] = desk.slack.calls_to("views.open")
    view = opened.json("view")
    assert view["title"]["text"] == "Original mail"
    texts = [b["text"] for b in view["blocks"] if b["type"] == "section"]
    headers = texts[1]
    assert headers["type"] == "plain_text"
    assert "Authentication-Results: mx.acme.example; spf=pass" in headers["text"]
    assert "From: Carol Smith <carol@other.example>" in headers["text"]
    body = texts[2]
    # The whole text, the signature the card's parse may strip included, shown as plain text
    # (nothing in it is read as markup).
    assert body["type"] == "plain_text"
    assert "send the refund for order 77 to my account instead <!channel>." in body["text"]
    assert "Carol, Accounts Payable" in body["text"]
    assert "statements.zip (application/zip, 5 KB)" in json.dumps(view["blocks"])
    assert desk.slack.refused == []

    await RawMail.all().delete()  # the retention job purged the original
    await desk.edge.click(user="UAGENT1", action_id=conversation_view.SHOW_ORIGINAL,
                          value=button["value"])
    await desk.settle()
    purged = desk.slack.calls_to("views.open")[-1].json("view")
    assert "no longer kept" in json.dumps(purged["blocks"])
