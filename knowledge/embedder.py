"""Dense (MiniLM via fastembed) and sparse (BM25) embeddings, loaded once per process.

ONNX inference is CPU-bound and releases the GIL, so the async methods run it in a worker
thread: the event loop keeps serving Slack acks and webhooks while a KB is embedded, and a
query is embedded on the other core while the loop does database work.
"""

from __future__ import annotations

import asyncio
import threading
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, cast

from config import Settings

if TYPE_CHECKING:
    from fastembed import SparseTextEmbedding, TextEmbedding

SPARSE_MODEL = "Qdrant/bm25"
# Passages per ONNX run. Attention activations grow with batch × tokens² (64 × 256² × 12 heads
# of fp32 scores is ~200 MB per layer) and onnxruntime's arena keeps its high-water mark for
# the life of the process: batch 64 left the worker at ~1 GB RSS, 16 at ~450 MB, at the same
# ingest speed once passages of similar length are batched together (see ``dense``).
PASSAGE_BATCH = 16
# Recent query texts whose vectors are kept: one message is embedded for the learned answers and
# for the KB, and canned messages ("where is my order?") repeat. 256 × 384 floats is ~0.4 MB.
QUERY_CACHE_SIZE = 256
# ONNX threads per inference run. Parallelism comes from running queries side by side in worker
# threads, not from splitting one query: onnxruntime's default pool (a thread per core that
# spins while it waits for work) made every 3 ms query cost ~6 ms of CPU and took the core the
# event loop needed; with one thread a query costs ~3.8 ms of CPU (4.2 ms instead of 3.2 ms of
# latency), and a KB ingest takes ~10% longer.
ONNX_THREADS = 1
_models: dict[tuple[str, str, str], TextEmbedding | SparseTextEmbedding] = {}
_models_lock = threading.Lock()


@dataclass(frozen=True, slots=True)
class SparseVec:
    """A sparse vector as Qdrant wants it: parallel token ids and weights."""

    indices: tuple[int, ...]
    values: tuple[float, ...]


QueryVectors = tuple[tuple[float, ...], SparseVec]


def _cached(kind: str, name: str, path: Path | None, cache_dir: Path) -> object:
    """Load a model at most once per process, whichever thread asks first.

    The cache folder is not part of the key: it only matters for downloading, and tests that
    each use their own data dir should still share one loaded model.
    """
    key = (kind, name, str(path or ""))
    with _models_lock:
        model = _models.get(key)
        if model is None:
            cache_dir.mkdir(parents=True, exist_ok=True)
            specific = str(path) if path else None
            # Imported with the first model: fastembed (and onnxruntime, huggingface_hub)
            # take ~0.5 s to import, which commands that embed nothing need not pay.
            from fastembed import SparseTextEmbedding, TextEmbedding

            cls = TextEmbedding if kind == "dense" else SparseTextEmbedding
            model = cls(name, cache_dir=str(cache_dir), specific_model_path=specific,
                        threads=ONNX_THREADS)
            _models[key] = model
        return model


def _by_length(texts: Sequence[str]) -> list[int]:
    """Positions of ``texts`` from shortest to longest.

    fastembed pads every batch to its longest text; one 256-token section in a batch of FAQ
    questions would make the whole batch cost (and allocate) as if all were that long.
    """
    return sorted(range(len(texts)), key=lambda i: len(texts[i]))


