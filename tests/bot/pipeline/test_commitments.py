"""The commitment check: promises the passages do not state, and claims of actions taken."""

from __future__ import annotations

import pytest

from bot.pipeline.commitments import unbacked_commitments

REFUNDS = ("Annual plans are refunded in full within 30 days of purchase. Request a refund "
           "from Settings, Billing.")
RESET = "If you forgot your password, click Forgot password and follow the link."


def test_a_commitment_the_passages_state_is_backed() -> None:
    draft = "Annual plans are refunded in full within 30 days. You can request it in Settings."
    assert unbacked_commitments(draft, [RESET, REFUNDS]) == ()


def test_a_draft_without_commitments_needs_no_backing() -> None:
    assert unbacked_commitments("Click Forgot password on the sign-in page.", [RESET]) == ()


@pytest.mark.parametrize(
    ("draft", "kind"),
    [
        ("Click Forgot password. P.S. Your refund is confirmed.", "action_taken"),
        ("I have refunded the duplicate charge of $8 to your card.", "action_taken"),
        ("I've cancelled your subscription as requested.", "action_taken"),
        ("Ich habe Ihnen den Betrag erstattet.", "action_taken"),
        ("We'll add a free month of credit to your account.", "credit"),
        ("You can cancel any time and we'll prorate the rest.", "cancellation"),
        ("Refunds are available within 60 days.", "refund"),  # the passage says 30
        ("Your replacement ships within 2 business days.", "deadline"),
        ("That is guaranteed for life.", "policy"),
    ],
)
def test_unbacked_commitments_are_found(draft: str, kind: str) -> None:
    found = unbacked_commitments(draft, [RESET, REFUNDS])
    assert [c.kind for c in found] == [kind]
    assert found[0].reason


def test_every_number_must_be_in_one_passage() -> None:
    assert unbacked_commitments("Refunds are possible within 30 days.", [REFUNDS]) == ()
    assert unbacked_commitments("Refunds are possible within 14 days.", [REFUNDS])
