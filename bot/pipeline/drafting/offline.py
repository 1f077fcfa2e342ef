"""``OfflineDrafter``: an extractive reply from the best passage, with no LLM.

Used when no ``ANTHROPIC_API_KEY`` is set, so a fresh checkout answers something useful
and the whole pipeline (policy, approval cards, learning) can be exercised offline. It
never invents text: the body is either an approved learned answer reused nearly verbatim,
or the sentences of the best KB passage that share the most words with the question.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence

from bot.domain import DraftResult, Passage
from bot.pipeline.drafting.base import DraftRequest, retrieval_score
from bot.pipeline.drafting.text import content_words, overlap, sentences

OFFLINE_MODEL = "offline-extractive"

# A stored learned answer usually carries the agent's greeting and sign-off; we add ours.
_GREETING = re.compile(
    r"(?i)^\s*(?:hi|hello|hey|dear|good (?:morning|afternoon|evening))\b[^\n]*\n+"
)
# A sign-off line ("Best regards,") and up to two lines after it (name, team).
_SIGN_OFF = re.compile(
    r"(?i)\n+\s*(?:best|kind|warm)?\s*(?:regards|wishes|thanks|cheers|thank you)\b[^\n]*"
    r"(?:\n[^\n]*){0,2}\s*$"
)
_MARKDOWN_HEADING = re.compile(r"^#{1,6}\s+")
_LIST_ITEM = re.compile(r"^(?:[-*•]|\d+[.)])\s")


class OfflineDrafter:
    """Extractive drafting. ``min_score`` is the least passage score worth answering from;
    a learned answer scoring at least ``learned_reuse_score`` is reused nearly verbatim."""

    def __init__(
        self,
        *,
        min_score: float = 0.35,
        learned_reuse_score: float = 0.8,
        max_sentences: int = 4,
    ) -> None:
        self.model = OFFLINE_MODEL
        self._min_score = min_score
        self._learned_reuse_score = learned_reuse_score
        self._max_sentences = max_sentences

    async def aclose(self) -> None:
        """Nothing to release."""

    async def check(self) -> None:
        """Always ready: no network, no key."""

    async def draft(self, request: DraftRequest) -> DraftResult:
        """Build the reply from the best learned answer or KB passage, or ask for a human."""
        ranked = sorted(request.passages, key=retrieval_score, reverse=True)
        learned = next((p for p in ranked if p.kind == "learned"), None)
        if learned is not None and retrieval_score(learned) >= self._learned_reuse_score:
            body = strip_salutations(learned.text)
            return self._result(
                request,
                body,
                learned,
                confidence=min(0.95, retrieval_score(learned)),
                reason=f"reused the approved answer {learned.source_id} "
                f"(score {retrieval_score(learned):.2f})",
            )
        best = ranked[0] if ranked else None
        if best is None or retrieval_score(best) < self._min_score:
            found = f"best score {retrieval_score(best):.2f}" if best else "no passages"
            return DraftResult(
                reply="",
                self_confidence=0.0,
                needs_human=True,
                reason=f"no knowledge passage is relevant enough ({found}, "
                f"need {self._min_score:.2f})",
                cited_sources=(),
                model=OFFLINE_MODEL,
                offline=True,
            )
        question = content_words(f"{request.subject or ''}\n{request.customer_text}")
        body = (
            strip_salutations(best.text)
            if best.kind == "learned"
            else extract(best.text, question, self._max_sentences,
                         headings=(best.title, *best.metadata.get("heading_path", ())))
        )
        # Extracts are less reliable than an answer an agent wrote for this question.
        factor = 1.0 if best.kind == "learned" else 0.85
        return self._result(
            request,
            body,
            best,
            confidence=min(0.95, retrieval_score(best) * factor),
            reason=f"extracted from {best.title or best.source_id} "
            f"(score {retrieval_score(best):.2f})",
        )

    def _result(
        self, request: DraftRequest, body: str, source: Passage, *, confidence: float, reason: str
    ) -> DraftResult:
        name = (request.customer_name or "").strip().split(" ")[0]
        greeting = f"Hi {name}," if name else "Hi there,"
        reply = f"{greeting}\n\n{body.strip()}\n\nBest regards,\n{request.brand_name} Support"
        return DraftResult(
            reply=reply,
            self_confidence=round(max(0.0, confidence), 3),
            needs_human=False,
            reason=reason,
            cited_sources=(source.source_id,),
            model=OFFLINE_MODEL,
            offline=True,
        )


def strip_salutations(text: str) -> str:
    """A stored answer without its leading greeting line and trailing sign-off."""
    text = _GREETING.sub("", text.strip(), count=1)
    return _SIGN_OFF.sub("", text).strip()


def extract(text: str, question: set[str], max_sentences: int,
            headings: Sequence[str] = ()) -> str:
    """The passage sentences sharing most words with the question, in passage order.

    Falls back to the opening sentences when nothing overlaps (the passage still scored
    high in retrieval, so its lead usually states what it is about).
    """
    # Headings name a section (chunks carry their heading path as a first line for retrieval);
    # they read oddly inside a reply.
    named = {h.strip().casefold() for h in headings}
    candidates: Sequence[str] = [s for s in sentences(text) if not _MARKDOWN_HEADING.match(s)
                                 and s.strip().casefold() not in named]
    if not candidates:
        return text.strip()
    scored = [(-overlap(question, s), index) for index, s in enumerate(candidates)]
    relevant = sorted(item for item in scored if item[0] < 0)[:max_sentences]
    chosen = sorted(index for _, index in relevant) or list(range(min(2, len(candidates))))
    return _join(candidates[i] for i in chosen)


def _join(pieces: Iterable[str]) -> str:
    """Prose sentences flow into one paragraph; list items keep their own lines."""
    joined = ""
    for piece in pieces:
        last_line = joined.rsplit("\n", 1)[-1]
        if not joined:
            joined = piece
        elif _LIST_ITEM.match(piece) or _LIST_ITEM.match(last_line):
            joined += "\n" + piece
        else:
            joined += " " + piece
    return joined
