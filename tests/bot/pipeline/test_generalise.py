"""Generalised learned answers: nothing of one customer's case is kept for the next."""

from __future__ import annotations

import string

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bot.pipeline.generalise import generalise, strip_greeting_and_sign_off

POLICY = "Annual plans are refunded in full within 30 days of purchase. Students get 50% off."


@pytest.mark.parametrize(
    ("answer", "body"),
    [
        ("Hi frank,\n\nHi Erin, yes: students get 50% off.\n\nBest, Bob",
         "yes: students get 50% off."),
        ("Dear Ms Diaz,\nClick Forgot password.\nKind regards,\nThe Acme team",
         "Click Forgot password."),
        ("Hallo Frau Weber,\n\nKlicken Sie auf Passwort vergessen.\n\nViele Grüße\nJonas",
         "Klicken Sie auf Passwort vergessen."),
        ("Bonjour Marie, cliquez sur Mot de passe oublié. Cordialement, Luc",
         "cliquez sur Mot de passe oublié."),
        ("Hola Juan!\nHaz clic en Olvidé mi contraseña.\nSaludos,\nAna",
         "Haz clic en Olvidé mi contraseña."),
        ("hey there - click Forgot password. cheers", "click Forgot password."),
    ],
)
def test_greetings_and_sign_offs_are_stripped_however_written(answer: str, body: str) -> None:
    assert strip_greeting_and_sign_off(answer) == body


@pytest.mark.parametrize(
    "claim",
    [
        "I have refunded the duplicate charge of $8 on invoice INV-2024-000888.",
        "I've cancelled your subscription.",
        "I've asked billing to refund the duplicate payment.",
        "We will credit your account next week.",
        "Your refund has been processed.",
        "Ich habe Ihnen den Betrag erstattet.",
        "J'ai annulé votre abonnement.",
        "He cancelado tu suscripción.",
    ],
)
def test_sentences_claiming_an_action_are_dropped(claim: str) -> None:
    result = generalise(f"Sorry about that! {claim} Duplicate charges never recur.")
    assert claim not in result.text
    assert "Duplicate charges never recur." in result.text
    assert result.removed_sentences


def test_the_issue_example_keeps_policy_and_drops_the_case() -> None:
    answer = ("Hi carol,\n\nHi Alice, sorry about the double charge! I've asked billing to refund"
              " the duplicate payment of $8 on invoice INV-2024-000888 to your card ending 1881."
              " Annual plans are refunded in full within 30 days.\n\nBest, Bob")
    text = generalise(answer, names=["Alice Moore", "Bob"], keep=[POLICY]).text
    for leaked in ("carol", "Alice", "Bob", "$8", "INV-2024-000888", "1881"):
        assert leaked not in text
    assert "refunded in full within 30 days" in text


def test_details_are_replaced_by_placeholders_unless_the_passages_state_them() -> None:
    text = generalise(
        "Your order 48213 of 2024-03-05 (€49.90) ships to jo@example.com; call +44 20 7946 0958."
        " Refunds are possible within 30 days; the fee is $5.", keep=["A $5 fee applies."]).text
    assert text == ("Your order [order id] of [date] ([amount]) ships to [email]; call [phone]."
                    " Refunds are possible within 30 days; the fee is $5.")


_NAME = st.text(string.ascii_lowercase, min_size=3, max_size=8).map(str.capitalize).filter(
    lambda n: n.lower() not in POLICY.lower())


@given(name=_NAME, agent=_NAME, order=st.integers(10_000, 99_999_999),
       cents=st.integers(100, 999_999), ending=st.integers(1000, 9999),
       greeting=st.sampled_from(["Hi", "Hello", "Dear", "Hey", "Hallo", "Bonjour", "Hola"]),
       sign_off=st.sampled_from(["Best", "Kind regards", "Cheers", "Thanks", "Viele Grüße",
                                 "Cordialement", "Saludos"]))
def test_no_case_detail_survives(name: str, agent: str, order: int, cents: int, ending: int,
                                 greeting: str, sign_off: str) -> None:
    amount = f"${cents / 100:.2f}"
    answer = (f"{greeting} {name},\n\nYour order #{order} for {amount} was charged to the card "
              f"ending {ending}. {name}, annual plans are refunded in full within 30 days. "
              f"I've refunded {amount} today.\n\n{sign_off},\n{agent}")
    text = generalise(answer, names=[name, agent], keep=[POLICY]).text
    for leaked in (name, agent, str(order), amount, str(ending)):
        assert leaked not in text, text
    assert "refunded in full within 30 days" in text
