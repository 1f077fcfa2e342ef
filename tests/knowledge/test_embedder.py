"""The embedder with the real (int8) model: length-sorted batches and the query cache."""

from __future__ import annotations

import asyncio
import math
from collections.abc import Sequence

from knowledge import Embedder

QUESTIONS = [
    "where is my parcel",
    "I forgot my password and the reset link does not work",
    "refund",
    "can I pay with apple pay on the website or only in the app?",
]


def _cosine(a: Sequence[float], b: Sequence[float]) -> float:
    dot = sum(x * y for x, y in zip(a, b, strict=True))
    return dot / math.sqrt(sum(x * x for x in a) * sum(y * y for y in b))


def _fresh(embedder: Embedder, cache: int = 0) -> Embedder:
    """Another embedder on the same (process-cached) models, with its own query cache."""
    return Embedder(
        model_name=embedder.model_name,
        model_path=embedder.model_path,
        sparse_model_path=embedder.sparse_model_path,
        cache_dir=embedder.cache_dir,
        query_cache_size=cache,
    )


async def test_concurrent_queries_match_one_at_a_time(embedder: Embedder) -> None:
    # The int8 model quantizes per run: queries batched together would drift (cosine ~0.99).
    alone = [_fresh(embedder).query(q) for q in QUESTIONS]
    together = await asyncio.gather(*(_fresh(embedder).aquery(q) for q in QUESTIONS))
    assert together == alone


async def test_passages_keep_their_order_when_batched_by_length(embedder: Embedder) -> None:
    texts = [QUESTIONS[1] * 8, *QUESTIONS, QUESTIONS[2]]
    vectors = await embedder.adense(texts)
    singles = [embedder.dense([t])[0] for t in texts]
    # Same text, same vector up to int8's per-batch quantization (cosine ~0.99, not 0.5).
    assert all(_cosine(a, b) > 0.97 for a, b in zip(vectors, singles, strict=True))
    assert vectors[3] == vectors[5]  # one text twice in a run: one vector


def test_query_cache_is_bounded_and_keeps_recent_texts(embedder: Embedder) -> None:
    cached = _fresh(embedder, cache=2)
    first = cached.query("a")
    cached.query("b")
    assert cached.query("a") is first  # "a" is now the most recent
    cached.query("c")  # evicts "b"
    assert cached.query("a") is first
    assert cached.query("b") is not cached.query("c")
    assert _fresh(embedder).query("a") is not _fresh(embedder).query("a")


class _Counting(Embedder):
    """The real embedder, counting the texts it runs through the models."""

    runs: list[str]

    def query(self, text: str) -> tuple[tuple[float, ...], object]:  # type: ignore[override]
        self.runs.append(text)
        return super().query(text)


async def test_searches_of_one_message_started_together_embed_it_once(
    embedder: Embedder,
) -> None:
    # The KB, learned-answer and rejection searches of a message start at the same time.
    counting = _Counting(model_name=embedder.model_name, model_path=embedder.model_path,
                         sparse_model_path=embedder.sparse_model_path,
                         cache_dir=embedder.cache_dir, query_cache_size=0)
    counting.runs = []
    vectors = await asyncio.gather(*(counting.aquery(QUESTIONS[0]) for _ in range(3)),
                                   counting.aqueries([QUESTIONS[0], QUESTIONS[1], QUESTIONS[0]]))
    assert counting.runs == [QUESTIONS[0], QUESTIONS[1]]
    alone = _fresh(embedder).query(QUESTIONS[0])
    assert vectors[0] == vectors[1] == vectors[2] == alone
    assert vectors[3] == [alone, _fresh(embedder).query(QUESTIONS[1]), alone]
