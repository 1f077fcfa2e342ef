"""The semantic second reading of triage, with the real embedding model: phrasings no pattern
was written for reach the flag, and calm look-alikes stay calm."""

from __future__ import annotations

from collections.abc import Sequence

import pytest

from bot.pipeline.intent_reader import IntentReader, sentences
from bot.pipeline.triage import Flag, triage
from knowledge.embedder import Embedder
from tests.conftest import SettingsFactory


@pytest.fixture
def embedder(make_settings: SettingsFactory) -> Embedder:
    settings = make_settings()
    if settings.embed_model_path is None:
        pytest.skip("offline model not found (set SUPPORTBOT_EMBED_MODEL_PATH)")
    return Embedder.from_settings(settings)


@pytest.fixture
def reader(embedder: Embedder) -> IntentReader:
    return IntentReader(embed=embedder.dense)


def flags_of(reader: IntentReader, text: str) -> set[Flag]:
    return {finding.flag for finding in reader.findings(text)}


@pytest.mark.parametrize(("text", "flag"), [
    ("My bank will hear about this charge.", Flag.CHURN),
    ("I will have my bank take the money back.", Flag.CHURN),
    ("We are done with your service.", Flag.CHURN),
    ("Is there a human I can talk to?", Flag.WANTS_HUMAN),
    ("Have someone from your team phone me.", Flag.WANTS_HUMAN),
    ("I'm taking you to court over this.", Flag.LEGAL),
    ("My solicitor will write to you.", Flag.LEGAL),
])
def test_the_reader_hears_the_intent_in_words_of_its_own(
    reader: IntentReader, text: str, flag: Flag
) -> None:
    assert flag in flags_of(reader, text)


@pytest.mark.parametrize("text", [
    "How do I cancel a booking for my customer?",
    "Can I speak to the API with Python?",
    "Please call the webhook when an order is cancelled.",
    "Is there a legal notice page?",
    "How do I add a person to my account?",
    "Can our customers cancel their subscriptions through your API?",
    "I'm not cancelling, I just want to pause my subscription for two months.",
    "Thanks, I'll check with my team and get back to you.",
    "I was charged twice on my card, can you refund one of them?",
    "I want my money back for the duplicate charge.",
])
def test_calm_look_alikes_raise_nothing(reader: IntentReader, text: str) -> None:
    assert flags_of(reader, text) == set()


def test_a_negated_clause_is_not_read_but_the_rest_of_the_sentence_is() -> None:
    assert sentences("I'm not cancelling, I just want to pause") == ["I just want to pause"]
    assert sentences("I need to speak with your billing team, not a chatbot.") == [
        "I need to speak with your billing team,"]


def test_the_reason_names_the_sentence_and_the_statement_it_resembles(
    reader: IntentReader,
) -> None:
    text = "Hello. Our invoice arrived. We are done with your service."
    result = reader.apply(triage(text), text)
    assert result.has(Flag.CHURN)
    [reason] = result.reasons(Flag.CHURN)
    assert "We are done with your service." in reason and "reads like" in reason
    assert any(r.startswith("churn:") for r in result.escalation_reasons)


def test_the_reader_only_adds_and_reads_a_message_in_one_embedding_call(
    embedder: Embedder,
) -> None:
    calls: list[int] = []

    def counting(texts: Sequence[str]) -> list[list[float]]:
        calls.append(len(texts))
        return embedder.dense(texts)

    reader = IntentReader(embed=counting)
    text = "I want to cancel my subscription. Thanks for the help so far."
    patterns = triage(text)
    reader.apply(patterns, text)  # the first call also embeds the intent statements
    calls.clear()
    combined = reader.apply(patterns, text)
    assert calls == [2]
    assert patterns.flags <= combined.flags
