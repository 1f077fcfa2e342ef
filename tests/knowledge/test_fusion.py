"""Document ranking from chunk hits: max per doc, score-level and Qdrant fusion."""

from __future__ import annotations

import pytest

from knowledge.fusion import (
    ScoredChunk,
    best_per_doc,
    convex_scores,
    pooled_dense,
    rank_documents,
)


def _c(doc: str, score: float, n: int = 0) -> ScoredChunk:
    return ScoredChunk(f"{doc}-{n}", doc, score, {"doc_id": doc})


def test_best_chunk_represents_the_document() -> None:
    best = best_per_doc([_c("a", 0.2, 1), _c("a", 0.9, 2), _c("b", 0.5)])
    assert best["a"].chunk_id == "a-2"
    assert best["b"].score == 0.5


def test_convex_normalises_bm25_by_the_best_document() -> None:
    scores = convex_scores({"a": 0.8, "b": 0.6}, {"b": 10.0, "c": 5.0}, dense_weight=0.5)
    assert scores == pytest.approx({"a": 0.4, "b": 0.8, "c": 0.25})


def test_sparse_evidence_can_reorder_close_dense_scores() -> None:
    dense = [_c("a", 0.71), _c("b", 0.70)]
    sparse = [_c("b", 7.0)]
    assert [d.doc_id for d in rank_documents("dense", dense, sparse)] == ["a", "b"]
    ranked = rank_documents("convex", dense, sparse)
    assert [d.doc_id for d in ranked] == ["b", "a"]
    assert ranked[0].dense == 0.70 and ranked[0].sparse == 7.0
    assert all(0.0 <= d.score <= 1.0 for d in ranked)


def test_qdrant_fusion_scores_are_scaled_into_unit_range() -> None:
    fused = [_c("a", 1.6), _c("b", 0.4)]
    ranked = rank_documents("dbsf", [_c("a", 0.9)], [], fused)
    assert [(d.doc_id, d.score) for d in ranked] == [("a", 0.8), ("b", 0.2)]
    assert ranked[1].dense == 0.0  # not among the dense candidates


def test_sparse_mode_without_terms_is_empty() -> None:
    assert rank_documents("sparse", [_c("a", 0.9)], []) == []


def test_pooled_dense_rewards_several_close_phrasings_a_little() -> None:
    pooled = pooled_dense([_c("a", 0.80, 1), _c("a", 0.79, 2), _c("b", 0.81)])
    assert pooled["b"] == pytest.approx(0.81)
    assert 0.81 < pooled["a"] < 0.80 + 0.05 * 0.7  # at most temperature * log(2) above max
