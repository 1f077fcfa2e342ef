"""``OfflineDrafter``: an extractive reply composed from whole sections, with no LLM.

The embedded default (no ``ANTHROPIC_API_KEY``) and Claude's fallback. It never invents
text: the body is an approved learned answer reused nearly verbatim, or, for each question
in the message, the section of a retrieved article that answers it best, with its lists,
steps and tables intact. The section is chosen by the question's words in its heading and
body ("the reset email never arrived" picks "If the reset email doesn't arrive", not the
step that says "Open the email"), and rendered as plain text: no heading paths, no Markdown
emphasis, no references to text the reply does not carry. When nothing answers, the reply is
empty and ``needs_human`` is set, with the reason.

It has no opinion of its own answer: ``self_confidence`` is 0 and confidence ignores it for
offline drafts (see ``bot.pipeline.confidence``).
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from dataclasses import dataclass
from itertools import pairwise

from bot.domain import DraftResult, Passage
from bot.pipeline.drafting.base import DraftRequest, retrieval_score
from bot.pipeline.drafting.sections import Section, parse_sections, render_block
from bot.pipeline.drafting.text import content_words, matched_words, sentences
from bot.pipeline.questions import is_followup, retrieval_query, split_questions

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
# A customer reporting a problem ("never arrived", "can't", "doesn't work") ...
_PROBLEM = re.compile(
    r"(?i)\b(?:not|no|never|unable|cannot|can't|cant|didn't|didnt|don't|dont|doesn't|doesnt"
    r"|isn't|wasn't|won't|haven't|hasn't|failed|fails|failing|error|wrong|missing|stuck"
    r"|lost|locked|broken|nothing|stopped|still|haven't|hasn't|hasnt|havent)\b"
)
_PROBLEM_WORDS = " ".join(re.findall(r"[a-z']+", _PROBLEM.pattern))
# ... is answered by a section about that situation ("If the reset email doesn't arrive").
_CONDITION_HEADING = re.compile(
    r"(?i)^(?:if|when|what if|in case|troubleshoot\w*|problems?|errors?|why)\b"
    r"|\b(?:doesn't|didn't|isn't|won't|hasn't|can't|cannot|fail\w*|error\w*|locked|missing"
    r"|lost)\b"
)
_HOW_TO = re.compile(r"(?i)\bhow (?:do|can|should|would|to)\b|\bsteps?\b|\bwhere (?:do|can)\b")
_LEAD_IN_AS_IS = re.compile(r"(?i)^(?:if|when|before|after|while|in case|you)\b")
_IMPERATIVE = frozenset(
    """add cancel change check connect contact create delete disable download downgrade edit
    enable export find get install invite manage move open recover remove rename reset restore
    set share sign switch transfer turn unlock update upgrade upload use verify request
    configure report choose track return view pay print apply join leave close rewind free
    protect link""".split()
)
# Sections longer than this are trimmed to the blocks that match the question.
WHOLE_SECTION_WORDS = 160
MAX_BODY_WORDS = 260
BACKGROUND_WEIGHT = 0.3
LEAD_MAX_WORDS = 120
BEST_HIT_PRIOR = 0.3
# Other sections of the best article join the answer from this share of its score, up to
# MAX_SECTIONS in all (chosen on the answer benchmark: 0.8 → 0.765, 0.7 → 0.827 fact recall).
CLOSE = 0.7
MAX_SECTIONS = 3
# A best section this short only introduces the answer; its article's other sections join
# from this share of its score.
INTRO_WORDS = 40
INTRO_CLOSE = 0.45
CLOSING = "If anything is still unclear, just reply to this message."


@dataclass(frozen=True, slots=True)
class _Candidate:
    passage: Passage
    section: Section
    score: float
    words: frozenset[str]
    prior: float = 0.0  # what retrieval says: the best hit's section of a high-ranked article


class OfflineDrafter:
    """Extractive drafting. ``min_score`` is the least passage score worth answering from;
    a learned answer scoring at least ``learned_reuse_score`` is reused nearly verbatim;
    ``min_match`` is the least share of a question's words a section must contain."""

    def __init__(
        self,
        *,
        min_score: float = 0.35,
        learned_reuse_score: float = 0.8,
        min_match: float = 0.25,
    ) -> None:
        self.model = OFFLINE_MODEL
        self._min_score = min_score
        self._learned_reuse_score = learned_reuse_score
        self._min_match = min_match

    async def aclose(self) -> None:
        """Nothing to release."""

    async def check(self) -> None:
        """Always ready: no network, no key."""

    async def draft(self, request: DraftRequest) -> DraftResult:
        """Compose the reply (see the module docstring)."""
        return self.compose(request)

    def compose(self, request: DraftRequest) -> DraftResult:
        """The synchronous body of ``draft`` (Claude's fallback calls it directly)."""
        ranked = sorted(request.passages, key=retrieval_score, reverse=True)
        asked = [q for q in request.questions if q.strip()]
        questions = (asked if len(asked) > 1 else split_questions(request.customer_text)
                     if request.customer_text.strip() else [request.subject or ""])
        learned = next((p for p in ranked if p.kind == "learned"), None)
        if (learned is not None and len(questions) == 1
                and retrieval_score(learned) >= self._learned_reuse_score):
            return self._result(
                request, [strip_salutations(learned.text)], [learned],
                reason=f"extractive: reused the approved answer {learned.source_id} "
                f"(score {retrieval_score(learned):.2f})",
            )
        usable = [p for p in ranked
                  if p.kind != "learned" and retrieval_score(p) >= self._min_score]
        if not usable:
            best = ranked[0] if ranked else None
            found = f"best score {retrieval_score(best):.2f}" if best else "no passages"
            return _declined(f"no knowledge passage is relevant enough ({found}, "
                             f"need {self._min_score:.2f})")
        candidates = [
            # A section is about its article and heading path as much as its own words.
            _Candidate(p, s, 0.0, frozenset(content_words(" ".join((p.title, *s.path, s.text())))),
                       _prior(p, rank, s))
            for rank, p in enumerate(usable)
            for s in parse_sections(p.text, title=p.title,
                                    heading_path=tuple(p.metadata.get("heading_path", ())))
        ]
        blocks: list[str] = []
        used: list[Passage] = []
        shown: set[int] = set()
        unanswered: list[str] = []
        message = f"{request.subject or ''}\n{request.customer_text}"
        if is_followup(request.customer_text, request.history):
            # "and how long does that take?" is about the conversation's subject.
            message = retrieval_query(message, request.history)
        message_words = content_words(message)
        for question in questions:
            wanted = content_words(question) if len(questions) > 1 else message_words
            chosen = self._choose(question, wanted, candidates, message_words)
            if not chosen:
                unanswered.append(question)
                continue
            lead = self._lead_for(chosen[0], candidates, wanted)
            if lead is not None and all(c.section is not lead.section for c in chosen):
                chosen = [lead, *chosen]
            # An article's sections read in the article's order; articles in the order chosen.
            order = {id(c.section): i for i, c in enumerate(candidates)}
            first: dict[str, int] = {}
            for c in chosen:
                first.setdefault(c.passage.source_id, len(first))
            chosen.sort(key=lambda c: (first[c.passage.source_id], order[id(c.section)]))
            parts = [_render(c.section, wanted) for c in chosen if id(c.section) not in shown]
            shown.update(id(c.section) for c in chosen)
            used.extend(c.passage for c in chosen if c.passage not in used)
            if parts:
                blocks.append("\n\n".join(parts))
        if not blocks:
            return _declined("nothing in the retrieved articles answers the question "
                             f"(best passage {usable[0].title or usable[0].source_id})")
        blocks += [f'I could not find an answer to "{q.strip()}" in our help articles; a '
                   "colleague will follow up on it." for q in unanswered]
        titles = ", ".join(dict.fromkeys(p.title or p.source_id for p in used))
        return self._result(request, blocks, used, reason=f"extractive: quoted from {titles}"
                            + (f"; {len(unanswered)} question(s) unanswered" if unanswered else ""))

    def _choose(
        self, question: str, wanted: set[str], candidates: Sequence[_Candidate],
        background: set[str],
    ) -> list[_Candidate]:
        """The best section for ``question``, and a second one when it covers question words
        the first lacks.

        Question words are weighted by their rarity among the candidate sections (IDF), so
        "arrive" or "VAT" decides more than "account" or "plan", which every section has.
        """
        if not wanted:
            return []
        n = len(candidates)
        # The rest of the message ("How do I reset my password and what is the minimum
        # length?") tells what a sub-question is about, at a lower weight.
        background = background - wanted
        idf = {w: math.log(1 + n / (1 + sum(w in c.words for c in candidates)))
               * (1.0 if w in wanted else BACKGROUND_WEIGHT) for w in wanted | background}
        total = sum(idf.values())

        def weight(found: set[str]) -> float:
            return sum(idf[w] for w in found) / total if total else 0.0

        problem = _PROBLEM.search(question) is not None
        how_to = _HOW_TO.search(question) is not None
        scored = []
        for c in candidates:
            found = matched_words(wanted, c.words)
            # One shared word is enough for the section retrieval matched by meaning.
            if len(found) / len(wanted) < self._min_match or (
                len(found) < min(2, len(wanted)) and weight(found) < 0.4 and not c.prior
            ):
                continue
            found |= matched_words(background, c.words)
            # An article's lead is about its title. A heading that names the question
            # (precision) marks the section written for it; one that merely shares a word
            # with it less so.
            heading = content_words(c.section.heading or c.passage.title)
            in_heading = matched_words(wanted, heading)
            score = weight(found) + 0.25 * weight(in_heading)
            score += 0.35 * len(in_heading) / max(1, len(heading))
            score += 0.5 * retrieval_score(c.passage) + c.prior
            first = c.section.blocks[0]
            if how_to == (first.kind == "list" and first.ordered):
                score += 0.1  # "how do I" wants steps; "what/which/does" wants the statement
            if problem and _CONDITION_HEADING.search(c.section.heading):
                score += 0.25
            scored.append(_Candidate(c.passage, c.section, score, c.words, c.prior))
        if not scored:
            return []
        scored.sort(key=lambda c: c.score, reverse=True)
        best = scored[0]
        # Words of the article's title are context, not something a second section must add;
        # problem words ("never", "not") are matched by the situation, not by the word.
        context = content_words(best.passage.title) | content_words(_PROBLEM_WORDS)
        missing = wanted - matched_words(wanted, best.words) - context
        second = max(
            (c for c in scored[1:] if c.score >= 0.6 * best.score
             and len(matched_words(missing, c.words)) >= max(2, round(0.34 * len(wanted)))),
            key=lambda c: (weight(matched_words(missing, c.words)), c.score),
            default=None,
        )
        chosen = [best] if second is None else [best, second]
        # Sections of the same article scoring nearly as well usually hold the rest of the
        # answer (the time frame next to the steps, the limits below the table). A best
        # section that only introduces ("one of three signup modes:", "back up your server
        # regularly") leaves the answer to the sections after it: they join more easily.
        intro = best.section.body_words() <= INTRO_WORDS
        close, limit = (INTRO_CLOSE, MAX_SECTIONS + 1) if intro else (CLOSE, MAX_SECTIONS)
        for c in scored[1:]:
            if len(chosen) >= limit:
                break
            if c not in chosen and c.passage is best.passage and c.score >= close * best.score:
                chosen.append(c)
        return chosen

    def _lead_for(
        self, best: _Candidate, candidates: Sequence[_Candidate], wanted: set[str]
    ) -> _Candidate | None:
        """The opening of the best section's article, when the section is not that opening
        and the opening shares the question's words: articles state their key facts first
        (prices, limits, time frames) and the section alone often lacks them."""
        if not best.section.heading:
            return None
        lead = next((c for c in candidates if c.passage is best.passage
                     and not c.section.heading), None)
        if lead is None or lead.section.body_words() > LEAD_MAX_WORDS:
            return None
        body = content_words(" ".join(b.text() for b in lead.section.blocks))
        return lead if len(matched_words(wanted, body)) >= 2 else None

    def _result(
        self, request: DraftRequest, blocks: Sequence[str], used: Sequence[Passage], *,
        reason: str,
    ) -> DraftResult:
        name = (request.customer_name or "").strip().split(" ")[0]
        greeting = f"Hi {name}," if name else "Hi there,"
        body = "\n\n".join(b.strip() for b in blocks if b.strip())
        signature = f"Best regards,\n{request.brand_name} Support"
        return DraftResult(
            reply=f"{greeting}\n\n{body}\n\n{CLOSING}\n\n{signature}",
            self_confidence=0.0,
            needs_human=False,
            reason=reason,
            cited_sources=tuple(dict.fromkeys(p.source_id for p in used)),
            model=OFFLINE_MODEL,
            offline=True,
        )


