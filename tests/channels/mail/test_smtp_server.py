"""Our inbound SMTP server, driven by stdlib smtplib over loopback."""

from __future__ import annotations

import asyncio
import re
import smtplib
from collections.abc import AsyncIterator

import pytest

from channels.mail.inbound import MailOptions
from channels.mail.smtp_server import InboundSmtpHandler, serve_smtp, start_smtp_server
from tests.channels.mail.conftest import DOMAIN, RecordingAccept, eml, simple_mail
from tests.conftest import SettingsFactory

LIMIT = 64 * 1024


@pytest.fixture
async def smtp_port(recording_accept: RecordingAccept, options: MailOptions) -> AsyncIterator[int]:
    handler = InboundSmtpHandler(accept=recording_accept, domains=[DOMAIN], options=options)
    server = await start_smtp_server(handler, host="127.0.0.1", port=0, data_size_limit=LIMIT)
    yield server.sockets[0].getsockname()[1]
    server.close()
    await server.wait_closed()


def _send(port: int, raw: bytes, rcpts: list[str]) -> dict[str, tuple[int, bytes]]:
    # On the wire lines end in CRLF (RFC 5321 2.3.8); the .eml files use LF.
    wire = re.sub(rb"(?<!\r)\n", b"\r\n", raw)
    with smtplib.SMTP("127.0.0.1", port, timeout=10) as client:
        return client.sendmail("jane@example.com", rcpts, wire)


async def send(
    port: int, raw: bytes, rcpts: list[str] | None = None
) -> dict[str, tuple[int, bytes]]:
    return await asyncio.to_thread(_send, port, raw, rcpts or [f"support@{DOMAIN}"])


async def test_accepts_mail_for_our_domain(
    smtp_port: int, recording_accept: RecordingAccept
) -> None:
    refused = await send(smtp_port, eml("gmail_reply.eml"), [f"support+tok12345@{DOMAIN.upper()}"])
    assert refused == {}
    [inbound] = recording_accept.calls
    assert inbound.channel_message_id == "<CAJx9kQ2Second+Reply=abc@mail.gmail.com>"
    assert (
        inbound.metadata["source"] == "smtp"
        and inbound.metadata["conversation_token"] == "tok12345"
    )


async def test_refuses_other_domains_and_never_relays(
    smtp_port: int, recording_accept: RecordingAccept
) -> None:
    with pytest.raises(smtplib.SMTPRecipientsRefused) as caught:
        await send(smtp_port, simple_mail("<r@example.com>"), ["victim@elsewhere.example"])
    code, text = caught.value.recipients["victim@elsewhere.example"]
    assert code == 550 and b"5.1.1" in text
    assert recording_accept.calls == []


async def test_mixed_recipients_keep_only_ours(
    smtp_port: int, recording_accept: RecordingAccept
) -> None:
    refused = await send(
        smtp_port, simple_mail("<m@example.com>"), [f"support@{DOMAIN}", "x@elsewhere.example"]
    )
    assert refused["x@elsewhere.example"][0] == 550
    assert len(recording_accept.calls) == 1


async def test_too_big_is_552(smtp_port: int, recording_accept: RecordingAccept) -> None:
    raw = simple_mail("<big@example.com>", body=("x" * 70 + "\r\n") * (LIMIT // 50))
    with pytest.raises(smtplib.SMTPException) as caught:
        await send(smtp_port, raw)
    assert "552" in str(caught.value)
    assert recording_accept.calls == []


async def test_accept_failure_is_451_then_retry_succeeds(
    smtp_port: int, recording_accept: RecordingAccept
) -> None:
    recording_accept.failures = 1
    with pytest.raises(smtplib.SMTPDataError) as caught:
        await send(smtp_port, eml("apple_mail.eml"))
    assert caught.value.smtp_code == 451
    assert await send(smtp_port, eml("apple_mail.eml")) == {}
    assert len(recording_accept.stored) == 1


async def test_unparseable_mail_is_550_with_reason(
    smtp_port: int, recording_accept: RecordingAccept
) -> None:
    with pytest.raises(smtplib.SMTPDataError) as caught:
        await send(smtp_port, b"Subject: no sender here\r\n\r\nhello\r\n")
    assert caught.value.smtp_code == 550
    assert b"no sender address" in caught.value.smtp_error
    assert recording_accept.calls == []


async def test_own_mail_is_swallowed(smtp_port: int, recording_accept: RecordingAccept) -> None:
    assert await send(smtp_port, eml("own_reply.eml")) == {}
    assert recording_accept.calls == []


async def test_duplicate_delivery_is_stored_once(
    smtp_port: int, recording_accept: RecordingAccept
) -> None:
    await send(smtp_port, eml("outlook_reply.eml"))
    await send(smtp_port, eml("outlook_reply.eml"))
    assert len(recording_accept.calls) == 2 and len(recording_accept.stored) == 1


async def test_serve_smtp_from_settings(
    make_settings: SettingsFactory, recording_accept: RecordingAccept
) -> None:
    assert await serve_smtp(make_settings(), accept=recording_accept) is None
    settings = make_settings(
        SUPPORTBOT_SMTP_LISTEN="127.0.0.1:0",
        SUPPORTBOT_MAIL_DOMAINS=DOMAIN,
        SUPPORTBOT_SUPPORT_ADDRESS=f"support@{DOMAIN}",
    )
    server = await serve_smtp(settings, accept=recording_accept, keep_raw=None, customer_of=None)
    assert server is not None
    try:
        await send(server.sockets[0].getsockname()[1], eml("inline_image_attachment.eml"))
    finally:
        server.close()
        await server.wait_closed()
    [inbound] = recording_accept.calls
    stored = inbound.metadata["attachments"][1]["stored"]
    assert stored.startswith(str(settings.data_dir / "attachments"))


async def test_postmaster_is_accepted_with_or_without_a_domain(
    smtp_port: int, recording_accept: RecordingAccept
) -> None:
    assert await send(smtp_port, simple_mail("<pm1@example.com>"), ["postmaster"]) == {}
    assert await send(smtp_port, simple_mail("<pm2@example.com>"),
                      [f"PostMaster@{DOMAIN}"]) == {}
    assert len(recording_accept.calls) == 2


def _pipelined(port: int) -> list[bytes]:
    """MAIL, RCPT and DATA written in one go, then the answers read (RFC 2920)."""
    import socket

    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        reader = sock.makefile("rb")
        reader.readline()  # greeting
        sock.sendall(b"EHLO client.example\r\n")
        ehlo = []
        while True:
            line = reader.readline()
            ehlo.append(line)
            if line[3:4] == b" ":
                break
        sock.sendall(b"MAIL FROM:<jane@example.com>\r\nRCPT TO:<support@acme.example>\r\n"
                     b"DATA\r\n")
        answers = [reader.readline() for _ in range(3)]
        sock.sendall(simple_mail("<pipelined@example.com>") + b".\r\nQUIT\r\n")
        answers.append(reader.readline())
        return [*ehlo, *answers]


async def test_pipelining_is_offered_and_works(
    smtp_port: int, recording_accept: RecordingAccept
) -> None:
    lines = await asyncio.to_thread(_pipelined, smtp_port)
    assert b"250-PIPELINING\r\n" in lines
    assert [line[:3] for line in lines[-4:]] == [b"250", b"250", b"354", b"250"]
    assert [i.channel_message_id for i in recording_accept.calls] == ["<pipelined@example.com>"]
