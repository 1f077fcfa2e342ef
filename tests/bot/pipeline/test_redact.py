"""Redaction: check digits decide what is payment data; secrets never reach logs."""

from __future__ import annotations

import logging

import pytest

from bot.pipeline.redact import RedactingFilter, iban_valid, luhn_valid, redact, redact_text

VISA = "4242 4242 4242 4242"


@pytest.mark.parametrize(
    "number", ["4242424242424242", "4111-1111-1111-1111", VISA, "378282246310005"]
)
def test_luhn_valid_cards_are_redacted_keeping_last_four(number: str) -> None:
    text = redact(f"my card is {number}, thanks")
    assert number not in text
    assert f"[card •••• {number.replace(' ', '').replace('-', '')[-4:]}]" in text
    assert text.startswith("my card is ") and text.endswith(", thanks")


@pytest.mark.parametrize("number", ["4242424242424241", "1234 5678 9012 3456", "1234567890123"])
def test_numbers_failing_luhn_are_kept(number: str) -> None:
    assert not luhn_valid(number.replace(" ", ""))
    assert redact(f"order {number}") == f"order {number}"


def test_short_order_numbers_and_dates_are_kept() -> None:
    text = "Order 12345 placed 2024-03-05, invoice INV-99812, call +1 555 0100"
    assert redact(text) == text


def test_card_glued_to_an_order_number_is_found() -> None:
    text = redact(f"order 12345 {VISA}")
    assert text == "order 12345 [card •••• 4242]"


def test_iban_is_redacted_only_when_mod97_holds() -> None:
    assert iban_valid("DE89 3704 0044 0532 0130 00")
    assert redact("IBAN DE89 3704 0044 0532 0130 00 THANKS") == "IBAN [IBAN DE••••3000] THANKS"
    assert redact("pay to GB82WEST12345698765432.") == "pay to [IBAN GB••••5432]."
    # One wrong digit: the check fails and the number (which also fails Luhn) stays.
    assert redact("DE89 3704 0044 0532 0130 02") == "DE89 3704 0044 0532 0130 02"


def test_ssn() -> None:
    assert redact("SSN 123-45-6789 ok") == "SSN [SSN •••• 6789] ok"
    assert redact("ref 000-12-3456") == "ref 000-12-3456"  # never issued


@pytest.mark.parametrize(
    "secret",
    [
        "sk-ant-api03-AbCdEfGhIjKlMnOpQrStUvWxYz012345",
        "xoxb-1234567890-abcdefghijkl",
        "AKIAIOSFODNN7EXAMPLE",
        "ghp_abcdefghijklmnopqrstuvwxyz0123456789",
        "sk_live_abcdefghijklmnop1234",
    ],
)
def test_tokens_are_redacted(secret: str) -> None:
    result = redact_text(f"here is my key {secret} please check")
    assert secret not in result.text
    assert "[secret redacted]" in result.text
    assert result.counts == {"secret": 1}


def test_passwords() -> None:
    assert redact("password: hunter2") == "password: [password redacted]"
    assert redact("My password is S3cret!x") == "My password is [password redacted]"
    # Complaints about passwords are not disclosures.
    assert redact("my password is not working") == "my password is not working"


def test_report_counts_kinds() -> None:
    result = redact_text(f"{VISA} and password=abc and 123-45-6789")
    assert result.changed
    assert dict(result.counts) == {"card": 1, "password": 1, "ssn": 1}
    assert not redact_text("nothing here").changed


def test_logging_filter_redacts_message_args_and_traceback(
    caplog: pytest.LogCaptureFixture,
) -> None:
    logger = logging.getLogger("test.redact")
    handler_filter = RedactingFilter()
    logger.addFilter(handler_filter)
    try:
        with caplog.at_level(logging.INFO, logger="test.redact"):
            logger.info("customer wrote %s", f"card {VISA}")
            try:
                raise ValueError(f"bad card {VISA}")
            except ValueError:
                logger.exception("failed")
    finally:
        logger.removeFilter(handler_filter)
    assert "4242 4242 4242 4242" not in caplog.text
    assert "customer wrote card [card •••• 4242]" in caplog.text
    assert "ValueError: bad card [card •••• 4242]" in caplog.text
