"""Customer text is cut to a configured size for the card, triage and LLM; the original stays."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from channels.mail.inbound import MailOptions, cut_text, prepare_mail
from tests.channels.mail.conftest import DOMAIN, simple_mail


def test_a_two_megabyte_body_is_cut_for_the_core_and_kept_whole_in_the_original(
    tmp_path: Path,
) -> None:
    body = "Where is my order? " + ("All the log lines the customer pasted. " * 52_000)
    raw = simple_mail("<big@example.com>", body=body)
    assert len(raw) > 2_000_000
    options = MailOptions(our_domains=frozenset({DOMAIN}), text_max_chars=20_000)
    prepared = prepare_mail(raw, options=options, received_at=datetime.now(UTC), source="smtp")
    text = prepared.inbound.text
    assert text.startswith("Where is my order?")
    assert len(text) < 20_200 and "cut at 20,000 of" in text
    assert prepared.inbound.metadata["text_cut"] is True
    assert len(prepared.inbound.metadata["full_text"]) < 100_200
    assert prepared.raw.size == len(raw)


def test_short_text_is_untouched() -> None:
    assert cut_text("Hello", 500) == "Hello"
    cut = cut_text("word " * 300, 500)
    assert cut.startswith("word word") and "cut at 500 of 1,500 characters" in cut
