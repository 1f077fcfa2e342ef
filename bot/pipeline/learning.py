"""Learning from agents' decisions: the edit ratio and the learner hook's shape.

Pure functions only; ``bot.flow.decisions`` records the signals and calls the hook.
"""

from __future__ import annotations

import difflib
import enum
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True, slots=True)
class LearnedExample:
    """What a learner receives after a decision is committed: the customer's question and
    the answer agents stood behind (or, for a rejection, the reason and the rejected text)."""

    question: str
    answer: str
    action: str
    conversation_id: int | None = None
    draft_id: int | None = None
    agent: str | None = None
    channel: str | None = None
    edit_ratio: float | None = None
    grounded_in: str | None = None
    rejected_text: str | None = None


#: ``learn(example)``: store an agent-approved answer (or a rejection) so retrieval can use it.
#: ``bot.flow.learning`` implements it over the knowledge package's stores.
LearnFn = Callable[[LearnedExample], Awaitable[None]]


class LearningAction(enum.StrEnum):
    """What an agent did with a draft (``LearningSignal.action``)."""

    APPROVED = "approved"
    EDITED = "edited"
    REJECTED = "rejected"
    MANUAL = "manual"
    AUTO_SENT = "auto_sent"


def _normalise(text: str) -> str:
    # Whitespace-only changes (trailing newline, re-wrapped lines) are not edits an agent
    # meant; comparing normalised text keeps the ratio about the words.
    return " ".join(text.split())


#: Above this many characters, the ratio is computed over words: character-level matching
#: without autojunk is quadratic, and a 60,000-character draft would take minutes.
CHARACTER_LEVEL_MAX = 10_000


def edit_ratio(original: str, final: str) -> float:
    """How much of the draft the agent changed, in [0, 1]: 0 means sent as drafted.

    ``1 - SequenceMatcher.ratio()`` over whitespace-normalised text, so 0.25 means about a
    quarter of the characters differ. Autojunk is off: with it, texts over 200 characters
    would treat frequent characters such as spaces as junk and under-count edits. Very long
    texts are compared word by word (with autojunk) to stay fast.
    """
    a, b = _normalise(original), _normalise(final)
    if a == b:
        return 0.0
    if not a or not b:
        return 1.0
    if max(len(a), len(b)) <= CHARACTER_LEVEL_MAX:
        matcher = difflib.SequenceMatcher(None, a, b, autojunk=False)
    else:
        matcher = difflib.SequenceMatcher(None, a.split(), b.split(), autojunk=True)
    return round(1.0 - matcher.ratio(), 4)


def is_edited(original: str, final: str) -> bool:
    """True when the final text differs from the draft beyond whitespace."""
    return _normalise(original) != _normalise(final)


def edit_size(original: str, final: str) -> str:
    """A short human description of an edit for the card: ``"+12 / -3 words"``."""
    a, b = _normalise(original).split(), _normalise(final).split()
    added = removed = 0
    long = max(len(a), len(b)) > CHARACTER_LEVEL_MAX // 5
    matcher = difflib.SequenceMatcher(None, a, b, autojunk=long)
    for op, i1, i2, j1, j2 in matcher.get_opcodes():
        if op in ("replace", "delete"):
            removed += i2 - i1
        if op in ("replace", "insert"):
            added += j2 - j1
    return f"+{added} / -{removed} words"


def grounding_of(sources: Sequence[Mapping[str, Any]]) -> str | None:
    """The KB article a draft built on ``sources`` rests on: its top source, or the article a
    learned top source was itself approved from; None for a learned answer of unknown origin."""
    if not sources:
        return None
    top = sources[0]
    found = top.get("grounded_in") or (top.get("source_id") if top.get("kind") == "kb" else None)
    return str(found) if found else None
