"""Small lexical helpers shared by the offline drafter, confidence and policy.

Deliberately dependency-free: overlap between a question and a passage only needs to be
explainable ("6 of 10 question words appear in the passage"), not linguistically perfect.
"""

from __future__ import annotations

import re

_WORD = re.compile(r"[^\W_]+(?:['’][^\W_]+)?", re.UNICODE)
# Sentence ends: punctuation followed by space, or a line break (markdown lists, headings).
# A sentence ends at . ! ? followed by a capital, digit or quote ("Click Forgot password? on
# the sign-in page" is one sentence), or at a line break.
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+(?=[A-Z0-9\"“'(\[])|\n+")

STOPWORDS: frozenset[str] = frozenset(
    """
    a about above after again against all am an and any are as at be because been before being
    below between both but by can could did do does doing down during each few for from further
    had has have having he her here hers herself him himself his how i i'm if in into is it its
    itself just let me more most my myself no nor not now of off on once only or other our ours
    ourselves out over own same she should so some such than that the their theirs them
    themselves then there these they this those through to too under until up very was we were
    what when where which while who whom why will with would you your yours yourself
    yourselves hi hello hey thanks thank please regards dear best cheers help need want know
    get got can't cannot don't doesn't didn't i've i'd i'll it's that's there's what's also
    still just really would like could anyone someone something way one
    """.split()
)


def words(text: str) -> list[str]:
    """Lower-cased word tokens (letters and digits, inner apostrophes kept)."""
    return [w.lower().replace("’", "'") for w in _WORD.findall(text)]


def stem(word: str) -> str:
    """A deliberately crude English stem so 'refunds' meets 'refund' and 'billing' meets 'bill'."""
    for suffix in ("ing", "ies", "es", "ed", "s"):
        if len(word) > len(suffix) + 3 and word.endswith(suffix):
            return word[: -len(suffix)] + ("y" if suffix == "ies" else "")
    return word


def content_words(text: str) -> set[str]:
    """Stemmed words that carry meaning: no stopwords, no one-letter tokens."""
    return {stem(w) for w in words(text) if w not in STOPWORDS and len(w) > 1}


def overlap(question: set[str], text: str) -> float:
    """Share of ``question`` content words found in ``text`` (0 when the question is empty)."""
    if not question:
        return 0.0
    return len(question & content_words(text)) / len(question)


def sentences(text: str) -> list[str]:
    """Split prose and markdown into sentences or list items, dropping empty pieces."""
    return [s.strip() for s in _SENTENCE_END.split(text) if s and s.strip()]
