"""SmtpSender against a real (recording) aiosmtpd relay on loopback."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from imapclient import IMAPClient

from bot.domain import Channel, Reply, Sender, SendError
from channels.mail.archive import SentArchive
from channels.mail.compose import references_chain
from channels.mail.imap_connect import ImapAccount, imap_connector
from channels.mail.parse import OwnMail, parse_mail
from channels.mail.sender import SmtpSender, smtp_connector
from tests.channels.mail.conftest import DOMAIN, simple_mail
from tests.conftest import SettingsFactory
from tests.fakes.imap_server import FakeImapServer
from tests.fakes.smtp_relay import SmtpRelay

NOW = datetime(2025, 3, 4, 17, 1, tzinfo=UTC)
META: dict[str, Any] = {
    "message_id": "<CAJx9kQ2Second@mail.gmail.com>",
    "references": ["<CAJx9kQ1first@mail.gmail.com>", "<supportbot.r-100@acme.example>"],
    "subject": "Re: RE: Cannot reset my password",
    "customer_address": "jane.doe@gmail.com",
    "from": "jane.doe@gmail.com",
}


def make_reply(**changes: Any) -> Reply:
    fields: dict[str, Any] = {
        "reply_id": "r-101",
        "channel": Channel.EMAIL,
        "conversation_id": 7,
        "thread_key": "<CAJx9kQ1first@mail.gmail.com>",
        "text": "Hi Jane,\n\nYes: Settings → Account → E-mail.\n\nAcme Support",
        "decided_by": "U123",
        "in_reply_to": "<CAJx9kQ2Second@mail.gmail.com>",
        "recipient": Sender(id="jane.doe@gmail.com", email="jane.doe@gmail.com", name="Jane Doe"),
        "conversation_token": "tok12345",
        "subject": None,
        "thread_metadata": META,
        "related_message_ids": (
            "<CAJx9kQ1first@mail.gmail.com>",
            "<supportbot.r-100@acme.example>",
            "<CAJx9kQ2Second@mail.gmail.com>",
        ),
    }
    fields.update(changes)
    return Reply(**fields)


def sender_for(relay: SmtpRelay) -> SmtpSender:
    return SmtpSender(
        connect=smtp_connector(host=relay.host, port=relay.port, starttls=False, timeout=10),
        support_address=f"support@{DOMAIN}",
        sender_name="Acme Cloud",
        clock=lambda: NOW,
    )


async def test_reply_headers_thread_the_conversation(smtp_relay: SmtpRelay) -> None:
    result = await sender_for(smtp_relay).send(make_reply())
    [relayed] = smtp_relay.messages
    msg = relayed.message
    assert relayed.mail_from == f"support@{DOMAIN}" and relayed.rcpt_tos == ("jane.doe@gmail.com",)
    assert msg["From"] == f"Acme Cloud <support@{DOMAIN}>"
    assert msg["Reply-To"] == f"support+tok12345@{DOMAIN}"
    assert msg["To"] == "Jane Doe <jane.doe@gmail.com>"
    assert msg["Subject"] == "Re: Cannot reset my password"
    assert msg["In-Reply-To"] == "<CAJx9kQ2Second@mail.gmail.com>"
    assert msg["References"].split() == [
        "<CAJx9kQ1first@mail.gmail.com>",
        "<supportbot.r-100@acme.example>",
        "<CAJx9kQ2Second@mail.gmail.com>",
    ]
    assert msg["Message-ID"] == f"<supportbot.r-101@{DOMAIN}>" == result.channel_message_id
    assert msg["Date"] == "Tue, 04 Mar 2025 17:01:00 +0000"
    assert msg["X-Supportbot"] == "1" and msg["Auto-Submitted"] is None
    plain = msg.get_body(("plain",))
    html = msg.get_body(("html",))
    assert plain is not None and "Settings → Account" in plain.get_content()
    assert html is not None and "<p>Hi Jane,</p>" in html.get_content()
    # Our own reply, if it ever comes back in (cc, list, relay loop), is never ingested.
    with pytest.raises(OwnMail):
        parse_mail(relayed.raw, our_domains=frozenset({DOMAIN}))


async def test_auto_reply_is_marked_and_retry_keeps_message_id(smtp_relay: SmtpRelay) -> None:
    sender = sender_for(smtp_relay)
    await sender.send(make_reply(auto=True))
    await sender.send(make_reply(auto=True))
    first, second = (m.message for m in smtp_relay.messages)
    assert first["Auto-Submitted"] == "auto-replied"  # RFC 3834 5.1
    assert first["Message-ID"] == second["Message-ID"]


async def test_temporary_failures_are_retryable(smtp_relay: SmtpRelay) -> None:
    sender = sender_for(smtp_relay)
    for address in ("tempfail@example.com", "datafail@example.com"):
        with pytest.raises(SendError) as caught:
            await sender.send(make_reply(recipient=Sender(id=address, email=address)))
        assert caught.value.permanent is False
    assert smtp_relay.messages == []


async def test_5xx_is_permanent(smtp_relay: SmtpRelay) -> None:
    with pytest.raises(SendError) as caught:
        await sender_for(smtp_relay).send(
            make_reply(recipient=Sender(id="x", email="reject@example.com"))
        )
    assert caught.value.permanent is True and "550" in str(caught.value)


async def test_connection_refused_is_temporary(smtp_relay: SmtpRelay) -> None:
    port = smtp_relay.port
    await smtp_relay.close()
    sender = SmtpSender(
        connect=smtp_connector(host="127.0.0.1", port=port, starttls=False, timeout=5),
        support_address=f"support@{DOMAIN}",
    )
    with pytest.raises(SendError) as caught:
        await sender.send(make_reply())
    assert caught.value.permanent is False


async def test_unaddressable_reply_is_permanent(smtp_relay: SmtpRelay) -> None:
    reply = make_reply(recipient=Sender(id="U1"), thread_metadata={})
    with pytest.raises(SendError) as caught:
        await sender_for(smtp_relay).send(reply)
    assert caught.value.permanent is True


async def test_subject_from_metadata_when_dropped_references(smtp_relay: SmtpRelay) -> None:
    meta = {
        "message_id": "<only@example.com>",
        "subject": "AW: Aw: Rechnung",
        "customer_address": "a@example.com",
    }
    reply = make_reply(
        thread_metadata=meta,
        related_message_ids=(),
        in_reply_to=None,
        recipient=Sender(id="a@example.com", email="a@example.com"),
    )
    await sender_for(smtp_relay).send(reply)
    msg = smtp_relay.messages[0].message
    assert msg["Subject"] == "Re: Rechnung"
    assert msg["In-Reply-To"] == "<only@example.com>" and msg["References"] == "<only@example.com>"


def test_from_settings(make_settings: SettingsFactory) -> None:
    with pytest.raises(ValueError, match="SMTP_HOST"):
        SmtpSender.from_settings(make_settings())
    sender = SmtpSender.from_settings(
        make_settings(SMTP_HOST="127.0.0.1", SUPPORTBOT_SUPPORT_ADDRESS=f"support@{DOMAIN}")
    )
    assert isinstance(sender, SmtpSender) and sender._archive is None
    archiving = SmtpSender.from_settings(make_settings(
        SMTP_HOST="127.0.0.1", SUPPORTBOT_SUPPORT_ADDRESS=f"support@{DOMAIN}",
        IMAP_HOST="127.0.0.1", IMAP_USER="support", IMAP_SENT_FOLDER="Sent"))
    assert isinstance(archiving._archive, SentArchive)


def test_references_are_the_parents_then_the_parent_per_rfc_5322() -> None:
    meta = {"message_id": "<c2@example.com>", "in_reply_to": ["<supportbot.r-1@acme.example>"]}
    related = ("<c1@example.com>", "<supportbot.r-1@acme.example>", "<c2@example.com>")
    # The customer's client sent no References: its In-Reply-To stands in, the parent is last.
    assert references_chain(meta, related) == [
        "<c1@example.com>", "<supportbot.r-1@acme.example>", "<c2@example.com>"]
    meta = {"message_id": "<c3@example.com>", "references": ["<a@example.com>", "<b@example.com>"]}
    assert references_chain(meta, ("<a@example.com>", "<b@example.com>", "<c3@example.com>")) \
        == ["<a@example.com>", "<b@example.com>", "<c3@example.com>"]
    assert references_chain({"message_id": "<solo@example.com>"}, ()) == ["<solo@example.com>"]


async def test_no_in_reply_to_when_the_customer_mail_had_no_message_id(
    smtp_relay: SmtpRelay,
) -> None:
    synthetic = "<0123abcd@synthesized.supportbot.invalid>"
    meta = {**META, "message_id": synthetic, "synthesized_message_id": True, "references": []}
    await sender_for(smtp_relay).send(make_reply(thread_metadata=meta, in_reply_to=synthetic,
                                                 related_message_ids=(synthetic,)))
    msg = smtp_relay.messages[0].message
    assert msg["In-Reply-To"] is None and msg["References"] is None


async def test_reply_all_keeps_participants_on_cc_minus_our_addresses(
    smtp_relay: SmtpRelay,
) -> None:
    meta = {**META, "to": [f"support@{DOMAIN}", "carol@example.org"],
            "cc": [f"bob@{DOMAIN}", f"support+tok12345@{DOMAIN}", "Jane.Doe@gmail.com",
                   f"billing@{DOMAIN}"]}
    sender = SmtpSender(
        connect=smtp_connector(host=smtp_relay.host, port=smtp_relay.port, starttls=False),
        support_address=f"support@{DOMAIN}", clock=lambda: NOW, cc_participants=True,
        own_addresses=frozenset({f"billing@{DOMAIN}"}), our_domains=frozenset({DOMAIN}),
    )
    result = await sender.send(make_reply(thread_metadata=meta))
    [relayed] = smtp_relay.messages
    assert relayed.message["To"] == "Jane Doe <jane.doe@gmail.com>"
    assert relayed.message["Cc"] == f"carol@example.org, bob@{DOMAIN}"
    assert relayed.rcpt_tos == ("jane.doe@gmail.com", "carol@example.org", f"bob@{DOMAIN}")
    assert result.metadata["cc"] == ["carol@example.org", f"bob@{DOMAIN}"]


async def test_cc_is_off_unless_configured(smtp_relay: SmtpRelay) -> None:
    meta = {**META, "cc": ["carol@example.org"]}
    await sender_for(smtp_relay).send(make_reply(thread_metadata=meta))
    assert smtp_relay.messages[0].message["Cc"] is None
    assert smtp_relay.messages[0].rcpt_tos == ("jane.doe@gmail.com",)


async def test_a_sent_reply_is_copied_to_sent_and_the_original_flagged_answered(
    smtp_relay: SmtpRelay, imap_server: FakeImapServer
) -> None:
    imap_server.deliver(simple_mail("<CAJx9kQ2Second@mail.gmail.com>"))
    imap_server.deliver(simple_mail("<someone-else@example.com>"))
    account = ImapAccount(host=imap_server.host, port=imap_server.port, user=imap_server.user,
                          password=imap_server.password, use_ssl=False, timeout=10)
    sender = SmtpSender(
        connect=smtp_connector(host=smtp_relay.host, port=smtp_relay.port, starttls=False),
        support_address=f"support@{DOMAIN}", clock=lambda: NOW,
        archive=SentArchive(connect=imap_connector(account), sent_folder="Sent"),
    )
    await sender.send(make_reply())
    assert len(smtp_relay.messages) == 1
    assert list(imap_server.flags("Sent").values()) == [{"\\Seen"}]
    assert imap_server.flags() == {101: {"\\Answered"}, 102: set()}


async def test_a_failing_sent_copy_never_fails_the_delivered_reply(
    smtp_relay: SmtpRelay, caplog: pytest.LogCaptureFixture
) -> None:
    def refused() -> IMAPClient:
        raise ConnectionRefusedError("imap down")

    sender = SmtpSender(
        connect=smtp_connector(host=smtp_relay.host, port=smtp_relay.port, starttls=False),
        support_address=f"support@{DOMAIN}", clock=lambda: NOW,
        archive=SentArchive(connect=refused),
    )
    result = await sender.send(make_reply())
    assert result.channel_message_id == f"<supportbot.r-101@{DOMAIN}>"
    assert "Sent copy" in caplog.text and len(smtp_relay.messages) == 1
