"""Several support addresses (SUPPORTBOT_MAIL_ADDRESSES): a customer who writes to billing@
is answered From billing@, with a billing+<token>@ Reply-To that threads on its own; mail in
through our aiosmtpd server and through a pymap mailbox, replies out through the outbox's
stored reply and ``SmtpSender`` to a recording relay; SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
import smtplib
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from email.utils import parseaddr

import pytest

from bot.domain import Channel, Reply, Sender, SendResult
from bot.store import mail as mail_store
from bot.store.inbox import accept
from bot.store.models import Conversation, Message
from bot.store.outbox import claim_due, enqueue_reply, mark_sent, payload_to_reply
from bot.store.outbox import get as outbox_get
from channels.mail.imap import ImapPoller
from channels.mail.imap_connect import ImapAccount, imap_connector
from channels.mail.imap_start import StartPolicy
from channels.mail.inbound import MailOptions
from channels.mail.sender import SmtpSender
from channels.mail.smtp_server import InboundSmtpHandler, start_smtp_server
from config import Settings, SettingsError
from tests.channels.mail.conftest import DOMAIN
from tests.conftest import SettingsFactory
from tests.fakes.imap_server import FakeImapServer
from tests.fakes.smtp_relay import SmtpRelay

SUPPORT, BILLING, SALES = f"support@{DOMAIN}", f"billing@{DOMAIN}", f"sales@{DOMAIN}"


@pytest.fixture
def settings(db: Settings, make_settings: SettingsFactory, smtp_relay: SmtpRelay) -> Settings:
    return make_settings(
        DATABASE_URL=db.database_url.get_secret_value() if db.database_url else "",
        SUPPORTBOT_DATA_DIR=str(db.data_dir), SUPPORTBOT_SUPPORT_ADDRESS=SUPPORT,
        SUPPORTBOT_MAIL_ADDRESSES=f"{BILLING}, Sales@{DOMAIN}", SUPPORTBOT_MAIL_DOMAINS=DOMAIN,
        SMTP_HOST=smtp_relay.host, SMTP_PORT=smtp_relay.port, SMTP_STARTTLS="false")


@pytest.fixture
async def smtp_in(settings: Settings) -> AsyncIterator[int]:
    handler = InboundSmtpHandler(accept=accept, domains=settings.mail_domains,
                                 options=MailOptions.from_settings(settings),
                                 keep_raw=mail_store.keep_raw_mail)
    server = await start_smtp_server(handler, host="127.0.0.1", port=0, data_size_limit=1 << 20)
    yield server.sockets[0].getsockname()[1]
    server.close()
    await server.wait_closed()


def mail(message_id: str, *, to: str, subject: str = "Invoice 1042", body: str = "Wrong VAT",
         headers: str = "") -> bytes:
    return (f"From: Ann <ann@example.org>\r\nTo: {to}\r\nSubject: {subject}\r\n"
            f"Message-ID: {message_id}\r\nDate: Tue, 4 Mar 2025 10:00:00 +0000\r\n{headers}"
            f"Content-Type: text/plain; charset=utf-8\r\n\r\n{body}\r\n").encode()


async def deliver(port: int, raw: bytes, rcpt: str) -> None:
    def send() -> None:
        with smtplib.SMTP("127.0.0.1", port, timeout=10) as client:
            client.sendmail("ann@example.org", [rcpt], raw)

    await asyncio.to_thread(send)


async def reply_to_latest(settings: Settings, conversation_id: int) -> SendResult:
    """The outbox's path: the reply queued (it answers the latest customer message),
    claimed, sent by ``SmtpSender`` and recorded as our outgoing message."""
    await enqueue_reply(conversation_id=conversation_id, text="Fixed, sorry.",
                        decided_by="U1", draft_id=None, auto=False)
    now = datetime.now(UTC)
    [item_id] = await claim_due("test", now=now, lease=timedelta(minutes=1), limit=1)
    item = await outbox_get(item_id)
    reply = payload_to_reply(item.payload)
    result = await SmtpSender.from_settings(settings).send(reply)
    await mark_sent(item, reply, owner="test", now=now,
                    channel_message_id=result.channel_message_id, meta=dict(result.metadata))
    return result


async def test_a_mail_to_billing_is_answered_from_billing_and_threads_by_its_token(
    settings: Settings, smtp_in: int, smtp_relay: SmtpRelay
) -> None:
    await deliver(smtp_in, mail("<b1@example.org>", to=BILLING), BILLING)
    conversation = await Conversation.get(thread_key="<b1@example.org>")
    await reply_to_latest(settings, conversation.id)

    relayed = smtp_relay.messages[-1]
    assert relayed.mail_from == BILLING
    assert parseaddr(str(relayed.message["From"]))[1] == BILLING
    token_address = f"billing+{conversation.token}@{DOMAIN}"
    assert relayed.message["Reply-To"] == token_address

    # Ann's client drops every threading header and answers the Reply-To: same conversation,
    # and the answer again comes from billing@.
    await deliver(smtp_in, mail("<b2@example.org>", to=token_address, subject="hello?",
                                body="Any news?"), token_address)
    second = await Message.get(channel_message_id="<b2@example.org>")
    assert second.conversation_id == conversation.id  # type: ignore[attr-defined]
    await reply_to_latest(settings, conversation.id)
    assert smtp_relay.messages[-1].mail_from == BILLING
    assert smtp_relay.messages[-1].message["Reply-To"] == token_address


async def test_each_address_answers_for_itself(
    settings: Settings, smtp_in: int, smtp_relay: SmtpRelay
) -> None:
    await deliver(smtp_in, mail("<s1@example.org>", to=SALES.upper()), SALES)
    await deliver(smtp_in, mail("<m1@example.org>", to=SUPPORT), SUPPORT)
    for thread_key, expected in (("<s1@example.org>", SALES), ("<m1@example.org>", SUPPORT)):
        conversation = await Conversation.get(thread_key=thread_key)
        await reply_to_latest(settings, conversation.id)
        assert parseaddr(str(smtp_relay.messages[-1].message["From"]))[1] == expected
        assert smtp_relay.messages[-1].mail_from == expected


async def test_an_alias_delivered_into_the_imap_mailbox_is_answered_from_the_alias(
    settings: Settings, smtp_relay: SmtpRelay
) -> None:
    # A provider alias (or group) puts sales@ mail into the one watched mailbox; the To line
    # names a list the customer used, Delivered-To the address it reached.
    raw = mail("<i1@example.org>", to="Team <team-list@example.org>",
               headers=f"Delivered-To: {SALES}\r\n")
    with FakeImapServer() as server:
        server.deliver(raw)
        account = ImapAccount(host=server.host, port=server.port, user=server.user,
                              password=server.password, use_ssl=False, starttls=False)
        poller = ImapPoller(connect=imap_connector(account), accept=accept,
                            options=MailOptions.from_settings(settings),
                            cursor_key="imap:aliases/INBOX", start=StartPolicy(mode="unseen"),
                            keep_raw=mail_store.keep_raw_mail)
        try:
            assert await poller.poll_once() == 1
        finally:
            await poller.close()
    conversation = await Conversation.get(thread_key="<i1@example.org>")
    await reply_to_latest(settings, conversation.id)
    assert smtp_relay.messages[-1].mail_from == SALES


async def test_an_address_that_is_not_ours_is_never_used_as_from(settings: Settings) -> None:
    sender = SmtpSender.from_settings(settings)
    forged = Reply(reply_id="r1", channel=Channel.EMAIL, conversation_id=1, thread_key="k",
                   text="x", decided_by="U1", in_reply_to=None,
                   recipient=Sender(id="a", email="ann@example.org"), conversation_token="t",
                   thread_metadata={"support_address": "ceo@elsewhere.example"})
    assert sender.from_address(forged) == SUPPORT


def test_further_addresses_must_be_plain_addresses(make_settings: SettingsFactory) -> None:
    for bad in ("billing", "Billing <billing@acme.example>", "billing+x@acme.example"):
        with pytest.raises(SettingsError, match="SUPPORTBOT_MAIL_ADDRESSES"):
            make_settings(SUPPORTBOT_MAIL_ADDRESSES=bad)
    assert make_settings(SUPPORTBOT_MAIL_ADDRESSES="A@x.example, b@y.example").mail_addresses == [
        "a@x.example", "b@y.example"]


async def test_without_plus_addressing_replies_carry_no_token_and_headers_thread(
    settings: Settings, make_settings: SettingsFactory, smtp_in: int, smtp_relay: SmtpRelay
) -> None:
    # A mail system that does not deliver billing+<token>@ would bounce the customer's answer:
    # with plus-addressing off the reply has no Reply-To, so the answer goes to billing@ and
    # In-Reply-To alone threads it.
    plain = make_settings(**{**_env(settings), "SUPPORTBOT_MAIL_PLUS_ADDRESSING": "false"})
    await deliver(smtp_in, mail("<p1@example.org>", to=BILLING), BILLING)
    conversation = await Conversation.get(thread_key="<p1@example.org>")
    result = await reply_to_latest(plain, conversation.id)
    relayed = smtp_relay.messages[-1].message
    assert relayed["Reply-To"] is None
    assert f"+{conversation.token}@" not in relayed.as_string()
    assert parseaddr(str(relayed["From"]))[1] == BILLING

    await deliver(smtp_in, mail("<p2@example.org>", to=BILLING, subject="Re: Invoice 1042",
                                headers=f"In-Reply-To: {result.channel_message_id}\r\n"), BILLING)
    answer = await Message.get(channel_message_id="<p2@example.org>")
    assert answer.conversation_id == conversation.id  # type: ignore[attr-defined]


def _env(settings: Settings) -> dict[str, str]:
    """The variables the ``settings`` fixture was built from."""
    env = {"SUPPORTBOT_DATA_DIR": str(settings.data_dir),
           "SUPPORTBOT_SUPPORT_ADDRESS": SUPPORT, "SUPPORTBOT_MAIL_DOMAINS": DOMAIN,
           "SUPPORTBOT_MAIL_ADDRESSES": ",".join(settings.mail_addresses),
           "SMTP_HOST": settings.smtp_host or "", "SMTP_PORT": str(settings.smtp_port),
           "SMTP_STARTTLS": "false"}
    if settings.database_url is not None:
        env["DATABASE_URL"] = settings.database_url.get_secret_value()
    return env