def _prior(passage: Passage, rank: int, section: Section) -> float:
    """Retrieval's vote for a section: the section of the article's best hit (named by
    passage assembly), more for the best-ranked article."""
    best = passage.metadata.get("best_section")
    if not isinstance(best, list | tuple):
        return 0.0
    heading = str(best[-1]) if best else ""
    if section.heading != heading:
        return 0.0
    return BEST_HIT_PRIOR if rank == 0 else BEST_HIT_PRIOR / 2


def _declined(reason: str) -> DraftResult:
    return DraftResult(reply="", self_confidence=0.0, needs_human=True, reason=reason,
                       cited_sources=(), model=OFFLINE_MODEL, offline=True)


def _lead_in(section: Section) -> str:
    """A sentence-like lead-in from the heading, or nothing: "If the reset email doesn't
    arrive:", "To transfer ownership:". Never the heading path."""
    heading = section.heading.strip().rstrip(":?.")
    if not heading or not section.blocks or section.blocks[0].kind not in ("list", "table"):
        return ""
    if _LEAD_IN_AS_IS.match(heading):
        return f"{heading}:"
    first, _, rest = heading.partition(" ")
    if first.casefold() in _IMPERATIVE:
        return f"To {first.casefold()} {rest}:".replace(" :", ":")
    return f"{heading}:" if section.blocks[0].kind == "table" else ""


