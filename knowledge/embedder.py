"""Dense (MiniLM via fastembed) and sparse (BM25) embeddings, loaded once per process.

ONNX inference is CPU-bound and holds the GIL only briefly, so the async methods run it in a
worker thread: the event loop keeps serving Slack acks and webhooks while a KB is embedded.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from fastembed import SparseTextEmbedding, TextEmbedding

from config import Settings

SPARSE_MODEL = "Qdrant/bm25"
_BATCH = 64
_models: dict[tuple[str, str, str], TextEmbedding | SparseTextEmbedding] = {}
_models_lock = threading.Lock()


@dataclass(frozen=True, slots=True)
class SparseVec:
    """A sparse vector as Qdrant wants it: parallel token ids and weights."""

    indices: tuple[int, ...]
    values: tuple[float, ...]


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
            cls = TextEmbedding if kind == "dense" else SparseTextEmbedding
            model = cls(name, cache_dir=str(cache_dir), specific_model_path=specific)
            _models[key] = model
        return model


class Embedder:
    """Embeds texts with one dense and one sparse model; thread-safe, models loaded lazily."""

    def __init__(
        self,
        *,
        model_name: str,
        cache_dir: Path,
        model_path: Path | None = None,
        sparse_model_path: Path | None = None,
    ) -> None:
        self.model_name = model_name
        self.model_path = model_path
        self.sparse_model_path = sparse_model_path
        self.cache_dir = cache_dir

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
        model = _cached("dense", self.model_name, self.model_path, self.cache_dir)
        assert isinstance(model, TextEmbedding)
        return model

    def _sparse(self) -> SparseTextEmbedding:
        model = _cached("sparse", SPARSE_MODEL, self.sparse_model_path, self.cache_dir)
        assert isinstance(model, SparseTextEmbedding)
        return model

    @property
    def dimension(self) -> int:
        """Size of the dense vectors (loads the model)."""
        return int(self._dense().embedding_size)

    def dense(self, texts: Sequence[str]) -> list[list[float]]:
        """Dense vectors for passages (blocking)."""
        if not texts:
            return []
        return [v.tolist() for v in self._dense().embed(list(texts), batch_size=_BATCH)]

    def sparse(self, texts: Sequence[str]) -> list[SparseVec]:
        """BM25 term-frequency vectors for passages; Qdrant applies IDF at query time."""
        if not texts:
            return []
        return [
            SparseVec(tuple(int(i) for i in v.indices), tuple(float(x) for x in v.values))
            for v in self._sparse().embed(list(texts), batch_size=_BATCH)
        ]

    def query(self, text: str) -> tuple[list[float], SparseVec]:
        """The dense and sparse query vectors of one text (blocking)."""
        dense = next(iter(self._dense().query_embed(text))).tolist()
        sparse = next(iter(self._sparse().query_embed(text)))
        return dense, SparseVec(
            tuple(int(i) for i in sparse.indices), tuple(float(x) for x in sparse.values)
        )

    async def aembed(self, texts: Sequence[str]) -> tuple[list[list[float]], list[SparseVec]]:
        """Dense and sparse vectors of passages, computed off the event loop."""
        return await asyncio.to_thread(lambda: (self.dense(texts), self.sparse(texts)))

    async def adense(self, texts: Sequence[str]) -> list[list[float]]:
        """Dense vectors of passages, computed off the event loop."""
        return await asyncio.to_thread(self.dense, texts)

    async def aquery(self, text: str) -> tuple[list[float], SparseVec]:
        """Query vectors, computed off the event loop."""
        return await asyncio.to_thread(self.query, text)

    async def warm_up(self) -> None:
        """Load both models now (e.g. at startup) instead of on the first message."""
        await self.aquery("warm up")
