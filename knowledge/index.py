"""The knowledge base: one collection of chunks with a dense and a sparse vector.

The ingest manifest (content hash and pipeline signature per document) lives in the chunk
payloads themselves, so every process and every worker sees the same state as the vectors.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from knowledge.chunking import ChunkingOptions
from knowledge.embedder import Embedder, SparseVec
from knowledge.fusion import (
    DENSE_WEIGHT,
    DocScore,
    ScoredChunk,
    SearchMode,
    rank_documents,
    with_support,
)
from knowledge.ingest import DENSE, SPARSE, ingest_path
from knowledge.spelling import Speller, vocabulary_of
from knowledge.store import (
    NOTHING,
    Fused,
    Nearest,
    Request,
    Schema,
    StoreError,
    VectorStore,
    Where,
)
from knowledge.types import Hit, HitSection, IngestReport, ProgressFn

log = logging.getLogger(__name__)

DEFAULT_COLLECTION = "kb_chunks"
DEFAULT_MODE: SearchMode = "convex"
_HIT_FIELDS = ["doc_id", "chunk", "title", "text", "heading_path", "source", "unit", "section",
               "position"]
# A hit that brings no sections needs its best chunk's text only: sections are the large part
# of a payload (up to a few thousand characters per chunk, one per supporting chunk).
_BRIEF_FIELDS = [f for f in _HIT_FIELDS if f != "section"]
# Candidates come back without payload: qdrant-client's local mode deep-copies a point's whole
# payload even to return one field, and a server sends it over the network. Chunk ids map to
# documents through ``_doc_of`` (a cache filled from payloads on a miss: ids are stable per
# document); the text and sections of the few chunks that become hits are fetched afterwards.
# Another process may ingest into the same collection (several workers, a Qdrant server): the
# vocabulary the keyword search corrects typos against is re-read this often.
VOCABULARY_TTL_S = 300.0


class KnowledgeError(RuntimeError):
    """The index cannot be used as configured (e.g. a model of another dimension)."""


@dataclass(frozen=True, slots=True)
class IndexedDoc:
    """A document as the index knows it (from its first chunk's payload)."""

    doc_id: str
    title: str
    source: str
    content_hash: str
    chunks: int
    pipeline: str = ""


class KnowledgeBase:
    """Ingest a knowledge folder and search it (hybrid dense + BM25, document-level hits)."""

    def __init__(
        self,
        *,
        store: VectorStore,
        embedder: Embedder,
        collection: str = DEFAULT_COLLECTION,
        chunking: ChunkingOptions | None = None,
        mode: SearchMode = DEFAULT_MODE,
        dense_weight: float = DENSE_WEIGHT,
        candidates: int = 100,
        correct_typos: bool = True,
    ) -> None:
        self.store = store
        self.embedder = embedder
        self.collection = collection
        self.chunking = chunking or ChunkingOptions()
        self.mode: SearchMode = mode
        self.dense_weight = dense_weight
        self.candidates = candidates
        self.correct_typos = correct_typos
        self._ready = False
        self._doc_of: dict[str, str] = {}
        self._speller: Speller | None = None
        self._speller_read_at = 0.0
        self._speller_lock = asyncio.Lock()  # the first read: one, not one per search
        self._speller_refresh: asyncio.Task[None] | None = None
        # Bumped by every ingest and drop: a vocabulary read that started before is stale.
        self._vocabulary_generation = 0

    @property
    def pipeline(self) -> str:
        """Chunker and model signature; a document indexed under another one is re-indexed."""
        return f"{self.chunking.signature()}|{self.embedder.signature}"

    async def ensure_collection(self) -> None:
        """Create the collection (cosine dense + IDF sparse) or check the existing one."""
        if self._ready:
            return
        dim = await asyncio.to_thread(lambda: self.embedder.dimension)
        schema = Schema(dense={DENSE: dim}, sparse=(SPARSE,), keywords=("doc_id",),
                        integers=("chunk",))
        try:
            await self.store.ensure(self.collection, schema)
        except StoreError as exc:
            raise KnowledgeError(str(exc)) from None
        self._ready = True

    async def documents(self) -> list[IndexedDoc]:
        """Every indexed document with its content hash (the ingest manifest)."""
        await self.ensure_collection()
        docs: list[IndexedDoc] = []
        async for page in self.store.pages(
            self.collection, where=Where.eq("chunk", 0),
            fields=["doc_id", "title", "source", "content_hash", "pipeline", "chunks"],
        ):
            for p in page:
                pl = p.payload
                docs.append(
                    IndexedDoc(
                        str(pl["doc_id"]),
                        str(pl.get("title", "")),
                        str(pl.get("source", "")),
                        str(pl.get("content_hash", "")),
                        int(pl.get("chunks", 0)),
                        str(pl.get("pipeline", "")),
                    )
                )
        return sorted(docs, key=lambda d: d.doc_id)

    async def ingest(self, path: Path, *, progress: ProgressFn | None = None) -> IngestReport:
        """Bring the index in line with the files under ``path`` (see ``knowledge.ingest``)."""
        await self.ensure_collection()
        try:
            report = await ingest_path(self, path, progress=progress)
        finally:
            self._forget_vocabulary()
        if report.changed:
            await self.store.optimize(self.collection)  # index the new points in one go
        return report  # new words, or words of removed documents gone

    async def search(
        self, query: str, limit: int = 5, *, mode: SearchMode | None = None,
        sections: int | None = None,
    ) -> list[Hit]:
        """The ``limit`` best documents for ``query``, best first, as ``Hit``s of kind "kb".

        ``score`` is the fused score in [0, 1]; ``dense_score`` is the best chunk's cosine
        and ``sparse_score`` its BM25 score: confidence should use the top ``dense_score``
        and its margin to the next hit, which keep their meaning whatever the fusion.
        """
        chosen = mode or self.mode
        return (await self.rankings(query, limit, modes=(chosen,), sections=sections))[chosen]

    async def rankings(
        self, query: str, limit: int = 5, *, modes: Sequence[SearchMode],
        sections: int | None = None,
    ) -> dict[SearchMode, list[Hit]]:
        """Document rankings of one query under several modes, from one embedding and one
        batched Query API call (dense and sparse chunk candidates, plus Qdrant's RRF/DBSF
        fusion of both as prefetches when asked). Chunks fold into documents by their best.
        Only the first ``sections`` documents of each ranking (default: all) bring their
        sections; the others bring their best chunk's text, which is all a reader of the
        lower ranks is given.
        """
        if not query.strip() or not (
            self._ready or await self.store.exists(self.collection)
        ):
            return {m: [] for m in modes}
        dense_vec, sparse_vec = await self.embedder.aquery(query)
        if self.correct_typos:
            speller = await self.speller()
            if not speller.knows_all(query):
                # BM25 only: the dense model reads the customer's own words. Off the event
                # loop: a fuzzy match against a large vocabulary takes milliseconds a word.
                sparse_vec = await asyncio.to_thread(self._keyword_vector, speller, query,
                                                     sparse_vec)
        n = max(self.candidates, limit * 10)
        nearest = [Nearest(dense_vec, DENSE, n)]
        if sparse_vec.indices:  # a query of stopwords only has no BM25 terms
            nearest.append(Nearest(sparse_vec, SPARSE, n))
        fused_modes = [m for m in ("rrf", "dbsf") if m in modes]
        requests: list[Request] = [*nearest]
        requests += [Fused("rrf" if m == "rrf" else "dbsf", tuple(nearest), n)
                     for m in fused_modes]
        responses = await self.store.query(self.collection, requests)
        await self._learn_doc_ids({p.id for r in responses for p in r})
        doc_of = self._doc_of
        lists = [[ScoredChunk(p.id, doc_of[p.id], p.score, NOTHING) for p in r if p.id in doc_of]
                 for r in responses]
        dense, sparse = lists[0], lists[1] if sparse_vec.indices else []
        fused = dict(zip(fused_modes, lists[len(lists) - len(fused_modes) :], strict=True))
        ranked = {
            m: with_support(rank_documents(m, dense, sparse, fused.get(m),
                                           dense_weight=self.dense_weight, limit=limit),
                            dense, sparse)
            for m in modes
        }
        full = {c.chunk_id for docs in ranked.values() for d in docs[:sections]
                for c in (d.best, *d.support)}
        brief = {d.best.chunk_id for docs in ranked.values() for d in docs} - full
        payloads = {**await self._payloads(full, _HIT_FIELDS),
                    **await self._payloads(brief, _BRIEF_FIELDS)}
        # A chunk deleted between the two calls (its document re-ingested meanwhile) is
        # dropped rather than shown without text; the next search sees the new version.
        return {
            m: [_hit(d, m, payloads) for d in docs if d.best.chunk_id in payloads]
            for m, docs in ranked.items()
        }

    async def speller(self) -> Speller:
        """The typo corrector over the indexed words (titles and chunk texts).

        Read on first use and after an ingest in this process; re-read every
        ``VOCABULARY_TTL_S`` for other processes' ingests, in the background while the
        previous one keeps serving.
        """
        if self._speller is None:
            async with self._speller_lock:
                if self._speller is None:
                    await self._read_speller()
        elif time.monotonic() - self._speller_read_at > VOCABULARY_TTL_S and (
            self._speller_refresh is None or self._speller_refresh.done()
        ):
            self._speller_refresh = asyncio.create_task(self._read_speller(),
                                                        name=f"vocabulary-{self.collection}")
            self._speller_refresh.add_done_callback(_log_refresh_failure)
        # None only when an ingest finished during the first read: correct nothing this time.
        return self._speller if self._speller is not None else Speller(())

    async def _read_speller(self) -> None:
        generation, started = self._vocabulary_generation, time.monotonic()
        texts: list[str] = []
        async for page in self.store.pages(self.collection, fields=["title", "text"], size=1000):
            texts.extend(f"{p.payload.get('title', '')} {p.payload.get('text', '')}"
                         for p in page)
        speller = await asyncio.to_thread(lambda: Speller(vocabulary_of(texts)))
        if generation == self._vocabulary_generation:
            self._speller, self._speller_read_at = speller, started

    def _keyword_vector(self, speller: Speller, query: str, plain: SparseVec) -> SparseVec:
        keywords = speller.correct(query)
        return plain if keywords == query else self.embedder.sparse_query(keywords)

    def _forget_vocabulary(self) -> None:
        self._vocabulary_generation += 1
        self._speller = None

    async def _learn_doc_ids(self, chunk_ids: set[str]) -> None:
        missing = [c for c in chunk_ids if c not in self._doc_of]
        if not missing:
            return
        for point in await self.store.retrieve(self.collection, missing, fields=["doc_id"]):
            self._doc_of[point.id] = str(point.payload["doc_id"])

    async def _payloads(
        self, chunk_ids: set[str], fields: list[str]
    ) -> dict[str, Mapping[str, Any]]:
        """The ``fields`` of a few chunks, by point id, in one call."""
        if not chunk_ids:
            return {}
        points = await self.store.retrieve(self.collection, sorted(chunk_ids), fields=fields)
        return {p.id: p.payload for p in points}

    async def drop(self) -> None:
        """Delete the whole collection (used by isolated evaluation runs)."""
        await self.store.drop(self.collection)
        self._ready = False
        self._doc_of.clear()
        self._forget_vocabulary()


def _hit(doc: DocScore, mode: SearchMode, payloads: Mapping[str, Mapping[str, Any]]) -> Hit:
    payload = payloads[doc.best.chunk_id]
    return Hit(
        doc_id=doc.doc_id,
        chunk_id=doc.best.chunk_id,
        title=str(payload.get("title", "")),
        text=str(payload.get("text", "")),
        score=doc.score,
        kind="kb",
        dense_score=doc.dense,
        sparse_score=doc.sparse,
        metadata={
            "source": payload.get("source"),
            "heading_path": payload.get("heading_path", []),
            "unit": payload.get("unit"),
            "mode": mode,
        },
        sections=section_of_chunks([payloads[c.chunk_id] for c in (doc.best, *doc.support)
                                    if c.chunk_id in payloads]),
    )


def section_of_chunks(payloads: Sequence[Mapping[str, Any]]) -> tuple[HitSection, ...]:
    """The sections of some chunks (best first), each once; none for chunks indexed before
    chunks carried their section."""
    sections: dict[int, HitSection] = {}
    for pl in payloads:
        if pl.get("section"):
            position = int(pl.get("position", 0))
            sections.setdefault(position, HitSection(
                tuple(pl.get("heading_path", ())), str(pl["section"]), position))
    return tuple(sections.values())


def _log_refresh_failure(task: asyncio.Task[None]) -> None:
    if not task.cancelled() and (exc := task.exception()) is not None:
        log.error("could not re-read the knowledge vocabulary (%s)", task.get_name(),
                  exc_info=exc)
