"""Typo correction of query words against the knowledge base's vocabulary."""

from __future__ import annotations

from knowledge.spelling import Speller, vocabulary_of

KB = [
    "How do I verify my email address?",
    "Refund for a returned mattress",
    "I did not receive my order",
]


def test_misspelt_words_become_the_kb_word() -> None:
    speller = Speller(vocabulary_of(KB))
    assert speller.correct("cant verfiy emial") == "cant verify email"
    assert speller.correct("didnt recieve my mattres") == "didnt receive my mattress"


def test_known_short_and_unlike_words_are_kept() -> None:
    speller = Speller(vocabulary_of(KB))
    # "ok" is too short to guess at; "pizza" is like nothing in the KB; digits are not words.
    assert speller.correct("ok pizza 560034 Refund") == "ok pizza 560034 Refund"


def test_vocabulary_is_lower_cased_letters_only() -> None:
    assert vocabulary_of(["Pin-code 560034, PAN card!"]) == {"pin", "code", "pan", "card"}


def test_an_empty_knowledge_base_corrects_nothing() -> None:
    speller = Speller([])
    assert len(speller) == 0
    assert speller.correct("verfiy") == "verfiy"
