"""The conversation on the card, in the forms and in its modals stays within Block Kit's
limits with the longest inputs, and shows customer text escaped (pure builders)."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from email.message import EmailMessage

import pytest

from handoff import cards, conversation_view, modals
from handoff.context import (
    AttachmentFact,
    ConversationContext,
    Entry,
    MailFacts,
    PastLink,
    mail_facts,
)
from handoff.original_mail import read_original
from handoff.state import Delivery
from tests.handoff.test_cards import LONG, STATES, check_blocks, check_modal, longest_view

NOW = datetime(2026, 11, 21, tzinfo=UTC)
HOSTILE = "<!channel> <@U1> <https://evil.example|acme.example/login> & "


def entries(count: int, text: str = LONG, answered: int = 10_000) -> tuple[Entry, ...]:
    kinds = ["in", "out", "note"]
    return tuple(Entry(message_id=answered - count + i if i < count - 2 else answered + i,
                       kind=kinds[i % 3], author=("N" * 300) if i % 3 == 0 else "U" + "7" * 20,
                       text=text, at=NOW, third_party=i % 6 == 0, edited=i % 4 == 0)
                 for i in range(count))


def longest_mail() -> MailFacts:
    return MailFacts(
        message_id=2**31 - 1, sender=("Carol " * 100) + "<" + "c" * 300 + "@x.example>",
        third_party=True, customer_address="j" * 320, to=tuple(["t" * 300] * 50),
        cc=tuple(["c" * 300] * 50),
        authentication={"spf": "softfail" * 10, "dkim": "fail", "dmarc": None,
                        "authserv_id": "m" * 400},
        attachments=tuple(AttachmentFact(name=HOSTILE * 20, type="application/" + "x" * 200,
                                         size=2**40, skipped="larger than " + "y" * 500)
                          for _ in range(60)),
        raw_sha256="a" * 64, raw_size=2**31)


def longest_context() -> ConversationContext:
    return ConversationContext(
        answered_id=10_000, entries=entries(60), not_loaded=5_000,
        previous=tuple(PastLink(conversation_id=2**31 - i, channel="email", subject=LONG[:998],
                                first_words=LONG[:3000], status="awaiting_approval", at=NOW,
                                link="https://acme.slack.com/archives/C1/p" + "9" * 16)
                       for i in range(3)),
        permalink="https://acme.slack.com/archives/C1/p1700000000000100?thread_ts=1&cid=C1",
        mail=longest_mail())


@pytest.mark.parametrize(("status", "decision", "assignee", "delivery", "draft"), STATES)
def test_every_card_state_with_the_longest_conversation_stays_within_limits(
    status: str, decision: str, assignee: str | None, delivery: Delivery | None, draft: str
) -> None:
    view = longest_view(status=status, decision=decision, assignee=assignee,
                        delivery=delivery, draft=draft, context=longest_context())
    blocks, _ = cards.draft_card(view)
    check_blocks(cards.as_dicts(blocks))
    assert len(cards.card_fallback(view)) <= 40_000


def test_forms_and_modals_with_the_longest_conversation_stay_within_limits() -> None:
    context = longest_context()
    for view in (
        modals.edit_modal(draft_id=2**31 - 1, conversation_id=2**31 - 1, draft=LONG,
                          question=LONG, context=context),
        modals.reply_modal(conversation_id=2**31 - 1, question=LONG, initial=LONG,
                           draft_id=2**31 - 1, context=context),
        conversation_view.conversation_modal(context, customer=LONG, channel="email",
                                             subject=LONG[:998], question=LONG,
                                             question_author=LONG[:255]),
    ):
        data = view.to_dict()
        check_modal(data)
        assert len(json.dumps(data)) < 120_000  # a modal Slack renders, not a wall of text


def test_the_conversation_modal_keeps_the_newest_and_says_what_it_left_out() -> None:
    context = ConversationContext(answered_id=100, entries=tuple(
        Entry(message_id=i, kind="in" if i % 2 else "out", author="Ada", text=f"message {i}",
              at=NOW) for i in range(1, 100)))
    view = conversation_view.conversation_modal(context, customer="Ada", channel="slack",
                                                subject=None, question="the question",
                                                question_author="Ada").to_dict()
    text = json.dumps(view["blocks"])
    assert "message 99" in text and "the question" in text
    assert "message 1\\n" not in text and "message 1\"" not in text
    notice = next(b for b in view["blocks"] if b["type"] == "context"
                  and "not shown" in b["elements"][0]["text"])
    hidden = int(notice["elements"][0]["text"].split()[0])
    shown = sum(1 for b in view["blocks"] if b["type"] == "section"
                and "> message " in b["text"]["text"])
    assert hidden + shown == 99  # every earlier message is either shown or counted


def test_customer_text_in_the_conversation_is_escaped() -> None:
    context = ConversationContext(
        answered_id=10,
        entries=(Entry(message_id=1, kind="in", author=HOSTILE, text=HOSTILE, at=NOW),),
        previous=(PastLink(conversation_id=3, channel="slack", subject=HOSTILE,
                           first_words=HOSTILE, status="answered", at=NOW, link=None),),
        mail=MailFacts(message_id=10, sender=HOSTILE, third_party=True,
                       customer_address=HOSTILE, cc=(HOSTILE,),
                       attachments=(AttachmentFact(name=HOSTILE, type="text/plain", size=3),)))
    rendered = json.dumps([b.to_dict() for b in [
        *conversation_view.card_blocks(context), conversation_view.mail_block(context.mail)]]
        + [modals.edit_modal(draft_id=1, conversation_id=1, draft="d", question=HOSTILE,
                             context=context).to_dict()])
    for markup in ("<!channel>", "<@U1>", "<https://evil.example|"):
        assert markup not in rendered
    assert "acme.example/login (https://evil.example)" in rendered


def test_mail_facts_read_the_metadata_the_mail_channel_stores() -> None:
    facts = mail_facts(7, {
        "from": "carol@other.example", "from_name": "Carol", "participant": "third_party",
        "conversation_customer": "jane@example.com", "cc": ["bob@example.com"],
        "to": ["support@acme.example"],
        "authentication": {"authserv_id": "mx.acme.example", "spf": "pass", "dkim": "pass",
                           "dmarc": "pass", "passed": True},
        "attachments": [{"name": "a.png", "type": "image/png", "size": 10, "inline": True},
                        {"name": "big.iso", "type": "application/octet-stream",
                         "size": 50 << 20, "skipped": "larger than the limit"}],
        "raw": {"sha256": "f" * 64, "size": 1234}})
    assert facts.sender == "Carol <carol@other.example>" and facts.third_party
    line = conversation_view.authentication_line(facts)
    assert line.startswith("🔐 SPF pass · DKIM pass · DMARC pass (checked by mx.acme.example)")
    text = json.dumps(conversation_view.mail_block(facts).to_dict(), ensure_ascii=False)
    assert "📎 1 attachment (+1 inline image): big.iso (application/octet-stream, 50.0 MB) — " \
           "*not kept*: larger than the limit" in text
    assert conversation_view.SHOW_ORIGINAL in json.dumps(
        conversation_view.context_buttons(ConversationContext(answered_id=7, mail=facts),
                                          draft_id=1).to_dict())  # type: ignore[union-attr]


def test_the_original_mail_modal_holds_a_huge_mail_and_a_broken_one() -> None:
    mail = EmailMessage()
    mail["From"] = "Jane <jane@example.com>"
    mail["Subject"] = "x" * 5000
    mail.set_content("Line with <!here> & more\n" * 20_000)
    mail.add_attachment(b"\0" * 3000, maintype="application", subtype="octet-stream",
                        filename="dump.bin")
    original = read_original(mail.as_bytes())
    view = conversation_view.original_mail_modal(original).to_dict()
    check_modal(view)
    text = json.dumps(view["blocks"])
    assert "The text goes on" in text and "dump.bin" in text
    assert view["blocks"][2 + 1]["text"]["type"] == "plain_text"

    broken = (b"From: Jane <jane@example.com>\r\nSubject: Help\r\n"
              b"Content-Type: multipart/mixed; boundary=NEVER\r\n\r\nMy words survive.\r\n")
    original = read_original(broken)
    assert original.unparsed and "My words survive." in original.text
    check_modal(conversation_view.original_mail_modal(original).to_dict())
    check_modal(conversation_view.original_mail_modal(None).to_dict())
