"""Retrieval to passages: the searches of a ``RetrievalPlan`` run against the knowledge base
and the learned answers, merged, and assembled into what the drafter reads.

The retrievers are injected (``knowledge`` implements them); nothing here stores anything.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import Protocol

from bot.domain import Passage
from bot.pipeline.passages import assemble, hit_sections, merge_rankings
from bot.pipeline.questions import RetrievalPlan
from knowledge.types import Hit

KB_SOURCES = 5
LEARNED_SOURCES = 2


class Retriever(Protocol):
    """Learned-answer search as retrieval needs it (``knowledge`` implements it)."""

    async def search(self, query: str, limit: int = 5) -> Sequence[Hit]: ...


class KnowledgeRetriever(Protocol):
    """Knowledge-base search as retrieval needs it: only the first ``sections`` hits need
    their sections (the articles the drafter may read in full)."""

    async def search(self, query: str, limit: int = 5, *,
                     sections: int | None = None) -> Sequence[Hit]: ...


def passage_from_hit(hit: Hit) -> Passage:
    """A knowledge hit (KB article or learned answer) as the core's passage."""
    grounded_in = hit.metadata.get("grounded_in")
    return Passage(
        source_id=hit.doc_id,
        title=hit.title,
        text=hit.text,
        score=hit.score,
        kind=hit.kind,
        cosine=hit.dense_score,
        keyword=hit.sparse_score,
        chunk_id=hit.chunk_id,
        grounded_in=str(grounded_in) if grounded_in else None,
        metadata=dict(hit.metadata),
        sections=hit_sections(hit),
    )


def cosine(passage: Passage) -> float:
    """The cosine between the message and the passage's best chunk (or stored question)."""
    return passage.similarity


def merge_sources(kb: list[Passage], learned: list[Passage]) -> list[Passage]:
    """KB passages in their fused order, with learned answers placed by question similarity.

    Both kinds carry the cosine between the customer's message and a question (a KB entry's
    best chunk, often an example question; a learned answer's stored question), so that is the
    fair comparison: an approved answer to a question closer than any KB question leads — the
    agents' own words for this exact need — and otherwise follows the KB.
    """
    best_kb = cosine(kb[0]) if kb else 0.0
    leading = [p for p in learned if cosine(p) >= best_kb]
    trailing = [p for p in learned if cosine(p) < best_kb]
    return [*leading, *kb, *trailing]


async def retrieve(
    plan: RetrievalPlan,
    *,
    knowledge: KnowledgeRetriever | None,
    learned: Retriever | None,
    budget_tokens: int,
    max_articles: int,
) -> list[Passage]:
    """Every query of ``plan`` against the knowledge base (rankings merged in turns), the
    first against the learned answers, then the passages assembled within the budget.

    A single query's hits after the first ``max_articles`` bring no sections (the drafter
    reads no more articles in full). With several queries every hit brings them: an article
    found by two rankings receives the sections of both."""
    sections = max_articles if len(plan.queries) == 1 else None

    async def articles(query: str) -> list[Passage]:
        if knowledge is None:
            return []
        hits = await knowledge.search(query, limit=KB_SOURCES, sections=sections)
        return [passage_from_hit(h) for h in hits]

    async def answers(query: str) -> list[Passage]:
        if learned is None:
            return []
        return [passage_from_hit(h) for h in await learned.search(query, limit=LEARNED_SOURCES)]

    rankings = await asyncio.gather(answers(plan.queries[0]),
                                    *(articles(query) for query in plan.queries))
    kb = merge_rankings(rankings[1:], KB_SOURCES)
    passages = merge_sources(kb, rankings[0])
    return assemble(passages, budget_tokens=budget_tokens, max_articles=max_articles)
