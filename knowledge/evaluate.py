"""Retrieval evaluation: recall@k, MRR and latency over labelled queries.

Input is JSON lines ``{"query": str, "relevant": [doc ids]}`` (extra keys are ignored); a doc
id is a KB file's path relative to the KB root without its extension.
"""

from __future__ import annotations

import math
import time
from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from knowledge.jsonlines import json_rows
from knowledge.types import ProgressFn

SearchFn = Callable[[str, int], Awaitable[Sequence[str]]]  # query, limit → ranked doc ids


class EvalError(ValueError):
    """A queries file is malformed; the message names the line."""


@dataclass(frozen=True, slots=True)
class LabelledQuery:
    """One evaluation query and the doc ids that answer it."""

    query: str
    relevant: frozenset[str]


@dataclass(frozen=True, slots=True)
class EvalResult:
    """Aggregate retrieval quality and latency of one run."""

    queries: int
    recall_at_1: float
    recall_at_3: float
    recall_at_5: float
    mrr: float
    latency_ms_p50: float
    latency_ms_p95: float

    def as_json(self) -> dict[str, float | int]:
        """The ``kb eval --json`` contract, key order included."""
        return {
            "queries": self.queries,
            "recall@1": round(self.recall_at_1, 4),
            "recall@3": round(self.recall_at_3, 4),
            "recall@5": round(self.recall_at_5, 4),
            "mrr": round(self.mrr, 4),
            "latency_ms_p50": round(self.latency_ms_p50, 2),
            "latency_ms_p95": round(self.latency_ms_p95, 2),
        }


def parse_queries(lines: Iterable[str], source: str = "<queries>") -> list[LabelledQuery]:
    """Parse JSON lines into labelled queries; blank lines are skipped."""
    queries = []
    for number, row in json_rows(lines, source, required=("query", "relevant"), error=EvalError):
        query, relevant = row["query"], row["relevant"]
        if not isinstance(query, str) or not isinstance(relevant, list):
            raise EvalError(f"{source}:{number}: query must be a string, relevant a list")
        queries.append(LabelledQuery(query, frozenset(str(r) for r in relevant)))
    return queries


def load_queries(path: Path) -> list[LabelledQuery]:
    """Read a queries JSON-lines file."""
    with path.open(encoding="utf-8") as handle:
        return parse_queries(handle, str(path))


def percentile(values: Sequence[float], pct: float) -> float:
    """Nearest-rank percentile (0 for no values)."""
    if not values:
        return 0.0
    ordered = sorted(values)
    rank = max(1, math.ceil(pct / 100 * len(ordered)))
    return ordered[rank - 1]


def first_relevant_rank(ranked: Sequence[str], relevant: frozenset[str]) -> int | None:
    """1-based rank of the first relevant doc id, or None."""
    return next((i for i, doc in enumerate(ranked, 1) if doc in relevant), None)


def score_rankings(
    rankings: Sequence[Sequence[str]],
    queries: Sequence[LabelledQuery],
    latencies_ms: Sequence[float] = (),
) -> EvalResult:
    """Recall@1/3/5 and MRR (over the given ranking depth) of rankings against labels."""
    ranks = [first_relevant_rank(r, q.relevant) for r, q in zip(rankings, queries, strict=True)]
    n = len(ranks) or 1

    def recall(k: int) -> float:
        return sum(1 for r in ranks if r is not None and r <= k) / n

    return EvalResult(
        queries=len(ranks),
        recall_at_1=recall(1),
        recall_at_3=recall(3),
        recall_at_5=recall(5),
        mrr=sum(1 / r for r in ranks if r is not None) / n,
        latency_ms_p50=percentile(latencies_ms, 50),
        latency_ms_p95=percentile(latencies_ms, 95),
    )


async def evaluate(
    search: SearchFn,
    queries: Sequence[LabelledQuery],
    *,
    depth: int = 10,
    progress: ProgressFn | None = None,
) -> EvalResult:
    """Run every query through ``search`` (sequentially, so latencies are per query)."""
    rankings: list[Sequence[str]] = []
    latencies: list[float] = []
    for done, item in enumerate(queries, 1):
        started = time.perf_counter()
        rankings.append(await search(item.query, depth))
        latencies.append((time.perf_counter() - started) * 1000)
        if progress:
            progress(done, len(queries), item.query)
    return score_rankings(rankings, queries, latencies)


def format_table(result: EvalResult, title: str = "retrieval") -> str:
    """A small human-readable table of one result."""
    rows = [
        ("queries", str(result.queries)),
        ("recall@1", f"{result.recall_at_1:.3f}"),
        ("recall@3", f"{result.recall_at_3:.3f}"),
        ("recall@5", f"{result.recall_at_5:.3f}"),
        ("MRR", f"{result.mrr:.3f}"),
        ("latency p50", f"{result.latency_ms_p50:.1f} ms"),
        ("latency p95", f"{result.latency_ms_p95:.1f} ms"),
    ]
    width = max(len(k) for k, _ in rows)
    return "\n".join([title, *(f"  {k.ljust(width)}  {v}" for k, v in rows)])