class Embedder:
    """Embeds texts with one dense and one sparse model; thread-safe, models loaded lazily."""

    def __init__(
        self,
        *,
        model_name: str,
        cache_dir: Path,
        model_path: Path | None = None,
        sparse_model_path: Path | None = None,
        query_cache_size: int = QUERY_CACHE_SIZE,
    ) -> None:
        self.model_name = model_name
        self.model_path = model_path
        self.sparse_model_path = sparse_model_path
        self.cache_dir = cache_dir
        self._cache_size = query_cache_size
        self._query_cache: OrderedDict[str, QueryVectors] = OrderedDict()
        self._cache_lock = threading.Lock()
        # Texts being embedded right now, so a search that asks for one of them waits for
        # that run instead of starting its own: one message's KB, learned-answer and
        # rejection searches start together and would otherwise embed it three times.
        self._pending: dict[str, asyncio.Task[dict[str, QueryVectors]]] = {}

    @classmethod
    def from_settings(cls, settings: Settings) -> Embedder:
        """The embedder configured by ``SUPPORTBOT_EMBED_MODEL*`` and the sparse model path."""
        return cls(
            model_name=settings.embed_model,
            model_path=settings.embed_model_path,
            sparse_model_path=settings.sparse_model_path,
            cache_dir=settings.data_dir / "models",
        )

    @property
    def signature(self) -> str:
        """Identifies the models; stored with indexed chunks so a model change re-embeds."""
        where = self.model_path.name if self.model_path else "hub"
        return f"{self.model_name}@{where}+{SPARSE_MODEL}"

    def _dense(self) -> TextEmbedding:
        return cast("TextEmbedding",
                    _cached("dense", self.model_name, self.model_path, self.cache_dir))

    def _sparse(self) -> SparseTextEmbedding:
        return cast("SparseTextEmbedding",
                    _cached("sparse", SPARSE_MODEL, self.sparse_model_path, self.cache_dir))

    @property
    def dimension(self) -> int:
        """Size of the dense vectors (loads the model)."""
        return int(self._dense().embedding_size)

    def dense(self, texts: Sequence[str]) -> list[list[float]]:
        """Dense vectors for passages (blocking), in the order of ``texts``."""
        if not texts:
            return []
        order = _by_length(texts)
        vectors = self._dense().embed([texts[i] for i in order], batch_size=PASSAGE_BATCH)
        out: list[list[float]] = [[] for _ in texts]
        for i, vector in zip(order, vectors, strict=True):
            out[i] = vector.tolist()
        return out

    def sparse(self, texts: Sequence[str]) -> list[SparseVec]:
        """BM25 term-frequency vectors for passages; Qdrant applies IDF at query time."""
        if not texts:
            return []
        return [
            SparseVec(tuple(int(i) for i in v.indices), tuple(float(x) for x in v.values))
            for v in self._sparse().embed(list(texts), batch_size=PASSAGE_BATCH)
        ]

    def _remember(self, text: str, vectors: QueryVectors | None = None) -> QueryVectors | None:
        """Look ``text`` up in the query cache, or store ``vectors`` for it."""
        with self._cache_lock:
            if vectors is None:
                found = self._query_cache.get(text)
                if found is not None:
                    self._query_cache.move_to_end(text)
                return found
            if self._cache_size > 0:
                self._query_cache[text] = vectors
                while len(self._query_cache) > self._cache_size:
                    self._query_cache.popitem(last=False)
            return vectors

    def query(self, text: str) -> QueryVectors:
        """The dense and sparse query vectors of one text (blocking, cached)."""
        cached = self._remember(text)
        if cached is not None:
            return cached
        dense = next(iter(self._dense().query_embed(text)))
        vectors = (tuple(dense.tolist()), self.sparse_query(text))
        self._remember(text, vectors)
        return vectors

    def sparse_query(self, text: str) -> SparseVec:
        """The BM25 query vector of ``text`` alone (each term once, weight 1; blocking, fast).

        Not ``sparse``: passage vectors weight terms by their frequency, a query's must not.
        """
        sparse = next(iter(self._sparse().query_embed(text)))
        return SparseVec(tuple(int(i) for i in sparse.indices), tuple(map(float, sparse.values)))

    async def aquery(self, text: str) -> QueryVectors:
        """Query vectors, computed off the event loop (cached; see ``aqueries``)."""
        return (await self.aqueries([text]))[0]

    async def aqueries(self, texts: Sequence[str]) -> list[QueryVectors]:
        """The query vectors of several texts, in their order: cached ones at once, texts
        another caller is embedding from that run, the rest in one worker-thread run.

        Each text is still embedded alone, never batched with others: the int8 model
        quantizes activations per batch, so a query's vector would change (cosine ~0.99)
        with whatever it happened to share a run with, and so would its confidence.
        """
        found: dict[str, QueryVectors] = {}
        runs: dict[str, asyncio.Task[dict[str, QueryVectors]]] = {}
        missing: list[str] = []
        loop = asyncio.get_running_loop()
        for text in dict.fromkeys(texts):
            cached = self._remember(text)
            if cached is not None:
                found[text] = cached
            elif (pending := self._pending.get(text)) is not None and pending.get_loop() is loop:
                runs[text] = pending
            else:
                missing.append(text)
        if missing:
            run = asyncio.create_task(self._embed_queries(missing), name="embed-queries")
            for text in missing:
                self._pending[text] = runs[text] = run
            run.add_done_callback(lambda done: self._embedded(missing, done))
        for text, pending in runs.items():
            # Shielded: a caller that is cancelled leaves the run to the others waiting.
            found[text] = (await asyncio.shield(pending))[text]
        return [found[t] for t in texts]

    async def _embed_queries(self, texts: list[str]) -> dict[str, QueryVectors]:
        return await asyncio.to_thread(lambda: {t: self.query(t) for t in texts})

    def _embedded(self, texts: list[str], run: asyncio.Task[dict[str, QueryVectors]]) -> None:
        for text in texts:
            if self._pending.get(text) is run:
                del self._pending[text]
        if not run.cancelled():
            run.exception()  # marked retrieved: the callers waiting for it raise it

    async def aembed(self, texts: Sequence[str]) -> tuple[list[list[float]], list[SparseVec]]:
        """Dense and sparse vectors of passages, computed off the event loop."""
        return await asyncio.to_thread(lambda: (self.dense(texts), self.sparse(texts)))

    async def adense(self, texts: Sequence[str]) -> list[list[float]]:
        """Dense vectors of passages, computed off the event loop."""
        return await asyncio.to_thread(self.dense, texts)

    async def warm_up(self) -> None:
        """Load both models now (e.g. at startup) instead of on the first message."""
        await self.aquery("warm up")