def _render(section: Section, wanted: set[str]) -> str:
    """The section as reply text: whole when short, else the blocks that match the question
    (a list or table always whole), in the article's order."""
    blocks = section.blocks
    if section.body_words() > WHOLE_SECTION_WORDS:
        matching = [b for b in blocks if wanted & content_words(b.text())]
        keep = {id(blocks[0])} | {id(b) for b in matching}
        # What a kept block announces ("Download the release's code:") comes with it.
        for before, after in pairwise(blocks):
            if id(before) in keep and before.text().rstrip().endswith(":"):
                keep.add(id(after))
        blocks = [b for b in blocks if id(b) in keep]
        # A label just above a kept block stays with it.
        kept = []
        for index, b in enumerate(section.blocks):
            following = section.blocks[index + 1] if index + 1 < len(section.blocks) else None
            if id(b) in keep or (b.kind == "subheading" and following is not None
                                 and id(following) in keep):
                kept.append(b)
        blocks = kept
    out: list[str] = []
    total = 0
    for index, b in enumerate(blocks):
        rendered = render_block(b)
        if index == 0 and b.kind == "paragraph":
            rendered = _from_the_answer(rendered, wanted)
        size = len(rendered.split())
        if out and total + size > MAX_BODY_WORDS:
            break
        out.append(rendered)
        total += size
    while out and out[-1].endswith(":") and "\n" not in out[-1]:
        out.pop()  # a label with nothing under it
    lead = _lead_in(section)
    body = "\n\n".join(out)
    return f"{lead}\n{body}" if lead and out else body


def _from_the_answer(paragraph: str, wanted: set[str]) -> str:
    """The paragraph from its first sentence that shares a word with the question: an
    article's opening about the company is not part of an answer."""
    pieces = sentences(paragraph)
    start = next((i for i, s in enumerate(pieces) if matched_words(wanted, content_words(s))), 0)
    return " ".join(pieces[start:]) if start else paragraph


def strip_salutations(text: str) -> str:
    """A stored answer without its leading greeting line, trailing sign-off and our closing
    line ("If anything is still unclear, ...")."""
    text = _GREETING.sub("", text.strip(), count=1)
    text = _SIGN_OFF.sub("", text).strip()
    return text.removesuffix(CLOSING).strip()
