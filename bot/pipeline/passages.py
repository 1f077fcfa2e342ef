"""Small-to-big passage assembly: from search hits to what the drafter reads.

Search ranks articles by their best small chunk (a list step, an example question), which is
the right unit to match but the wrong one to answer from: the facts a reply needs sit around
it (the other steps, the table, the "if the email doesn't arrive" section). Each hit brings
the sections its best chunks belong to (stored with the chunks at ingest, so no extra search
round trip); this module turns them into one passage per article:

* the top ``max_articles`` articles receive their sections, round by round in rank order
  (every article's best section first, then every article's second, ...), while they fit in
  ``budget_tokens``; a section is taken once;
* each article's sections are laid out in the article's own order under their heading paths,
  in Markdown (tables and lists as written);
* lower-ranked articles and learned answers keep their short text, so confidence and the card
  still see every source.

Several rankings (one per sub-question, or the follow-up with and without its conversation)
are merged first, in turns, so each ranking's best article comes before any ranking's second.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import replace

from bot.domain import Passage, PassageSection
from knowledge.types import Hit

CHARS_PER_TOKEN = 4  # a rough English average for Claude's tokenizer; the budget is a cap
OTHER_SOURCE_CHARS = 400  # text kept for a source that gets no section of its own
TOP_ARTICLE_SHARE = 2  # sections the best article receives per round (the others one)


def estimate_tokens(text: str) -> int:
    """Approximate token count of ``text`` (characters / 4, rounded up)."""
    return math.ceil(len(text) / CHARS_PER_TOKEN)


def hit_sections(hit: Hit) -> tuple[PassageSection, ...]:
    """A knowledge hit's sections as the core's type."""
    return tuple(PassageSection(s.heading_path, s.text, s.position) for s in hit.sections)


def merge_rankings(rankings: Sequence[Sequence[Passage]], limit: int) -> list[Passage]:
    """Several rankings of articles merged in turns (rank 1 of each, then rank 2, ...).

    An article found by more than one ranking appears once, at its first place, with the
    sections of every ranking that found it (first ranking's first) and its best score.
    """
    merged: dict[str, Passage] = {}
    for rank in range(max((len(r) for r in rankings), default=0)):
        for ranking in rankings:
            if rank >= len(ranking):
                continue
            passage = ranking[rank]
            known = merged.get(passage.source_id)
            if known is None:
                if len(merged) < limit:
                    merged[passage.source_id] = passage
                continue
            sections = _unique((*known.sections, *passage.sections))
            merged[passage.source_id] = replace(known, sections=sections,
                                                score=max(known.score, passage.score))
    return list(merged.values())


def _unique(sections: Sequence[PassageSection]) -> tuple[PassageSection, ...]:
    seen: dict[int, PassageSection] = {}
    for section in sections:
        seen.setdefault(section.position, section)
    return tuple(seen.values())


def render_sections(sections: Sequence[PassageSection]) -> str:
    """Sections in article order, each under its heading path (without the article title,
    which the passage carries)."""
    parts = []
    for section in sorted(sections, key=lambda s: s.position):
        heading = " > ".join(section.heading_path[1:])
        parts.append(f"## {heading}\n{section.text}" if heading else section.text)
    return "\n\n".join(parts).strip()


def _cost(section: PassageSection) -> int:
    return estimate_tokens(section.text) + estimate_tokens(" > ".join(section.heading_path)) + 2


def _truncate(section: PassageSection, tokens: int) -> PassageSection:
    """The section cut at a line boundary to about ``tokens`` (at least its first line)."""
    limit = tokens * CHARS_PER_TOKEN
    kept: list[str] = []
    size = 0
    for line in section.text.splitlines():
        if kept and size + len(line) + 1 > limit:
            break
        kept.append(line)
        size += len(line) + 1
    return replace(section, text="\n".join(kept))


def assemble(
    passages: Sequence[Passage], *, budget_tokens: int, max_articles: int = 3
) -> list[Passage]:
    """The passages as the drafter should read them (see the module docstring).

    The order and scores of ``passages`` are kept; only the text (and ``sections``) of the
    top articles change. Passages without sections (learned answers, hits indexed before
    chunks carried their section) are left as they are.
    """
    top = [p for p in passages if p.kind == "kb" and p.sections][:max_articles]
    top_ids = {p.source_id for p in top}
    remaining = budget_tokens - sum(
        estimate_tokens(p.text[:OTHER_SOURCE_CHARS]) for p in passages
        if p.source_id not in top_ids
    )
    chosen: dict[str, list[PassageSection]] = {p.source_id: [] for p in top}
    queues = {p.source_id: list(_unique(p.sections)) for p in top}
    while remaining > 0 and any(queues.values()):
        for rank, passage in enumerate(top):
            queue = queues[passage.source_id]
            # The best article is the likeliest answer: two of its sections a round.
            for section in [queue.pop(0) for _ in range(TOP_ARTICLE_SHARE if rank == 0 else 1)
                            if queue]:
                cost = _cost(section)
                if cost <= remaining:
                    chosen[passage.source_id].append(section)
                    remaining -= cost
                elif not any(chosen.values()):
                    # The best section of the best article is always given, cut to the budget.
                    chosen[passage.source_id].append(_truncate(section, remaining))
                    remaining = 0
    result = []
    for passage in passages:
        sections = chosen.get(passage.source_id)
        if sections:
            ordered = tuple(sorted(sections, key=lambda s: s.position))
            # The section of the best hit, which the offline drafter prefers to answer from.
            best = {**passage.metadata, "best_section": list(sections[0].heading_path[1:])}
            result.append(replace(passage, text=render_sections(ordered), sections=ordered,
                                  metadata=best))
        elif passage.kind == "kb" and len(passage.text) > OTHER_SOURCE_CHARS:
            result.append(replace(passage, text=_cut(passage.text, OTHER_SOURCE_CHARS),
                                  sections=()))
        else:
            result.append(replace(passage, sections=()) if passage.sections else passage)
    return result


def _cut(text: str, chars: int) -> str:
    """``text`` cut to about ``chars`` at a word boundary, marked as cut."""
    cut = text[:chars].rsplit(" ", 1)[0] if " " in text[:chars] else text[:chars]
    return f"{cut} …"
