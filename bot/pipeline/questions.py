"""What to search for: the questions a message asks, and follow-ups read in their conversation.

Pure functions over text. ``split_questions`` finds the separate questions of a message
("which cards do you take, can I get a VAT invoice, and how do I add seats?"), each retrieved
on its own so every one gets its article. ``retrieval_query`` folds a follow-up ("and how
long does that take?") together with the conversation's earlier customer turns and our last
reply, since its own words name nothing. ``plan_retrieval`` combines both into the searches
the router runs.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

MAX_QUESTIONS = 4
MIN_QUESTION_WORDS = 3
FOLLOWUP_CONTENT_WORDS = 4  # fewer own content words than this: read in context
NAMELESS_QUESTION_WORDS = 2  # a sub-question with fewer is searched with the one before
TURN_CHARS = 300  # of each earlier turn folded into a follow-up's query
EARLIER_TURNS = 2

_INTERROGATIVE = (
    r"how|what|which|where|when|why|who|whom|whose|can|could|do|does|did|is|are|was|were|"
    r"will|would|should|shall|may|might|have|has|am"
)
_SENTENCE_END = re.compile(r"(?<=[?!.])\s+|\n+")
# A new question inside a sentence: ", and how ...", "; can I ...", ", also what ...".
_CLAUSE = re.compile(
    rf"(?:,|;|\band\b|\balso\b)\s+(?:and\s+|also\s+|then\s+)*(?=(?:{_INTERROGATIVE})\b)",
    re.IGNORECASE,
)
_STARTS_AS_QUESTION = re.compile(rf"^(?:{_INTERROGATIVE})\b", re.IGNORECASE)
_LEAD_IN = re.compile(
    r"^(?:(?:hi|hello|hey|dear)\b[^,:.!?]*[,:!.]\s*)?"  # a greeting
    r"(?:(?:and|also|plus|oh|ok|okay|so|then|another thing|one more thing|lastly|finally)"
    r"\b[,:]?\s+)*"
    r"(?:[^:?]{0,40}:\s+)?",  # "three things: ..."
    re.IGNORECASE,
)
_WORD = re.compile(r"[\w'’-]+")
_STOPWORDS = frozenset(
    """a an the and or but if then so also too to of in on at for from by with about as into
    i me my we our us you your it its this that these those they them their there here
    is are was were be been being am do does did done have has had can could will would
    should shall may might must not no yes ok okay thanks thank please hi hello hey great
    what which who whom whose when where why how much many long any anything some something
    again still just now yet get got let lets""".split()
)


@dataclass(frozen=True, slots=True)
class RetrievalPlan:
    """The searches for one message: ``queries`` (each ranked and merged in turns, the first
    also used for learned answers) and the ``questions`` the reply must answer (one, or the
    message's separate questions)."""

    queries: tuple[str, ...]
    questions: tuple[str, ...]


def content_words(text: str) -> list[str]:
    """The words of ``text`` that carry meaning (not stopwords), lowercased."""
    return [w for w in (m.group(0).lower() for m in _WORD.finditer(text)) if w not in _STOPWORDS]


def _is_question(sentence: str) -> bool:
    return sentence.rstrip().endswith("?") or bool(_STARTS_AS_QUESTION.match(sentence))


def split_questions(text: str) -> list[str]:
    """The separate questions a message asks, in order; ``[text]`` when it asks one or none.

    A question is a sentence ending in "?" or opening like one ("how do I ..."); one sentence
    may hold several, joined by commas, "and" or "also". Fragments under three words ("Why?")
    are not questions of their own. At most ``MAX_QUESTIONS`` are returned.
    """
    found: list[str] = []
    for sentence in _SENTENCE_END.split(text.strip()):
        sentence = _LEAD_IN.sub("", sentence.strip(), count=1).strip()
        if not sentence or not _is_question(sentence):
            continue
        pending = ""  # a clause that asks nothing itself ("if I delete my account, ...")
        for clause in (c.strip(" ,;") for c in _CLAUSE.split(sentence)):
            clause = f"{pending}, {clause}" if pending else _LEAD_IN.sub("", clause, count=1)
            if not _STARTS_AS_QUESTION.match(clause) and not clause.endswith("?"):
                pending = clause
                continue
            pending = ""
            if len(_WORD.findall(clause)) >= MIN_QUESTION_WORDS:
                found.append(clause if clause.endswith("?") else f"{clause.rstrip('.!')}?")
    if len(found) < 2:
        return [text.strip()]
    return found[:MAX_QUESTIONS]


def is_followup(text: str, history: Sequence[tuple[str, str]]) -> bool:
    """A message that needs its conversation to be understood: there is an earlier customer
    turn and the message has fewer than ``FOLLOWUP_CONTENT_WORDS`` content words."""
    earlier = any(direction == "in" for direction, _ in history)
    return earlier and len(content_words(text)) < FOLLOWUP_CONTENT_WORDS


def retrieval_query(text: str, history: Sequence[tuple[str, str]]) -> str:
    """The follow-up ``text`` with the conversation's last ``EARLIER_TURNS`` customer turns and
    our last reply folded in (each cut to ``TURN_CHARS``); ``text`` itself when the
    conversation has no earlier customer turn. ``history`` is oldest first, as
    ``(direction, text)`` pairs with direction "in", "out" or "note"."""
    customer = [t for d, t in history if d == "in"][-EARLIER_TURNS:]
    if not customer:
        return text
    replies = [t for d, t in history if d == "out"]
    parts = [text, *customer, *replies[-1:]]
    return "\n".join(" ".join(p.split())[:TURN_CHARS] for p in parts)


def contextual_question(text: str, history: Sequence[tuple[str, str]]) -> str:
    """The question as a learned answer should remember it: a follow-up with its conversation
    folded in (what a later search will match), any other message as written."""
    return retrieval_query(text, history) if is_followup(text, history) else text


def plan_retrieval(
    text: str, *, subject: str | None = None, history: Sequence[tuple[str, str]] = ()
) -> RetrievalPlan:
    """The searches for one message (see ``RetrievalPlan``).

    A follow-up is searched in its conversation first and then as written (a new topic in
    few words must still find its article); a message of several questions is searched whole
    and then question by question. The subject is added when the text does not repeat it.
    """
    base = f"{subject}\n{text}" if subject and subject.lower() not in text.lower() else text
    questions = split_questions(text)
    queries: list[str] = []
    if is_followup(text, history):
        queries.append(retrieval_query(text, history))
    queries.append(base)
    if len(questions) > 1:
        # A question that names nothing itself ("how much does it cost?") is searched with
        # the one before it.
        for before, question in zip(("", *questions), questions, strict=False):
            few = len(content_words(question)) < NAMELESS_QUESTION_WORDS
            queries.append(f"{question} {before}".strip() if few else question)
    return RetrievalPlan(tuple(dict.fromkeys(queries)), tuple(questions))
