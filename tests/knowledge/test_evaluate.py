"""Retrieval metrics and the queries file format."""

from __future__ import annotations

import pytest

from knowledge.evaluate import (
    EvalError,
    LabelledQuery,
    evaluate,
    parse_queries,
    percentile,
    score_rankings,
)


def _q(*relevant: str) -> LabelledQuery:
    return LabelledQuery("q", frozenset(relevant))


def test_recall_and_mrr() -> None:
    queries = [_q("a"), _q("b"), _q("c"), _q("z")]
    rankings = [["a", "x"], ["x", "y", "b"], ["x", "y", "w", "v", "c"], ["x"]]
    result = score_rankings(rankings, queries, [1.0, 2.0, 3.0, 4.0])
    assert result.recall_at_1 == 0.25
    assert result.recall_at_3 == 0.5
    assert result.recall_at_5 == 0.75
    assert result.mrr == pytest.approx((1 + 1 / 3 + 1 / 5) / 4)
    assert (result.latency_ms_p50, result.latency_ms_p95) == (2.0, 4.0)


def test_json_has_the_contract_keys_in_order() -> None:
    result = score_rankings([["a"]], [_q("a")], [1.234])
    assert list(result.as_json()) == [
        "queries",
        "recall@1",
        "recall@3",
        "recall@5",
        "mrr",
        "latency_ms_p50",
        "latency_ms_p95",
    ]


def test_percentile_nearest_rank() -> None:
    assert percentile([], 50) == 0.0
    assert percentile([5.0, 1.0, 3.0], 50) == 3.0
    assert percentile(list(map(float, range(1, 101))), 95) == 95.0


def test_parse_queries_skips_blanks_and_extra_keys() -> None:
    lines = ['{"query": "hi", "relevant": ["a"], "qid": 1}', "", '{"query": "x", "relevant": []}']
    assert parse_queries(lines) == [
        LabelledQuery("hi", frozenset({"a"})),
        LabelledQuery("x", frozenset()),
    ]


@pytest.mark.parametrize("line", ["not json", '{"query": "x"}', '{"query": 1, "relevant": []}'])
def test_parse_queries_names_the_bad_line(line: str) -> None:
    with pytest.raises(EvalError, match=r"q\.jsonl:2"):
        parse_queries(['{"query": "ok", "relevant": []}', line], "q.jsonl")


async def test_evaluate_runs_the_search_per_query() -> None:
    calls: list[tuple[str, int]] = []

    async def search(query: str, limit: int) -> list[str]:
        calls.append((query, limit))
        return ["a"]

    seen: list[int] = []
    result = await evaluate(search, [_q("a"), _q("b")], progress=lambda d, t, _: seen.append(d))
    assert calls == [("q", 10), ("q", 10)]
    assert (result.queries, result.recall_at_1, seen) == (2, 0.5, [1, 2])
