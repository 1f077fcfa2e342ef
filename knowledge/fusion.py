"""Pure ranking functions: chunk hits to document scores, and score-level fusion.

Documents are scored by their best chunk (max), which suits FAQ entries whose units are the
different ways a question is asked: one close phrasing is enough evidence.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Literal

SearchMode = Literal["dense", "sparse", "rrf", "dbsf", "convex"]
SEARCH_MODES: tuple[SearchMode, ...] = ("dense", "sparse", "rrf", "dbsf", "convex")
# Chosen on the four benchmark sets (tests/benchmarks/bench_retrieval.py): the weight of the
# dense score in the convex fusion, and the temperature of the soft maximum over a document's
# chunk cosines (0.05: a second phrasing within ~0.05 of the best adds up to ~0.035).
DENSE_WEIGHT = 0.8
POOL_TEMPERATURE = 0.05


@dataclass(frozen=True, slots=True)
class ScoredChunk:
    """One chunk as a search returned it (``payload``: the fields the search asked for)."""

    chunk_id: str
    doc_id: str
    score: float
    payload: Mapping[str, Any]


@dataclass(frozen=True, slots=True)
class DocScore:
    """A document's fused score, its best raw scores and the chunk that represents it."""

    doc_id: str
    score: float
    dense: float
    sparse: float
    best: ScoredChunk


def best_per_doc(chunks: Iterable[ScoredChunk]) -> dict[str, ScoredChunk]:
    """The highest-scoring chunk of each document."""
    best: dict[str, ScoredChunk] = {}
    for chunk in chunks:
        current = best.get(chunk.doc_id)
        if current is None or chunk.score > current.score:
            best[chunk.doc_id] = chunk
    return best


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
) -> list[DocScore]:
    """Documents ranked by ``mode``, each with a score in [0, 1] and its raw best scores.

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
    ranked = sorted(scores, key=lambda d: (-scores[d], d))
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
