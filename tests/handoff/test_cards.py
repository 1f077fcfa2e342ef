"""Every card and modal the handoff can build stays within Slack's documented Block Kit limits."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime
from typing import Any

import pytest

from bot.pipeline.drafting.factory import OFFLINE_INSTEAD_MODEL
from handoff import cards, modals
from handoff.state import CardView, Delivery
from handoff.text import fit, quote

# docs.slack.dev/reference/block-kit/…: the limits the checker enforces.
LIMITS = {"message_blocks": 50, "modal_blocks": 100, "header": 150, "section": 3000,
          "fields": 10, "field": 2000, "context_elements": 10, "context_text": 3000,
          "actions_elements": 25, "button_text": 75, "button_value": 2000, "id": 255,
          "modal_title": 24, "private_metadata": 3000, "input_max": 3000, "label": 2000,
          "message_text": 40_000}
NASTY = "Tom & Jerry <script> > quoted & escaped ünïcödé 🎉 "
LONG = (NASTY * 2000)[:60_000]


def check_blocks(blocks: list[dict[str, Any]], *, modal: bool = False) -> None:
    assert len(blocks) <= LIMITS["modal_blocks" if modal else "message_blocks"]
    for block in blocks:
        assert len(block.get("block_id", "")) <= LIMITS["id"]
        kind = block["type"]
        if kind == "header":
            assert len(block["text"]["text"]) <= LIMITS["header"]
        elif kind == "section":
            if "text" in block:
                assert 0 < len(block["text"]["text"]) <= LIMITS["section"]
            fields = block.get("fields", [])
            assert len(fields) <= LIMITS["fields"]
            assert all(len(f["text"]) <= LIMITS["field"] for f in fields)
        elif kind == "context":
            assert len(block["elements"]) <= LIMITS["context_elements"]
            assert all(len(e["text"]) <= LIMITS["context_text"] for e in block["elements"])
        elif kind == "actions":
            assert 0 < len(block["elements"]) <= LIMITS["actions_elements"]
            for button in block["elements"]:
                assert len(button["action_id"]) <= LIMITS["id"]
                if button["type"] == "users_select":
                    assert len(button["placeholder"]["text"]) <= LIMITS["button_text"]
                    continue
                assert len(button["text"]["text"]) <= LIMITS["button_text"]
                assert len(button["value"]) <= LIMITS["button_value"]
                assert len(button["action_id"]) <= LIMITS["id"]
            ids = [b["action_id"] for b in block["elements"]]
            assert len(ids) == len(set(ids)), "action_ids must be unique within a block"
        elif kind == "input":
            assert len(block["label"]["text"]) <= LIMITS["label"]
            element = block["element"]
            assert element.get("max_length", 0) <= LIMITS["input_max"]
            assert len(element.get("initial_value") or "") <= LIMITS["input_max"]
        else:
            assert kind == "divider", kind


def check_modal(view: dict[str, Any]) -> None:
    for key in ("title", "submit", "close"):
        if key in view:
            assert len(view[key]["text"]) <= LIMITS["modal_title"]
    assert len(view.get("private_metadata", "")) <= LIMITS["private_metadata"]
    assert len(view.get("callback_id", "")) <= LIMITS["id"]
    check_blocks(view["blocks"], modal=True)


def longest_view(**overrides: Any) -> CardView:
    now = datetime(2026, 11, 21, tzinfo=UTC)
    values: dict[str, Any] = {
        "draft_id": 2**31 - 1, "conversation_id": 2**31 - 1, "channel": "email",
        "customer": "N" * 255 + " · " + "e" * 320, "subject": LONG[:998],
        "question": LONG, "draft": LONG, "confidence": 0.123456, "decision": "review",
        "status": "pending", "reasons": [LONG[:2000]] * 50,
        "sources": [{"source_id": "s" * 1024, "title": LONG[:1024], "score": 0.9,
                     "kind": "learned"}] * 100,
        "triage": {f"flag_{i}_{'x' * 300}": True for i in range(30)},
        "model": "m" * 128, "offline": True, "error": LONG[:10_000], "where": "<#C123>",
        "decided_by": "U" + "1" * 63, "decided_at": now, "final_text": LONG[::-1],
        "reject_reason": LONG, "created_at": now,
    }
    values.update(overrides)
    return CardView(**values)


DELIVERIES = [None, Delivery(1, "pending", 3, LONG, None), Delivery(1, "sent", 1, None,
              datetime(2026, 11, 21, tzinfo=UTC)), Delivery(2**31 - 1, "dead", 50, LONG, None)]
STATES = list(itertools.product(
    ["pending", "approved", "edited", "rejected", "superseded", "auto_sent", "expired"],
    ["review", "human"], [None, "U" + "9" * 63], DELIVERIES, [LONG, ""]))


@pytest.mark.parametrize(("status", "decision", "assignee", "delivery", "draft"), STATES)
def test_every_card_state_stays_within_limits(
    status: str, decision: str, assignee: str | None, delivery: Delivery | None, draft: str
) -> None:
    view = longest_view(status=status, decision=decision, assignee=assignee,
                        delivery=delivery, draft=draft)
    blocks, shortened = cards.draft_card(view)
    check_blocks(cards.as_dicts(blocks))  # slack_sdk validates its own limits here too
    assert shortened
    assert len(cards.card_fallback(view)) <= LIMITS["message_text"]
    assert len(cards.full_text_message(view)) <= LIMITS["message_text"]


def test_short_card_is_not_shortened() -> None:
    view = longest_view(question="Short question?", draft="Short answer.", subject="Hi")
    blocks, shortened = cards.draft_card(view)
    assert not shortened
    assert "Shortened here" not in str(cards.as_dicts(blocks))


def test_thread_blocks_stay_within_limits() -> None:
    check_blocks(cards.as_dicts(cards.followup_blocks(
        author=LONG, text=LONG, conversation_id=2**31 - 1, assignee="U1")))
    check_blocks(cards.as_dicts(cards.failure_blocks(
        error=LONG, outbox_item_id=2**31 - 1, conversation_id=2**31 - 1)))


def test_modals_stay_within_limits() -> None:
    for view in (
        modals.edit_modal(draft_id=2**31 - 1, conversation_id=2**31 - 1, draft=LONG,
                          question=LONG),
        modals.reject_modal(draft_id=2**31 - 1, conversation_id=2**31 - 1),
        modals.reply_modal(conversation_id=2**31 - 1, question=LONG, initial=LONG,
                           draft_id=2**31 - 1),
        modals.reply_modal(conversation_id=1, question="", initial=""),
    ):
        check_modal(view.to_dict())


def test_long_draft_in_edit_modal_is_cut_and_the_agent_told() -> None:
    view = modals.edit_modal(draft_id=1, conversation_id=1, draft="x" * 5000, question="q")
    data = view.to_dict()
    assert len(data["blocks"][-2]["element"]["initial_value"]) == 3000
    assert "longer than Slack's 3000-character input" in str(data["blocks"][-1])


def test_fit_never_splits_an_entity_and_respects_the_limit() -> None:
    for limit in range(5, 60):
        out = fit("&" * 100, limit)
        assert len(out) <= limit
        assert out.rstrip("…").replace("&amp;", "") == ""
    text, cut = quote("a&b\n" * 2000, 100)
    assert cut and len(text) <= 100 and text.startswith("> a&amp;b")


def test_customer_text_is_escaped_not_interpreted() -> None:
    view = longest_view(question="<!channel> & <@U1> <http://evil|click>", draft="ok",
                        subject="s")
    blocks, _ = cards.draft_card(view)
    rendered = str(cards.as_dicts(blocks))
    assert "<!channel>" not in rendered
    assert "&lt;!channel&gt;" in rendered


@pytest.mark.parametrize(("error", "model", "label"), [
    (None, "offline-extractive", "Drafted offline (no Claude API key set): extractive reply"),
    ("the Anthropic API is overloaded (529)", "offline-extractive",
     "Claude failed, so this is the offline extractive"),
    (None, OFFLINE_INSTEAD_MODEL, "Drafted offline because the Claude key or model failed the "
                                  "start-up check"),
])
def test_an_offline_draft_says_whether_it_stands_in_for_claude(
    error: str | None, model: str, label: str
) -> None:
    view = longest_view(question="Q?", draft="Hi,\n\nAnswer.", subject="S", reasons=[],
                        error=error, offline=True, model=model)
    text = str(cards.as_dicts(cards.draft_card(view)[0]))
    assert label in text
    assert ("Claude failed: fallback" in text) is (error is not None)


def test_sources_name_the_sections_the_drafter_was_given() -> None:
    source = {"source_id": "shipping", "title": "Shipping", "score": 0.81, "kind": "kb",
              "sections": [{"heading_path": ["Shipping"], "position": 0},
                           {"heading_path": ["Shipping", "Times & costs"], "position": 1}]}
    view = longest_view(sources=[source, {"source_id": "old", "title": "Old", "score": 0.2}])
    text = str(cards.as_dicts(cards.draft_card(view)[0]))
    assert "• Shipping — KB, score 0.81 · given: introduction; Times &amp; costs" in text
    assert text.count("given:") == 1  # a source stored without sections names none


def test_urgency_is_shown_as_priority_in_the_title() -> None:
    urgent = longest_view(question="Everyone is locked out", subject="Outage",
                          triage={"flags": ["urgent"]})
    calm = longest_view(question="Where is my invoice?", subject="Invoice", triage={"flags": []})
    assert cards.card_fallback(urgent).startswith("🔴 Urgent · ")
    assert not cards.card_fallback(calm).startswith("🔴")
