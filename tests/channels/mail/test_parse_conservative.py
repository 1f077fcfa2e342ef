"""Conservative stripping and shapes that used to lose the customer's words."""

from __future__ import annotations

import pytest

from channels.mail.body import keep_tail, strip_quoted
from channels.mail.parse import parse_mail
from tests.channels.mail.conftest import eml


def test_text_after_a_separator_line_is_kept() -> None:
    mail = parse_mail(eml("separator_details.eml"))
    assert "Order details:" in mail.text
    assert "Order 12345, three items, paid on Monday." in mail.text
    assert "Why has it not shipped yet?" in mail.text


def test_a_ps_after_the_sign_off_is_kept_and_the_quote_still_dropped() -> None:
    mail = parse_mail(eml("ps_after_signoff.eml"))
    assert "Can I change my plan mid-month?" in mail.text
    assert "PS: how do I add a second user to the account?" in mail.text
    assert "Old text we must not repeat" not in mail.text
    assert "Old text we must not repeat" in mail.full_text


def test_a_question_after_sent_from_my_iphone_is_kept() -> None:
    mail = parse_mail(eml("iphone_question.eml"))
    assert mail.text.startswith("Yes please.")
    assert "Does the refund also cover the setup fee?" in mail.text
    assert "Would you like a refund?" not in mail.text


def test_a_bare_device_signature_is_still_stripped() -> None:
    assert parse_mail(eml("iphone_plain.eml")).text == "Yes please."


@pytest.mark.parametrize(
    ("body", "tail", "kept"),
    [
        ("Can I get a refund?", "--\nJane Doe\nAcme Corp\n+1 555 1234", False),
        ("Can I get a refund?", "Jane\nhttps://jane.example/?ref=sig", False),
        ("Thanks", "Jane\n\nP.S. my invoice number is 991", True),
        ("Thanks", "Jane\n\nps. one more thing", True),
        ("Order details:", "Order 12345", True),
        ("Hi", "Sent from my iPhone\n\nthe app crashes every time I open the export page", True),
    ],
)
def test_which_tails_are_the_customers_text(body: str, tail: str, kept: bool) -> None:
    assert keep_tail(body, tail) is kept


def test_rfc3676_signature_is_dropped() -> None:
    assert strip_quoted("Can I get a refund?\n\n-- \nJane Doe\nAcme Corp") == "Can I get a refund?"


def test_a_multipart_without_its_boundary_keeps_its_text() -> None:
    mail = parse_mail(eml("boundaryless_multipart.eml"))
    assert "my order 123 has not arrived. Where is it?" in mail.text
    assert mail.full_text.startswith("Hello,")


def test_a_bare_message_rfc822_forward_shows_its_content() -> None:
    mail = parse_mail(eml("bare_rfc822_forward.eml"))
    assert "Invoice 42 is overdue by 30 days. Please pay now." in mail.text
    assert "Subject: Invoice 42 overdue" in mail.text
    assert "From: Billing <billing@acme.example>" in mail.text
    assert [a.content_type for a in mail.attachments] == ["message/rfc822"]


def test_a_forward_attached_next_to_a_short_note_shows_both() -> None:
    raw = (
        b"From: Jane <jane@example.com>\r\nTo: support@acme.example\r\nSubject: see below\r\n"
        b"Message-ID: <fw2@example.com>\r\nMIME-Version: 1.0\r\n"
        b'Content-Type: multipart/mixed; boundary="b"\r\n\r\n--b\r\n'
        b"Content-Type: text/plain\r\n\r\nWhat does this mean?\r\n--b\r\n"
        b"Content-Type: message/rfc822\r\n\r\nFrom: Bob <bob@shop.example>\r\n"
        b"Subject: Your invoice\r\nContent-Type: text/plain\r\n\r\nInvoice 42 is overdue.\r\n"
        b"--b--\r\n"
    )
    mail = parse_mail(raw)
    assert mail.text.startswith("What does this mean?")
    assert "Invoice 42 is overdue." in mail.text
