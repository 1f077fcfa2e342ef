"""Loop safety: mail that must never be answered, judged by the message itself."""

from __future__ import annotations

import pytest

from channels.mail.bounces import Bounce, find_bounce
from channels.mail.loops import is_left_reply, out_of_office_reason
from channels.mail.parse import load_message, parse_mail
from tests.channels.mail.conftest import DOMAIN, eml, simple_mail

OURS = frozenset({DOMAIN})
OWN = frozenset({f"support@{DOMAIN}", f"billing@{DOMAIN}"})


def suppressed(raw: bytes) -> str | None:
    return parse_mail(raw, our_domains=OURS, own_addresses=OWN,
                      support_local="support").suppress_reply


@pytest.mark.parametrize(
    "sender",
    [f"support@{DOMAIN}", f"Support@{DOMAIN.upper()}", f"support+abc123@{DOMAIN}",
     f"billing@{DOMAIN}"],
)
def test_mail_from_our_own_addresses_is_never_answered(sender: str) -> None:
    assert suppressed(simple_mail("<own@x.example>", sender=sender)) == "sent from our own address"


def test_a_colleague_in_our_domain_is_still_answered() -> None:
    assert suppressed(simple_mail("<c@x.example>", sender=f"bob@{DOMAIN}")) is None


@pytest.mark.parametrize(
    "local", ["noreply", "no-reply", "No_Reply", "donotreply", "do-not-reply", "noreply+bills"]
)
def test_no_reply_senders_are_never_answered(local: str) -> None:
    raw = simple_mail("<n@x.example>", sender=f"{local}@shop.example")
    assert suppressed(raw) == "sender is a no-reply address"


def test_names_that_merely_start_like_noreply_are_people() -> None:
    assert suppressed(simple_mail("<n@x.example>", sender="noreen@shop.example")) is None


def test_marketing_with_only_list_unsubscribe_is_never_answered() -> None:
    raw = simple_mail("<m@x.example>", sender="news@shop.example",
                      headers="List-Unsubscribe: <https://shop.example/u?id=1>\r\n")
    assert suppressed(raw) == "bulk mail (List-Unsubscribe)"


def test_a_german_out_of_office_without_headers_is_never_answered() -> None:
    reason = suppressed(eml("out_of_office_de_body.eml"))
    assert reason is not None and reason.startswith("out-of-office reply")


@pytest.mark.parametrize(
    "body",
    [
        "I am out of the office until 17 March with limited access to e-mail.",
        "Ich bin bis zum 21. März nicht im Büro. Ihre Nachricht wird nicht weitergeleitet.",
        "Je suis absente jusqu'au 3 avril. Pour toute urgence, merci de contacter Marie.",
        "Estoy fuera de la oficina hasta el lunes, con acceso limitado al correo.",
    ],
)
def test_body_only_out_of_office_in_four_languages(body: str) -> None:
    assert out_of_office_reason("Re: your ticket", body) is not None


@pytest.mark.parametrize(
    "body",
    [
        "I will be on vacation until Monday. Can you pause my subscription while I am away?",
        "Our office moved. How do I change the billing address?",
        "I am out of the office a lot, so please answer by e-mail.",
    ],
)
def test_customers_who_mention_being_away_are_still_answered(body: str) -> None:
    assert out_of_office_reason("Subscription", body) is None


@pytest.mark.parametrize(
    "subject",
    ["Automatic reply: Re: Invoice", "Automatische Antwort: AW: Rechnung",
     "Abwesenheitsnotiz: Ihre Anfrage", "Réponse automatique : Re: facture",
     "Respuesta automática: RE: factura", "Out of Office: Re: help"],
)
def test_a_threaded_out_of_office_is_judged_by_its_own_subject(subject: str) -> None:
    raw = simple_mail("<t@x.example>", subject=subject, body="Thanks for your mail.",
                      headers="In-Reply-To: <supportbot.r-1@acme.example>\r\n")
    reason = suppressed(raw)
    assert reason is not None and reason.startswith("out-of-office subject")


def test_a_dsn_for_our_reply_names_the_reply_and_the_failure() -> None:
    mail = parse_mail(eml("dsn_bounce.eml"), our_domains=OURS)
    assert mail.bounce == Bounce(message_id="<supportbot.r-300@acme.example>", action="failed",
                                 status="5.1.1", recipient="nobody@example.net")
    assert "5.1.1" in mail.bounce.reason and "nobody@example.net" in mail.bounce.reason


def test_a_delayed_delivery_report_is_not_a_bounce() -> None:
    raw = eml("dsn_bounce.eml").replace(b"Action: failed", b"Action: delayed")
    assert parse_mail(raw, our_domains=OURS).bounce is None


def test_a_dsn_about_someone_elses_mail_is_not_ours() -> None:
    raw = eml("dsn_bounce.eml").replace(b"<supportbot.r-300@acme.example>", b"<x@other.example>")
    assert parse_mail(raw, our_domains=OURS).bounce is None


def test_a_plain_text_bounce_quoting_our_message_id() -> None:
    raw = simple_mail(
        "<b@mx.example>", sender="MAILER-DAEMON@mx.example",
        body="Delivery failed.\r\n\r\nMessage-ID: <supportbot.r-9@acme.example>\r\n")
    mail = parse_mail(raw, our_domains=OURS)
    assert mail.bounce is not None and mail.bounce.message_id == "<supportbot.r-9@acme.example>"


def test_i_have_left_the_company_is_a_failed_delivery_of_the_reply_it_answers() -> None:
    body = ("Thank you for your message. I have left the company; "
            "please write to anna@contoso.example instead.")
    raw = simple_mail("<left@contoso.example>", sender="tom@contoso.example", body=body,
                      headers="In-Reply-To: <supportbot.r-7@acme.example>\r\n")
    mail = parse_mail(raw, our_domains=OURS)
    assert is_left_reply(body)
    assert mail.suppress_reply is not None
    assert mail.bounce is not None and mail.bounce.action == "left"
    assert mail.bounce.message_id == "<supportbot.r-7@acme.example>"
    assert "anna@contoso.example" in mail.bounce.reason


def test_find_bounce_needs_a_report_or_our_id() -> None:
    msg = load_message(simple_mail("<plain@x.example>"))
    assert find_bounce(msg, domains=[DOMAIN], text="hello") is None
