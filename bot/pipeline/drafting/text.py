"""Small lexical helpers shared by the offline drafter, confidence and policy.

Overlap between a question and a passage only needs to be explainable ("6 of 10 question
words appear in the passage"), not linguistically perfect; the Snowball (Porter 2) stemmer
makes "arrived" meet "arrive" and "billing" meet "bill".
"""

from __future__ import annotations

import re
from functools import lru_cache

import snowballstemmer

_WORD = re.compile(r"[^\W_]+(?:['’][^\W_]+)?", re.UNICODE)
# A sentence ends at . ! ? followed by a capital, digit or quote ("Click Forgot password? on
# the sign-in page" is one sentence), or at a line break (markdown lists, headings).
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

# Words that frame a question rather than name its subject: "how long / how much / how many
# / how often / how quickly", time words, "what happens", "tell me". An article answers
# "how long does a refund take?" with "5 business days", never with the word "long", so
# these say nothing about whether a passage is on the question's subject.
QUESTION_FRAME: frozenset[str] = frozenset(
    """
    long much many often quick quickly soon fast ago today tomorrow yesterday week weeks
    month months day days year years hour hours minute minutes time times happen happens
    happened tell say says said mean means think thing things question questions two three
    great anything else everything able possible sure okay ok we're you're they're
    """.split()
)

_STEMMER = snowballstemmer.stemmer("english")


def words(text: str) -> list[str]:
    """Lower-cased word tokens (letters and digits, inner apostrophes kept)."""
    return [w.lower().replace("’", "'") for w in _WORD.findall(text)]


@lru_cache(maxsize=65536)
def stem(word: str) -> str:
    """The English Snowball stem, so 'refunds' meets 'refund' and 'arrived' meets 'arrive'."""
    return str(_STEMMER.stemWord(word))


# A few words customers use for what articles say otherwise (stems, both ways).
_SYNONYMS: dict[str, frozenset[str]] = {
    "differ": frozenset({"compar"}),
    "vs": frozenset({"compar"}),
    "versus": frozenset({"compar"}),
    "cost": frozenset({"price"}),
    "price": frozenset({"cost"}),
    "charg": frozenset({"bill", "price"}),
    "long": frozenset({"time", "day"}),
    "mani": frozenset({"limit", "up"}),
    "money": frozenset({"refund"}),
    "down": frozenset({"outag", "status"}),
    "compens": frozenset({"credit"}),
    "text": frozenset({"sms"}),
    "kept": frozenset({"keep"}),
    "keep": frozenset({"kept"}),
    "pictur": frozenset({"imag"}),
    "photo": frozenset({"imag"}),
    "maximum": frozenset({"max", "limit"}),
}


def synonyms(stemmed: str) -> frozenset[str]:
    """Stems an article may use for the customer's stemmed word ("pictur" → "imag")."""
    return _SYNONYMS.get(stemmed, frozenset())


def content_words(text: str) -> set[str]:
    """Stemmed words that carry meaning: no stopwords, no one-letter tokens."""
    return {stem(w) for w in words(text) if w not in STOPWORDS and len(w) > 1}


def matched_words(question: set[str], have: set[str] | frozenset[str]) -> set[str]:
    """The ``question`` words found in ``have``, directly or through a synonym."""
    return {w for w in question if w in have or _SYNONYMS.get(w, frozenset()) & have}


def overlap(question: set[str], text: str) -> float:
    """Share of ``question`` content words found in ``text`` (0 when the question is empty)."""
    if not question:
        return 0.0
    return len(question & content_words(text)) / len(question)


def sentences(text: str) -> list[str]:
    """Split prose and markdown into sentences or list items, dropping empty pieces."""
    return [s.strip() for s in _SENTENCE_END.split(text) if s and s.strip()]
