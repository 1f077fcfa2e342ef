"""Parsing over the real-world corpus: charsets, bodies, threading ids, loop safety."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from channels.mail.headers import (
    find_token,
    message_ids,
    normalize_message_id,
    our_message_id,
    reply_subject,
)
from channels.mail.inbound import MailOptions, to_inbound
from channels.mail.parse import MailRejected, OwnMail, parse_mail
from tests.channels.mail.conftest import DOMAIN, corpus, eml, simple_mail

OURS = frozenset({DOMAIN})


@pytest.mark.parametrize("path", corpus(), ids=lambda p: p.name)
def test_every_fixture_parses_or_is_own_mail(path: Path) -> None:
    try:
        mail = parse_mail(path.read_bytes(), our_domains=OURS)
    except OwnMail:
        assert path.name == "own_reply.eml"
        return
    assert mail.message_id.startswith("<") and mail.message_id.endswith(">")
    assert "@" in mail.customer_address
    assert mail.text.strip()


def test_gmail_reply_strips_quote_and_threads() -> None:
    mail = parse_mail(eml("gmail_reply.eml"), our_domains=OURS)
    assert (
        mail.text
        == "Thanks, that worked! One more thing: can I change my login e-mail as well?\n\nJane"
    )
    assert "Forgot password" in mail.full_text
    assert mail.message_id == "<CAJx9kQ2Second+Reply=abc@mail.gmail.com>"  # domain lowercased only
    assert mail.related_message_ids == (
        "<supportbot.r-100@acme.example>",
        "<CAJx9kQ1first@mail.gmail.com>",
    )
    assert mail.thread_key == "<CAJx9kQ1first@mail.gmail.com>"
    assert mail.suppress_reply is None


def test_outlook_mislabelled_latin1_is_windows_1252() -> None:
    mail = parse_mail(eml("outlook_reply.eml"), our_domains=OURS)
    assert "“Premium”" in mail.text and "basic plan – please" in mail.text
    assert "Sent: Monday" not in mail.text  # the Outlook quote header and below are gone
    assert mail.thread_index == "AQHbjK2Xn1m9x3kq0Eq3fZ0zYw2V9A=="
    assert mail.subject == "RE: RE: Invoice question"


@pytest.mark.parametrize(
    ("name", "subject", "needle", "customer"),
    [
        (
            "iso_8859_1.eml",
            "Anmeldung schlägt fehl",
            "Das Konto gehört zur Firma Müller & Söhne.",
            "Jürgen Weiß",
        ),
        ("windows_1252.eml", "Double charge – €49", "charged €49 twice", "Pierre Martin"),
        ("shift_jis.eml", "請求書について", "請求書のPDFがダウンロードできません。", "山田太郎"),
        (
            "base64_utf8.eml",
            "¿Cómo exporto mis datos?",
            "¿Cómo exporto todos mis datos",
            "Álvaro Gómez",
        ),
        (
            "quoted_printable.eml",
            "Webhook deliveries failing",
            "HTTP 502 — is there a status page",
            "Sam Carter",
        ),
    ],
)
def test_charsets_and_transfer_encodings(
    name: str, subject: str, needle: str, customer: str
) -> None:
    mail = parse_mail(eml(name), our_domains=OURS)
    assert mail.subject == subject
    assert needle in mail.text
    assert mail.customer_name == customer


def test_html_only_is_converted_to_text() -> None:
    mail = parse_mail(eml("html_only.eml"), our_domains=OURS)
    assert mail.from_html
    assert "billing address" in mail.text and "<p>" not in mail.text
    assert "https://example.cn/po/77" in mail.text


def test_apple_mail_signature_is_stripped() -> None:
    mail = parse_mail(eml("apple_mail.eml"), our_domains=OURS)
    assert mail.text.endswith("Marco")
    assert "Sent from my iPhone" in mail.full_text


def test_unknown_charset_falls_back() -> None:
    mail = parse_mail(eml("bad_charset.eml"), our_domains=OURS)
    assert mail.text == "My café order arrived cold."


def test_inline_image_and_attachment_are_recorded_and_stored(options: MailOptions) -> None:
    inbound = to_inbound(
        eml("inline_image_attachment.eml"),
        options=options,
        received_at=datetime.now(UTC),
        source="test",
    )
    records = inbound.metadata["attachments"]
    assert [(r["name"], r["type"], r["inline"]) for r in records] == [
        ("screenshot.png", "image/png", True),
        ("export.pdf", "application/pdf", False),
    ]
    assert records[1]["size"] == 45
    for record in records:
        stored = Path(record["stored"])
        assert stored.parent == options.attachments_dir and stored.name == record["sha256"]
        assert stored.stat().st_size == record["size"]
    assert inbound.metadata["cc"] == ["ops@example.in"]


def test_attachments_over_the_limit_are_recorded_not_stored(options: MailOptions) -> None:
    small = MailOptions(
        our_domains=OURS, attachments_dir=options.attachments_dir, max_attachment_bytes=50
    )
    inbound = to_inbound(
        eml("inline_image_attachment.eml"), options=small, received_at=datetime.now(UTC), source="t"
    )
    stored = {r["name"]: r["stored"] for r in inbound.metadata["attachments"]}
    assert stored["export.pdf"] is not None and stored["screenshot.png"] is None
    skipped = {r["name"]: r["skipped"] for r in inbound.metadata["attachments"]}
    assert skipped["screenshot.png"] is not None and "limit" in skipped["screenshot.png"]


def test_forwarded_mail_keeps_the_forwarded_part() -> None:
    mail = parse_mail(eml("forwarded.eml"), our_domains=OURS)
    assert "I never placed this order" in mail.text
    assert "order #5531 (Premium plan" in mail.text


@pytest.mark.parametrize(
    ("name", "reason"),
    [
        ("out_of_office.eml", "auto-submitted: auto-replied"),
        ("dsn_bounce.eml", "auto-submitted: auto-replied"),
        ("mailing_list.eml", "precedence: list"),
    ],
)
def test_loop_safety_fixtures(name: str, reason: str) -> None:
    assert parse_mail(eml(name), our_domains=OURS).suppress_reply == reason


@pytest.mark.parametrize(
    ("header", "reason"),
    [
        ("Auto-Submitted: auto-generated", "auto-submitted: auto-generated"),
        ("X-Autoreply: yes", "auto-reply (X-Autoreply)"),
        ("X-Autorespond: on", "auto-reply (X-Autorespond)"),
        ("Precedence: bulk", "precedence: bulk"),
        ("Precedence: junk", "precedence: junk"),
        ("List-Id: <x.lists.example.com>", "mailing list (List-Id)"),
        ("Return-Path: <>", "null return path (bounce or notification)"),
    ],
)
def test_loop_safety_headers(header: str, reason: str) -> None:
    raw = simple_mail("<x@example.com>", headers=header + "\r\n")
    assert parse_mail(raw, our_domains=OURS).suppress_reply == reason


def test_auto_submitted_no_is_a_person() -> None:
    raw = simple_mail("<x@example.com>", headers="Auto-Submitted: no\r\n")
    assert parse_mail(raw, our_domains=OURS).suppress_reply is None


@pytest.mark.parametrize("sender", ["MAILER-DAEMON@mx.example.com", "postmaster@example.com"])
def test_robot_senders_are_suppressed(sender: str) -> None:
    mail = parse_mail(simple_mail("<x@example.com>", sender=sender), our_domains=OURS)
    assert mail.suppress_reply == f"sender is {sender.split('@')[0].lower()}"


def test_dsn_without_auto_submitted_is_still_a_report() -> None:
    raw = (
        eml("dsn_bounce.eml")
        .replace(b"Auto-Submitted: auto-replied\n", b"")
        .replace(b"Return-Path: <>\n", b"")
    )
    raw = raw.replace(b"MAILER-DAEMON", b"bounces")
    assert parse_mail(raw, our_domains=OURS).suppress_reply == "delivery report (delivery-status)"


def test_own_mail_by_header_or_message_id() -> None:
    with pytest.raises(OwnMail):
        parse_mail(eml("own_reply.eml"), our_domains=OURS)
    by_id = simple_mail(our_message_id("r-1", DOMAIN))
    with pytest.raises(OwnMail):
        parse_mail(by_id, our_domains=OURS)
    colleague = simple_mail(f"<abc123@{DOMAIN}>", sender=f"colleague@{DOMAIN}")
    assert parse_mail(colleague, our_domains=OURS).customer_address == f"colleague@{DOMAIN}"


def test_missing_message_id_is_synthesised_stably() -> None:
    first = parse_mail(eml("no_message_id.eml"), our_domains=OURS)
    relayed = parse_mail(
        b"Received: by mx; Sun, 16 Mar 2025\n" + eml("no_message_id.eml"), our_domains=OURS
    )
    assert first.synthesized_id and first.message_id == relayed.message_id
    assert first.message_id.endswith("@synthesized.supportbot.invalid>")


def test_reply_to_wins_over_from() -> None:
    raw = simple_mail("<x@example.com>", headers="Reply-To: Help Desk <desk@example.com>\r\n")
    mail = parse_mail(raw, our_domains=OURS)
    assert mail.customer_address == "desk@example.com" and mail.from_address == "jane@example.com"


@pytest.mark.parametrize(
    "raw",
    [
        b"",
        b"   \r\n",
        b"not a mail at all",
        b"Subject: hi\r\n\r\nno sender",
        b"From: nobody\r\n\r\nx",
    ],
)
def test_garbage_is_rejected_clearly(raw: bytes) -> None:
    with pytest.raises(MailRejected) as caught:
        parse_mail(raw, our_domains=OURS)
    assert caught.value.reason


def test_token_from_plus_address(options: MailOptions) -> None:
    inbound = to_inbound(
        eml("dropped_references.eml"), options=options, received_at=datetime.now(UTC), source="t"
    )
    assert inbound.metadata["conversation_token"] == "tok12345"
    assert inbound.related_message_ids == ()
    assert (
        find_token(["support+tok12345@other.example"], support_local="support", domains=OURS)
        is None
    )
    assert (
        find_token(["sales+tok12345@acme.example"], support_local="support", domains=OURS) is None
    )
    assert (
        find_token(["Support+Tok_9999@ACME.example"], support_local="support", domains=OURS)
        == "Tok_9999"
    )


def test_inbound_contract(options: MailOptions) -> None:
    now = datetime.now(UTC)
    inbound = to_inbound(eml("gmail_reply.eml"), options=options, received_at=now, source="smtp")
    assert inbound.channel == "email" and inbound.received_at == now
    assert inbound.channel_message_id == "<CAJx9kQ2Second+Reply=abc@mail.gmail.com>"
    assert inbound.thread_key == "<CAJx9kQ1first@mail.gmail.com>"
    assert inbound.sender.email == "jane.doe@gmail.com" and inbound.sender.name == "Jane Doe"
    meta = inbound.metadata
    assert meta["conversation_token"] == "tok12345"
    assert meta["references"] == [
        "<CAJx9kQ1first@mail.gmail.com>",
        "<supportbot.r-100@acme.example>",
    ]
    assert meta["subject"] == "Re: Cannot reset my password" and meta["source"] == "smtp"
    assert meta["date"] == "2025-03-04T18:12:31+01:00"


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("<A.b@EXAMPLE.COM>", ["<A.b@example.com>"]),
        ("  <a@x.org> (Your message of Tue)  <b@y.org>", ["<a@x.org>", "<b@y.org>"]),
        ("bare@Host.Example", ["<bare@host.example>"]),
        ("<a@x.org>\r\n\t<a@x.org>", ["<a@x.org>"]),
        ("<no-at-sign>", []),
        ("<" + "a" * 300 + "@x.org>", []),
    ],
)
def test_message_ids(value: str, expected: list[str]) -> None:
    assert message_ids(value) == expected
    assert normalize_message_id(value) == (expected[0] if expected else None)


@pytest.mark.parametrize(
    ("subject", "expected"),
    [
        ("Help", "Re: Help"),
        ("Re: Help", "Re: Help"),
        ("RE: Re: re:Help", "Re: Help"),
        ("Aw: Help", "Re: Help"),
        ("Fwd: Help", "Re: Help"),
        ("Re[2]: Help", "Re: Help"),
        ("FW: RE: Help", "Re: Help"),
        ("Reply needed", "Re: Reply needed"),
        ("", "Re: your message"),
    ],
)
def test_reply_subject_never_stacks(subject: str, expected: str) -> None:
    assert reply_subject(subject) == expected


def test_attachments_are_listed_in_the_text_and_oversized_ones_said_so(
    options: MailOptions,
) -> None:
    tiny = MailOptions(our_domains=OURS, attachments_dir=options.attachments_dir,
                       max_attachment_bytes=40)
    inbound = to_inbound(eml("inline_image_attachment.eml"), options=tiny,
                         received_at=datetime.now(UTC), source="t")
    assert inbound.text.endswith(
        "[Attachments: export.pdf (application/pdf, 45 bytes — not kept: larger than the "
        "40-byte limit)]")
    assert "screenshot.png" not in inbound.text  # inline images are part of the body
