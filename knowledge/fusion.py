"""Pure ranking functions: chunk hits to document scores, and score-level fusion.

Documents are scored by their best chunk (max), which suits FAQ entries whose units are the
different ways a question is asked: one close phrasing is enough evidence.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from typing import Any, Literal, NamedTuple

SearchMode = Literal["dense", "sparse", "rrf", "dbsf", "convex"]
SEARCH_MODES: tuple[SearchMode, ...] = ("dense", "sparse", "rrf", "dbsf", "convex")
# Chosen on the four benchmark sets (tests/benchmarks/bench_retrieval.py): the weight of the
# dense score in the convex fusion, and the temperature of the soft maximum over a document's
# chunk cosines (0.05: a second phrasing within ~0.05 of the best adds up to ~0.035).
DENSE_WEIGHT = 0.8
POOL_TEMPERATURE = 0.05
# Besides its best chunk, a document hit brings this many more of its matching chunks, whose
# sections the drafter is also given (a question's facts often sit in a neighbouring section).
SUPPORT_CHUNKS = 5


class ScoredChunk(NamedTuple):
    """One chunk as a search returned it (``payload``: the fields the search asked for).

    A named tuple: a search folds a few hundred candidates per query (see ``Found``)."""

    chunk_id: str
    doc_id: str
    score: float
    payload: Mapping[str, Any]


@dataclass(frozen=True, slots=True)
class DocScore:
    """A document's fused score, its best raw scores and the chunk that represents it;
    ``support`` are its next best chunks (dense and keyword matches in turn)."""

    doc_id: str
    score: float
    dense: float
    sparse: float
    best: ScoredChunk
    support: tuple[ScoredChunk, ...] = ()


def best_per_doc(chunks: Iterable[ScoredChunk]) -> dict[str, ScoredChunk]:
    """The highest-scoring chunk of each document."""
    best: dict[str, ScoredChunk] = {}
    for chunk in chunks:
        current = best.get(chunk.doc_id)
        if current is None or chunk.score > current.score:
            best[chunk.doc_id] = chunk
    return best


def supporting_chunks(
    doc_id: str, best: ScoredChunk, *ranked: list[ScoredChunk], limit: int = SUPPORT_CHUNKS
) -> tuple[ScoredChunk, ...]:
    """The document's next best chunks after ``best``: the first of each ranked list in turn
    (each list best first), without repeats."""
    own = [[c for c in chunks if c.doc_id == doc_id] for chunks in ranked]
    chosen: dict[str, ScoredChunk] = {}
    for rank in range(max((len(o) for o in own), default=0)):
        for chunks in own:
            if rank < len(chunks) and chunks[rank].chunk_id != best.chunk_id:
                chosen.setdefault(chunks[rank].chunk_id, chunks[rank])
            if len(chosen) >= limit:
                return tuple(chosen.values())
    return tuple(chosen.values())


def pooled_dense(
    chunks: Iterable[ScoredChunk], temperature: float = POOL_TEMPERATURE
) -> dict[str, float]:
    """Soft maximum (log-sum-exp) of each document's chunk cosines.

    A FAQ entry matched closely by several of its phrasings is likelier the intent than one
    matched by a single phrasing; plain max ignores that, a sum would favour long entries.
    """
    by_doc: dict[str, list[float]] = {}
    for chunk in chunks:
        by_doc.setdefault(chunk.doc_id, []).append(chunk.score)
    pooled = {}
    for doc, scores in by_doc.items():
        top = max(scores)
        pooled[doc] = top + temperature * math.log(
            sum(math.exp((s - top) / temperature) for s in scores)
        )
    return pooled


def convex_scores(
    dense: Mapping[str, float], sparse: Mapping[str, float], dense_weight: float = DENSE_WEIGHT
) -> dict[str, float]:
    """Weighted sum of the dense score and the max-normalised BM25 score per document.

    Cosine (pooled) is already on a fixed scale; BM25 is not, so it is divided by the query's best
    BM25 score. A document missing from one list contributes 0 there.
    """
    top_sparse = max(sparse.values(), default=0.0)
    docs = set(dense) | set(sparse)
    return {
        doc: dense_weight * max(dense.get(doc, 0.0), 0.0)
        + (1.0 - dense_weight) * (sparse.get(doc, 0.0) / top_sparse if top_sparse > 0 else 0.0)
        for doc in docs
    }


def rank_documents(
    mode: SearchMode,
    dense: list[ScoredChunk],
    sparse: list[ScoredChunk],
    fused: list[ScoredChunk] | None = None,
    *,
    dense_weight: float = DENSE_WEIGHT,
    limit: int | None = None,
) -> list[DocScore]:
    """The ``limit`` (default: all) documents ranked best by ``mode``, each with a score in
    [0, 1] and its raw best scores.

    ``fused`` is Qdrant's own fusion (RRF or DBSF) of the same chunks, used for those modes.
    """
    best_dense = best_per_doc(dense)
    best_sparse = best_per_doc(sparse)
    dense_by_doc = {d: c.score for d, c in best_dense.items()}
    sparse_by_doc = {d: c.score for d, c in best_sparse.items()}
    top_sparse = max(sparse_by_doc.values(), default=0.0)
    scores: dict[str, float]
    representative: dict[str, ScoredChunk]
    if mode == "dense":
        scores, representative = dense_by_doc, best_dense
    elif mode == "sparse":
        scores = {d: s / top_sparse for d, s in sparse_by_doc.items()} if top_sparse else {}
        representative = best_sparse
    elif mode == "convex":
        scores = convex_scores(pooled_dense(dense), sparse_by_doc, dense_weight)
        representative = {**best_sparse, **best_dense}
    else:
        representative = best_per_doc(fused or [])
        # Qdrant's RRF (k=2) sums to at most 1 over two lists; DBSF sums two [0, 1] scores.
        scale = 1.0 if mode == "rrf" else 0.5
        scores = {d: c.score * scale for d, c in representative.items()}
    ranked = sorted(scores, key=lambda d: (-scores[d], d))[:limit]
    return [
        DocScore(
            doc_id=d,
            score=min(max(scores[d], 0.0), 1.0),
            dense=dense_by_doc.get(d, 0.0),
            sparse=sparse_by_doc.get(d, 0.0),
            best=representative.get(d) or best_dense.get(d) or best_sparse[d],
        )
        for d in ranked
    ]


def with_support(docs: list[DocScore], dense: list[ScoredChunk],
                 sparse: list[ScoredChunk]) -> list[DocScore]:
    """``docs`` with their supporting chunks (see ``supporting_chunks``) filled in."""
    by_score = [sorted(chunks, key=lambda c: -c.score) for chunks in (dense, sparse)]
    return [replace(d, support=supporting_chunks(d.doc_id, d.best, *by_score)) for d in docs]
