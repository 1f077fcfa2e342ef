"""Display names of senders: decoded (RFC 2047, raw UTF-8), cleaned, never taken for an address."""

from __future__ import annotations

import base64

import pytest

from channels.mail.headers import clean_display_name, parse_addresses
from channels.mail.parse import parse_mail
from tests.channels.mail.conftest import DOMAIN

OURS = frozenset({DOMAIN})


def mail_from(sender: str, *, reply_to: str | None = None) -> bytes:
    """A minimal mail whose From header is exactly ``sender`` (raw, may be 8-bit)."""
    extra = f"Reply-To: {reply_to}\r\n" if reply_to else ""
    return (
        f"From: {sender}\r\n{extra}To: support@{DOMAIN}\r\nSubject: Help\r\n"
        "Message-ID: <names-1@example.org>\r\nDate: Mon, 17 Mar 2025 09:00:00 +0000\r\n"
        "\r\nHello\r\n"
    ).encode()


@pytest.mark.parametrize(
    ("sender", "name"),
    [
        # Gmail / Thunderbird: Q-encoded name.
        ("=?utf-8?q?Jos=C3=A9_P=C3=A9rez?= <jose@example.org>", "José Pérez"),
        # Outlook / Apple Mail: B-encoded name.
        ("=?UTF-8?B?Sm9zw6kgUMOpcmV6?= <jose@example.org>", "José Pérez"),
        # Two encoded-words: the white space between them is not part of the name (2047 6.2).
        ("=?utf-8?q?Jos=C3=A9?= =?utf-8?q?_P=C3=A9rez?= <jose@example.org>", "José Pérez"),
        # Quoted names with a comma, plain and encoded.
        ('"Pérez, José" <jose@example.org>', "Pérez, José"),
        ("=?iso-8859-1?q?P=E9rez=2C_Jos=E9?= <jose@example.org>", "Pérez, José"),
        # An encoded name that carries the address as well (Outlook, mailing list rewrites).
        ("=?utf-8?q?Jos=C3=A9_P=C3=A9rez_=3Cjose=40example=2Eorg=3E?= <jose@example.org>",
         "José Pérez"),
        ("=?utf-8?q?Jos=C3=A9_P=C3=A9rez_(jose@example.org)?= <jose@example.org>", "José Pérez"),
        # Raw UTF-8 in the header (RFC 6532), as many webmailers send it.
        ("José Pérez <jose@example.org>", "José Pérez"),
        # Header registry refuses the header (a broken second entry): the fallback decodes too.
        ("=?utf-8?q?Jos=C3=A9_P=C3=A9rez?= <jose@example.org>, broken <", "José Pérez"),
    ],
)
def test_display_name_is_decoded_and_address_kept(sender: str, name: str) -> None:
    mail = parse_mail(mail_from(sender), our_domains=OURS)
    assert (mail.customer_name, mail.customer_address) == (name, "jose@example.org")
    assert mail.from_name == name


@pytest.mark.parametrize(
    "sender",
    [
        "=?utf-8?q?jose@example.org?= <jose@example.org>",
        "=?utf-8?b?am9zZUBleGFtcGxlLm9yZw==?= <jose@example.org>",
        '"jose@example.org" <jose@example.org>',
        # The registry refuses it; the unencoded "@" inside the encoded name must not become
        # the address.
        "=?utf-8?q?jose@example.org?= <jose@example.org>, broken <",
    ],
)
def test_a_name_that_is_only_an_address_is_no_name(sender: str) -> None:
    mail = parse_mail(mail_from(sender), our_domains=OURS)
    assert mail.customer_address == "jose@example.org"
    assert mail.customer_name is None


def test_encoded_reply_to_name_is_decoded() -> None:
    raw = mail_from(
        "Jane <jane@example.org>",
        reply_to="=?utf-8?q?Jos=C3=A9_P=C3=A9rez?= <jose@example.org>, broken <",
    )
    mail = parse_mail(raw, our_domains=OURS)
    assert (mail.customer_name, mail.customer_address) == ("José Pérez", "jose@example.org")


def test_parse_addresses_keeps_encoded_specials_inside_the_name() -> None:
    raw = "=?utf-8?q?P=C3=A9rez,_Jos=C3=A9_jose@x.org?= <jose@example.org>, b@example.org"
    assert parse_addresses(raw) == [
        ("Pérez, José jose@x.org", "jose@example.org"),
        ("", "b@example.org"),
    ]


@pytest.mark.parametrize(
    ("name", "clean"),
    [
        ("José  Pérez", "José Pérez"),
        ("'José Pérez'", "José Pérez"),
        ("José Pérez <jose@example.org>", "José Pérez"),
        ("jose@example.org", ""),
        ("ACME @ Berlin", "ACME @ Berlin"),
        ("P\udce9rez", "Pérez"),  # latin-1 bytes in a raw header
    ],
)
def test_clean_display_name(name: str, clean: str) -> None:
    assert clean_display_name(name) == clean


def test_decoded_line_breaks_in_a_name_never_yield_an_address() -> None:
    # The registry refuses a name that decodes to CR/LF; the fallback must keep it a name.
    name = base64.b64encode(b"Jane\r\nBcc: victim@attacker.example\r\nX-Evil: 1").decode()
    mail = parse_mail(mail_from(f"=?utf-8?b?{name}?= <jane@example.com>"), our_domains=OURS)
    assert mail.customer_address == "jane@example.com"
    assert mail.customer_name is not None
    assert "\r" not in mail.customer_name and "\n" not in mail.customer_name
    assert "victim@attacker.example" not in mail.customer_name
