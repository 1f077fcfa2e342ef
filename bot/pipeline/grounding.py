"""Is a draft grounded in its passages? Claims (sentences), numbers, URLs and e-mail addresses.

Pure functions used by confidence (how much of the draft its passages support) and by
policy (nothing ungrounded may be sent without review).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from bot.domain import Passage
from bot.pipeline.drafting.text import content_words, sentences

_URL = re.compile(r"(?i)\b(?:https?://|www\.)[^\s<>()\"']+")
_EMAIL = re.compile(r"(?i)\b[\w.+-]+@[\w-]+(?:\.[\w-]+)+\b")
# Numbers, with thousands separators and decimals ("1,299.00", "4.5", "24"), optionally a
# currency sign or percent, which are ignored when comparing.
_NUMBER = re.compile(r"(?<![\w.])\d+(?:[.,]\d+)*")
# "1." or "2)" at the start of a line is list numbering that the drafter may add itself.
_LIST_MARKER = re.compile(r"(?m)^\s*\d{1,2}[.)]\s")
# Lines that are the reply's frame, not claims: greeting, sign-off, our closing offer.
_FRAME = re.compile(
    r"(?i)^(?:hi|hello|hey|dear|good (?:morning|afternoon|evening))\b|^(?:best|kind|warm)?\s*"
    r"(?:regards|wishes|thanks|cheers|thank you)\b|support$|reply to this message|"
    r"let (?:me|us) know|happy to help|hope this helps"
)
# A claim is grounded when this share of its content words occurs in the passages.
CLAIM_GROUNDED = 0.6


def _normalise_url(url: str) -> str:
    url = url.rstrip(".,;:!?").lower()
    url = re.sub(r"^https?://", "", url)
    return url.removeprefix("www.").rstrip("/")


def _normalise_number(number: str) -> str:
    # "1,299.00" and "1299.00" are the same amount; "1.299,00" (European) becomes "1299.00".
    digits = re.sub(r"[.,](?=\d{3}(?:\D|$))", "", number)
    return digits.replace(",", ".")


def _mentions(text: str) -> tuple[set[str], set[str], set[str]]:
    urls = {_normalise_url(u) for u in _URL.findall(text)}
    rest = _URL.sub(" ", text)
    emails = {e.lower() for e in _EMAIL.findall(rest)}
    rest = _EMAIL.sub(" ", rest)
    numbers = {_normalise_number(n) for n in _NUMBER.findall(rest)}
    return urls, emails, numbers


def ungrounded_tokens(draft_text: str, passages: Sequence[Passage]) -> list[str]:
    """URLs, e-mail addresses and numbers in the draft that no passage contains.

    A URL is grounded when a passage text contains it or it is a passage's own ``url``
    (compared without scheme, ``www.`` and trailing slash); numbers are compared after
    removing thousands separators. List numbering at line starts is ignored.
    """
    source = "\n".join(p.text + "\n" + p.title for p in passages)
    grounded_urls, grounded_emails, grounded_numbers = _mentions(source)
    grounded_urls |= {_normalise_url(p.url) for p in passages if p.url}
    urls, emails, numbers = _mentions(_LIST_MARKER.sub("", draft_text))
    missing: list[str] = []
    missing += sorted(u for u in urls if u not in grounded_urls)
    missing += sorted(e for e in emails if e not in grounded_emails)
    missing += sorted(n for n in numbers if n not in grounded_numbers)
    return missing


@dataclass(frozen=True, slots=True)
class Grounding:
    """How much of a draft its passages support: claims (sentences with content words) of
    which at least ``CLAIM_GROUNDED`` of the words occur in the passages, and the numbers,
    URLs and addresses no passage contains."""

    claims: int
    grounded_claims: int
    ungrounded_tokens: tuple[str, ...]

    @property
    def value(self) -> float | None:
        """Share of grounded claims, halved per ungrounded figure (None: nothing claimed)."""
        if not self.claims and not self.ungrounded_tokens:
            return None
        share = self.grounded_claims / self.claims if self.claims else 1.0
        return share * 0.5 ** len(self.ungrounded_tokens)


def claims(reply: str) -> list[str]:
    """The sentences of a reply that state something (its greeting and sign-off excluded)."""
    return [
        s for s in sentences(reply)
        if not _FRAME.search(s.strip().rstrip(",.!")) and len(content_words(s)) >= 2
    ]


def grounding(reply: str, passages: Sequence[Passage]) -> Grounding:
    """Measure how far ``reply`` is supported by ``passages``."""
    source = content_words("\n".join(f"{p.title}\n{p.text}" for p in passages))
    stated = claims(reply)
    supported = sum(
        len(words & source) >= CLAIM_GROUNDED * len(words)
        for words in (content_words(s) for s in stated)
    )
    return Grounding(len(stated), supported, tuple(ungrounded_tokens(reply, passages)))
