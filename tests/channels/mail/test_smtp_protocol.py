"""ENHANCEDSTATUSCODES (RFC 2034 / RFC 3463): our SMTP server offers it and every reply of a
session carries an enhanced code, aiosmtpd's own replies included; driven by smtplib."""

from __future__ import annotations

import asyncio
import re
import smtplib
from collections.abc import AsyncIterator, Callable

import pytest

from channels.mail.inbound import MailOptions
from channels.mail.smtp_protocol import with_enhanced_code
from channels.mail.smtp_server import InboundSmtpHandler, start_smtp_server
from tests.channels.mail.conftest import DOMAIN, RecordingAccept, simple_mail

LIMIT = 64 * 1024
ENHANCED = re.compile(rb"^([245])\.\d{1,3}\.\d{1,3} ")


@pytest.fixture
async def smtp_port(recording_accept: RecordingAccept, options: MailOptions) -> AsyncIterator[int]:
    handler = InboundSmtpHandler(accept=recording_accept, domains=[DOMAIN], options=options)
    server = await start_smtp_server(handler, host="127.0.0.1", port=0, data_size_limit=LIMIT,
                                     hostname="mx.test")
    yield server.sockets[0].getsockname()[1]
    server.close()
    await server.wait_closed()


def enhanced(reply: tuple[int, bytes]) -> str:
    """The enhanced code of a reply, checked against its basic code's class."""
    code, text = reply
    match = ENHANCED.match(text)
    assert match is not None, f"no enhanced status code in {code} {text!r}"
    assert match.group(1) == str(code)[0].encode(), f"class differs in {code} {text!r}"
    return text.split(b" ", 1)[0].decode()


async def session(port: int, script: Callable[[smtplib.SMTP], None]) -> None:
    def run() -> None:
        client = smtplib.SMTP("127.0.0.1", port, timeout=10)
        try:
            script(client)
        finally:
            client.close()

    await asyncio.to_thread(run)


async def test_ehlo_offers_enhanced_status_codes(
    smtp_port: int,
) -> None:
    seen: dict[str, object] = {}

    def script(client: smtplib.SMTP) -> None:
        code, text = client.ehlo("client.example")
        seen["ehlo"] = (code, text)
        seen["enhanced"] = client.has_extn("enhancedstatuscodes")
        seen["pipelining"] = client.has_extn("pipelining")
        seen["quit"] = client.docmd("QUIT")

    await session(smtp_port, script)
    assert seen["enhanced"] and seen["pipelining"]
    code, text = seen["ehlo"]  # type: ignore[misc]
    assert code == 250 and text.startswith(b"mx.test")  # RFC 2034 3: EHLO lines carry none
    assert enhanced(seen["quit"]) == "2.0.0"  # type: ignore[arg-type]


async def test_the_greeting_names_us_first(smtp_port: int) -> None:
    def greet() -> tuple[int, bytes]:
        client = smtplib.SMTP(timeout=10)
        try:
            return client.connect("127.0.0.1", smtp_port)
        finally:
            client.close()

    code, text = await asyncio.to_thread(greet)
    assert code == 220 and text.startswith(b"mx.test ")  # RFC 5321 4.2: domain first


def test_codes_by_wording_and_by_class() -> None:
    assert with_enhanced_code("250 OK") == "250 2.0.0 OK"
    assert with_enhanced_code("354 End data with <CR><LF>.<CR><LF>").startswith("354 End")
    assert with_enhanced_code("550 5.1.1 <x@y>: no") == "550 5.1.1 <x@y>: no"
    assert with_enhanced_code("552 Error: Too much mail data") == (
        "552 5.3.4 Error: Too much mail data")
    assert with_enhanced_code('500 Error: command "FOO" not recognized').startswith("500 5.5.1")


async def test_every_reply_of_a_session_carries_an_enhanced_code(
    smtp_port: int, recording_accept: RecordingAccept
) -> None:
    replies: dict[str, tuple[int, bytes]] = {}

    def script(client: smtplib.SMTP) -> None:
        client.ehlo("client.example")
        replies["unknown command"] = client.docmd("FROB")
        replies["rcpt before mail"] = client.docmd("RCPT", f"TO:<support@{DOMAIN}>")
        replies["bad mail syntax"] = client.docmd("MAIL")
        replies["mail"] = client.docmd("MAIL", "FROM:<jane@example.com>")
        replies["nested mail"] = client.docmd("MAIL", "FROM:<jane@example.com>")
        replies["foreign rcpt"] = client.docmd("RCPT", "TO:<victim@elsewhere.example>")
        replies["rcpt"] = client.docmd("RCPT", f"TO:<support@{DOMAIN}>")
        replies["data"] = client.data(simple_mail("<esc1@example.com>"))
        replies["noop"] = client.docmd("NOOP")
        replies["vrfy"] = client.docmd("VRFY", "support")
        replies["rset"] = client.docmd("RSET")
        replies["declared too big"] = client.docmd("MAIL", f"FROM:<j@example.com> SIZE={LIMIT * 2}")
        replies["quit"] = client.docmd("QUIT")

    await session(smtp_port, script)
    codes = {name: enhanced(reply) for name, reply in replies.items()}
    assert codes == {
        "unknown command": "5.5.1", "rcpt before mail": "5.5.1", "bad mail syntax": "5.5.4",
        "mail": "2.1.0", "nested mail": "5.5.1", "foreign rcpt": "5.1.1", "rcpt": "2.1.5",
        "data": "2.0.0", "noop": "2.0.0", "vrfy": "2.5.0", "rset": "2.0.0",
        "declared too big": "5.3.4", "quit": "2.0.0",
    }
    assert len(recording_accept.calls) == 1


async def test_undeclared_oversize_data_is_552_5_3_4(
    smtp_port: int, recording_accept: RecordingAccept
) -> None:
    raw = simple_mail("<big@example.com>", body=("x" * 70 + "\r\n") * (LIMIT // 50))
    result: dict[str, tuple[int, bytes]] = {}

    def script(client: smtplib.SMTP) -> None:
        client.ehlo("client.example")
        client.docmd("MAIL", "FROM:<jane@example.com>")  # no SIZE: found out during DATA
        client.docmd("RCPT", f"TO:<support@{DOMAIN}>")
        try:
            result["data"] = client.data(raw)
        except smtplib.SMTPDataError as exc:
            result["data"] = (exc.smtp_code, exc.smtp_error)

    await session(smtp_port, script)
    assert result["data"][0] == 552 and enhanced(result["data"]) == "5.3.4"
    assert recording_accept.calls == []
