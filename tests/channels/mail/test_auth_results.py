"""SPF/DKIM/DMARC verdicts from a trusted host's Authentication-Results (RFC 8601); mail that
is not authenticated is flagged for review, so it is never answered automatically."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from channels.mail.auth_results import AuthVerdict, read_verdict, review_reason
from channels.mail.inbound import MailOptions, to_inbound
from tests.channels.mail.conftest import DOMAIN, simple_mail

GOOGLE = ("mx.google.com; dkim=pass header.i=@example.com header.s=s1; "
          "spf=pass (google.com: domain of jane@example.com designates 1.2.3.4) "
          "smtp.mailfrom=jane@example.com; dmarc=pass (p=REJECT) header.from=example.com")
FORGED = "mx.google.com; spf=fail smtp.mailfrom=jane@example.com; dkim=none; dmarc=fail"


def test_the_first_trusted_header_decides() -> None:
    verdict = read_verdict(["attacker.example; dmarc=pass", GOOGLE], ["mx.google.com"])
    assert verdict == AuthVerdict("mx.google.com", spf="pass", dkim="pass", dmarc="pass")
    assert verdict.passed


def test_untrusted_hosts_are_ignored() -> None:
    assert read_verdict(["attacker.example; dmarc=pass"], ["mx.google.com"]) is None
    assert read_verdict([GOOGLE], []) is None


@pytest.mark.parametrize(
    ("value", "passed"),
    [
        (GOOGLE, True),
        (FORGED, False),
        ("mx.google.com; dkim=fail; dkim=pass header.d=example.com", True),
        ("mx.google.com; spf=pass", False),  # SPF alone says nothing about the From domain
    ],
)
def test_what_counts_as_authenticated(value: str, passed: bool) -> None:
    verdict = read_verdict([value], ["mx.google.com"])
    assert verdict is not None and verdict.passed is passed


def _inbound(headers: str, trusted: frozenset[str]) -> dict[str, object]:
    options = MailOptions(our_domains=frozenset({DOMAIN}), trusted_authserv_ids=trusted)
    raw = simple_mail("<a@example.com>", headers=headers)
    return dict(to_inbound(raw, options=options, received_at=datetime.now(UTC),
                           source="smtp").metadata)


def test_unauthenticated_mail_is_flagged_for_review_when_checking_is_on() -> None:
    meta = _inbound(f"Authentication-Results: {FORGED}\r\n", frozenset({"mx.google.com"}))
    assert meta["authentication"] == {"authserv_id": "mx.google.com", "spf": "fail",
                                      "dkim": "none", "dmarc": "fail", "passed": False}
    assert meta["review_reasons"] == [
        "the sender is not authenticated: dmarc=fail, dkim=none, spf=fail (by mx.google.com)"]
    meta = _inbound("", frozenset({"mx.google.com"}))
    assert "no Authentication-Results" in str(meta["review_reasons"])


def test_authenticated_mail_and_unchecked_setups_are_not_flagged() -> None:
    meta = _inbound(f"Authentication-Results: {GOOGLE}\r\n", frozenset({"mx.google.com"}))
    assert meta["authentication"]["passed"] is True  # type: ignore[index]
    assert "review_reasons" not in meta
    assert "review_reasons" not in _inbound(f"Authentication-Results: {FORGED}\r\n", frozenset())
    assert review_reason(None, []) is None
