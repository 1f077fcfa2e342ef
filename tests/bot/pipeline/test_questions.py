"""What to search for: separate questions of a message, follow-ups in their conversation."""

from __future__ import annotations

from bot.pipeline.questions import (
    contextual_question,
    is_followup,
    plan_retrieval,
    retrieval_query,
    split_questions,
)


def test_a_mail_with_three_questions_is_split_into_them() -> None:
    mail = (
        "Hi team,\n\nthree things: which cards do you take, can I get a VAT invoice for my "
        "company, and how do I add more seats to our plan?\n\nThanks, Dana"
    )
    assert split_questions(mail) == [
        "which cards do you take?",
        "can I get a VAT invoice for my company?",
        "how do I add more seats to our plan?",
    ]


def test_questions_in_separate_sentences_and_after_also() -> None:
    text = "How do I invite people to our team? Also how much does express shipping cost?"
    assert split_questions(text) == [
        "How do I invite people to our team?", "how much does express shipping cost?"]


def test_one_question_with_a_condition_or_context_stays_whole() -> None:
    for text in (
        "If I delete my account, can I undo it later?",
        "I want to send my drive back, I changed my mind. Do I pay for postage? I'm in Germany.",
        "Hello, my sync is stuck.",
        "Why? How?",  # fragments are not questions of their own
    ):
        assert split_questions(text) == [text]


def test_a_follow_up_is_read_with_earlier_customer_turns_and_the_last_reply() -> None:
    history = [
        ("in", "I want a refund for my annual plan, bought it last week."),
        ("out", "Annual plans are fully refundable within 30 days of purchase."),
        ("note", "internal: check the invoice"),
    ]
    assert is_followup("great, and how long does that take?", history)
    assert retrieval_query("great, and how long does that take?", history) == (
        "great, and how long does that take?\n"
        "I want a refund for my annual plan, bought it last week.\n"
        "Annual plans are fully refundable within 30 days of purchase."
    )
    # A message that names its own subject is not a follow-up; a first message never is.
    assert not is_followup("How do I add a VAT number to the invoices of our company?", history)
    assert not is_followup("and how long?", [("out", "Welcome!")])


def test_plans_search_the_conversation_first_then_the_text_then_each_question() -> None:
    history = [("in", "My package says delivered but it isn't here.")]
    plan = plan_retrieval("and what then?", history=history)
    assert plan.queries == (
        "and what then?\nMy package says delivered but it isn't here.", "and what then?")
    assert plan.questions == ("and what then?",)
    multi = plan_retrieval("How long does shipping to Canada take, and how much does it cost?",
                           subject="Order ORD-1")
    assert multi.queries == (
        "Order ORD-1\nHow long does shipping to Canada take, and how much does it cost?",
        "How long does shipping to Canada take?",
        # a question naming nothing is searched with the one before it
        "how much does it cost? How long does shipping to Canada take?",
    )
    assert len(multi.questions) == 2


def test_a_learned_follow_up_is_remembered_with_its_conversation() -> None:
    history = [("in", "How do I downgrade from Business to Plus?"), ("out", "Use Change plan.")]
    assert contextual_question("will we lose anything?", history) == (
        "will we lose anything?\nHow do I downgrade from Business to Plus?\nUse Change plan.")
    standalone = "How do I add a VAT number to the invoices of our company?"
    assert contextual_question(standalone, history) == standalone
