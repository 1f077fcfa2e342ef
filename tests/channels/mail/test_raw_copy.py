"""The original of every accepted mail is kept (compressed, in the database) and purged by
retention; a mail whose original cannot be kept is refused with a temporary failure."""

from __future__ import annotations

import asyncio
import smtplib
from collections.abc import AsyncIterator
from datetime import timedelta

import pytest

from bot.clock import utcnow
from bot.ops.jobs import purge_retention
from bot.store import mail as mail_store
from bot.store.inbox import accept
from bot.store.models import Message, RawMail
from channels.mail.inbound import MailOptions
from channels.mail.smtp_server import InboundSmtpHandler, start_smtp_server
from config import Settings
from tests.channels.mail.conftest import DOMAIN, RecordingAccept, eml


@pytest.fixture
async def smtp_port(db: Settings, options: MailOptions) -> AsyncIterator[int]:
    handler = InboundSmtpHandler(accept=accept, domains=[DOMAIN], options=options,
                                 keep_raw=mail_store.keep_raw_mail)
    server = await start_smtp_server(handler, host="127.0.0.1", port=0, data_size_limit=1 << 22)
    yield server.sockets[0].getsockname()[1]
    server.close()
    await server.wait_closed()


def _send(port: int, raw: bytes) -> dict[str, tuple[int, bytes]]:
    with smtplib.SMTP("127.0.0.1", port, timeout=10) as client:
        return client.sendmail("jane@example.com", [f"support@{DOMAIN}"], raw)


async def test_a_boundaryless_multipart_is_stored_with_its_text_and_its_original(
    smtp_port: int,
) -> None:
    raw = eml("boundaryless_multipart.eml")
    assert await asyncio.to_thread(_send, smtp_port, raw) == {}
    message = await Message.get(channel_message_id="<boundaryless-1@example.com>")
    assert "Where is it?" in message.text
    ref = message.metadata["raw"]
    original = await mail_store.raw_mail(ref["sha256"])
    assert original is not None and original.replace(b"\r\n", b"\n") == raw.replace(b"\r\n", b"\n")
    assert ref["size"] == len(original)
    row = await RawMail.get(sha256=ref["sha256"])
    assert len(bytes(row.data)) < row.size  # compressed


async def test_the_same_mail_twice_keeps_one_original(smtp_port: int) -> None:
    for _ in range(2):
        await asyncio.to_thread(_send, smtp_port, eml("apple_mail.eml"))
    assert await RawMail.all().count() == 1
    assert await Message.all().count() == 1


async def test_retention_purges_originals(smtp_port: int) -> None:
    await asyncio.to_thread(_send, smtp_port, eml("ps_after_signoff.eml"))
    job = purge_retention(days=30)
    await job(utcnow())
    assert await RawMail.all().count() == 1
    result = await job(utcnow() + timedelta(days=31))
    assert await RawMail.all().count() == 0
    assert "1 raw mails" in result


async def test_an_original_that_cannot_be_kept_is_a_temporary_failure(
    options: MailOptions, recording_accept: RecordingAccept
) -> None:
    async def broken_store(sha256: str, size: int, data: bytes) -> None:
        raise OSError("disk full")

    handler = InboundSmtpHandler(accept=recording_accept, domains=[DOMAIN], options=options,
                                 keep_raw=broken_store)
    server = await start_smtp_server(handler, host="127.0.0.1", port=0, data_size_limit=1 << 20)
    port = server.sockets[0].getsockname()[1]
    try:
        with pytest.raises(smtplib.SMTPDataError) as refused:
            await asyncio.to_thread(_send, port, eml("apple_mail.eml"))
    finally:
        server.close()
        await server.wait_closed()
    assert refused.value.smtp_code == 451
    assert recording_accept.calls == []
