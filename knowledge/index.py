"""The knowledge base: one Qdrant collection of chunks with a dense and a sparse vector.

The ingest manifest (content hash and pipeline signature per document) lives in the chunk
payloads themselves, so every process and every worker sees the same state as the vectors.
"""

from __future__ import annotations

import asyncio
import uuid
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from qdrant_client import AsyncQdrantClient, models

from knowledge.chunking import ChunkingOptions, chunk_document
from knowledge.embedder import Embedder, SparseVec
from knowledge.fusion import DENSE_WEIGHT, ScoredChunk, SearchMode, rank_documents
from knowledge.loader import DocumentError, iter_kb_files, load_document
from knowledge.types import Chunk, Document, Hit, IngestReport, ProgressFn

DEFAULT_COLLECTION = "kb_chunks"
DEFAULT_MODE: SearchMode = "convex"
DENSE, SPARSE = "dense", "sparse"
_POINT_NS = uuid.UUID("5b0f3c1e-8d3a-4c55-9a57-0e1f6d1f7c21")
_EMBED_BATCH = 256
_HIT_FIELDS = ["doc_id", "chunk", "title", "text", "heading_path", "source", "unit"]


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


def point_id(doc_id: str, index: int) -> str:
    """Stable point id of a chunk, so re-ingesting a document overwrites its points."""
    return str(uuid.uuid5(_POINT_NS, f"{doc_id}#{index}"))


def _sparse(vec: SparseVec) -> models.SparseVector:
    return models.SparseVector(indices=list(vec.indices), values=list(vec.values))


def _doc_filter(doc_id: str) -> models.Filter:
    return models.Filter(
        must=[models.FieldCondition(key="doc_id", match=models.MatchValue(value=doc_id))]
    )


class KnowledgeBase:
    """Ingest a knowledge folder and search it (hybrid dense + BM25, document-level hits)."""

    def __init__(
        self,
        *,
        client: AsyncQdrantClient,
        embedder: Embedder,
        collection: str = DEFAULT_COLLECTION,
        chunking: ChunkingOptions | None = None,
        mode: SearchMode = DEFAULT_MODE,
        dense_weight: float = DENSE_WEIGHT,
        candidates: int = 100,
    ) -> None:
        self.client = client
        self.embedder = embedder
        self.collection = collection
        self.chunking = chunking or ChunkingOptions()
        self.mode: SearchMode = mode
        self.dense_weight = dense_weight
        self.candidates = candidates
        self._ready = False

    @property
    def pipeline(self) -> str:
        """Chunker and model signature; a document indexed under another one is re-indexed."""
        return f"{self.chunking.signature()}|{self.embedder.signature}"

    async def ensure_collection(self) -> None:
        """Create the collection (cosine dense + IDF sparse) or check the existing one."""
        if self._ready:
            return
        dim = await asyncio.to_thread(lambda: self.embedder.dimension)
        if await self.client.collection_exists(self.collection):
            info = await self.client.get_collection(self.collection)
            vectors = info.config.params.vectors
            size = vectors[DENSE].size if isinstance(vectors, dict) and DENSE in vectors else None
            if size != dim:
                raise KnowledgeError(
                    f"collection {self.collection!r} holds {size}-d vectors, the model makes "
                    f"{dim}-d ones; drop it or use another collection"
                )
        else:
            await self.client.create_collection(
                self.collection,
                vectors_config={
                    DENSE: models.VectorParams(size=dim, distance=models.Distance.COSINE)
                },
                sparse_vectors_config={
                    SPARSE: models.SparseVectorParams(modifier=models.Modifier.IDF)
                },
            )
            with warnings.catch_warnings():
                # Local mode has no payload indexes and warns about it; servers need them.
                warnings.simplefilter("ignore")
                for key, schema in (
                    ("doc_id", models.PayloadSchemaType.KEYWORD),
                    ("chunk", models.PayloadSchemaType.INTEGER),
                ):
                    await self.client.create_payload_index(self.collection, key, schema)
        self._ready = True

    async def documents(self) -> list[IndexedDoc]:
        """Every indexed document with its content hash (the ingest manifest)."""
        await self.ensure_collection()
        first = models.Filter(
            must=[models.FieldCondition(key="chunk", match=models.MatchValue(value=0))]
        )
        docs: list[IndexedDoc] = []
        offset: Any = None
        while True:
            points, offset = await self.client.scroll(
                self.collection,
                scroll_filter=first,
                limit=256,
                offset=offset,
                with_payload=["doc_id", "title", "source", "content_hash", "pipeline", "chunks"],
                with_vectors=False,
            )
            for p in points:
                pl = p.payload or {}
                digest = f"{pl.get('content_hash', '')}|{pl.get('pipeline', '')}"
                docs.append(
                    IndexedDoc(
                        str(pl["doc_id"]),
                        str(pl.get("title", "")),
                        str(pl.get("source", "")),
                        digest,
                        int(pl.get("chunks", 0)),
                    )
                )
            if offset is None:
                return sorted(docs, key=lambda d: d.doc_id)

    async def ingest(self, path: Path, *, progress: ProgressFn | None = None) -> IngestReport:
        """Bring the index in line with the files under ``path``.

        Unchanged files (same sha256 and pipeline) are skipped, changed ones re-indexed, and
        documents whose file is gone are removed. Unreadable files are reported in ``errors``
        and keep their previous index entries.
        """
        root = path if path.is_dir() else path.parent
        files = (
            [path] if path.is_file() else await asyncio.to_thread(lambda: list(iter_kb_files(root)))
        )
        known = {d.doc_id: d.content_hash for d in await self.documents()}
        added: list[str] = []
        updated: list[str] = []
        unchanged: list[str] = []
        errors: dict[str, str] = {}
        pending: list[tuple[Document, list[Chunk]]] = []
        seen: set[str] = set()
        for done, file in enumerate(files, 1):
            try:
                doc = await asyncio.to_thread(load_document, file, root)
            except DocumentError as exc:
                errors[str(file)] = str(exc)
                seen.add(file.relative_to(root).with_suffix("").as_posix())
                continue
            seen.add(doc.doc_id)
            if known.get(doc.doc_id) == f"{doc.content_hash}|{self.pipeline}":
                unchanged.append(doc.doc_id)
            else:
                (updated if doc.doc_id in known else added).append(doc.doc_id)
                pending.append((doc, chunk_document(doc, self.chunking)))
                if sum(len(c) for _, c in pending) >= _EMBED_BATCH:
                    await self._write(pending, known)
                    pending = []
            if progress:
                progress(done, len(files), doc.doc_id)
        await self._write(pending, known)
        removed = [] if path.is_file() else sorted(set(known) - seen)
        for doc_id in removed:
            await self.client.delete(
                self.collection, points_selector=_doc_filter(doc_id), wait=True
            )
        chunks = sum(d.chunks for d in await self.documents())
        return IngestReport(
            tuple(added), tuple(updated), tuple(unchanged), tuple(removed), chunks, errors
        )

    async def _write(
        self, batch: Sequence[tuple[Document, list[Chunk]]], known: dict[str, str]
    ) -> None:
        """Embed and upsert the chunks of several documents in one batch."""
        chunks = [c for _, doc_chunks in batch for c in doc_chunks]
        if not chunks:
            return
        dense, sparse = await self.embedder.aembed([c.embed_text for c in chunks])
        vectors = dict(
            zip(
                (point_id(c.doc_id, c.index) for c in chunks),
                zip(dense, sparse, strict=True),
                strict=True,
            )
        )
        for doc, doc_chunks in batch:
            if doc.doc_id in known:
                # Old chunks beyond the new count would linger; a changed doc starts clean.
                await self.client.delete(
                    self.collection, points_selector=_doc_filter(doc.doc_id), wait=True
                )
            # Chunk 0 carries the manifest hash and is written last: if we crash half-way the
            # document still looks changed and is re-indexed next time.
            points = [
                self._point(doc, c, len(doc_chunks), *vectors[point_id(c.doc_id, c.index)])
                for c in reversed(doc_chunks)
            ]
            await self.client.upsert(self.collection, points=points, wait=True)

    def _point(
        self, doc: Document, chunk: Chunk, total: int, dense: list[float], sparse: SparseVec
    ) -> models.PointStruct:
        vector: dict[str, Any] = {DENSE: dense}
        if sparse.indices:
            vector[SPARSE] = _sparse(sparse)
        payload = {
            "doc_id": doc.doc_id,
            "chunk": chunk.index,
            "chunks": total,
            "unit": chunk.unit,
            "title": doc.title,
            "text": chunk.text,
            "heading_path": list(chunk.heading_path),
            "source": doc.source,
            "content_hash": doc.content_hash,
            "pipeline": self.pipeline,
        }
        return models.PointStruct(
            id=point_id(doc.doc_id, chunk.index), vector=vector, payload=payload
        )

    async def search(
        self, query: str, limit: int = 5, *, mode: SearchMode | None = None
    ) -> list[Hit]:
        """The ``limit`` best documents for ``query``, best first, as ``Hit``s of kind "kb".

        One batched Query API call fetches dense and sparse chunk candidates (and, for
        ``rrf``/``dbsf``, Qdrant's fusion of both as prefetches); chunks are then folded into
        documents by their best chunk. ``score`` is in [0, 1]; ``dense_score`` is the best
        chunk's cosine, the number confidence should threshold on.
        """
        mode = mode or self.mode
        if not query.strip() or not await self.client.collection_exists(self.collection):
            return []
        dense_vec, sparse_vec = await self.embedder.aquery(query)
        n = max(self.candidates, limit * 10)
        dense_req = models.QueryRequest(
            query=dense_vec, using=DENSE, limit=n, with_payload=_HIT_FIELDS
        )
        requests = [dense_req]
        has_sparse = bool(sparse_vec.indices)  # a query of stopwords only has no BM25 terms
        if has_sparse:
            requests.append(
                models.QueryRequest(
                    query=_sparse(sparse_vec), using=SPARSE, limit=n, with_payload=_HIT_FIELDS
                )
            )
        if mode in ("rrf", "dbsf"):
            prefetch = [models.Prefetch(query=r.query, using=r.using, limit=n) for r in requests]
            fusion = models.Fusion.RRF if mode == "rrf" else models.Fusion.DBSF
            requests.append(
                models.QueryRequest(
                    prefetch=prefetch,
                    query=models.FusionQuery(fusion=fusion),
                    limit=n,
                    with_payload=_HIT_FIELDS,
                )
            )
        responses = await self.client.query_batch_points(self.collection, requests=requests)
        lists = [
            [
                ScoredChunk(str(p.id), str((p.payload or {})["doc_id"]), p.score, p.payload or {})
                for p in r.points
            ]
            for r in responses
        ]
        dense = lists[0]
        sparse = lists[1] if has_sparse else []
        fused = lists[-1] if mode in ("rrf", "dbsf") else None
        ranked = rank_documents(mode, dense, sparse, fused, dense_weight=self.dense_weight)
        hits = []
        for doc in ranked[:limit]:
            pl = doc.best.payload
            hits.append(
                Hit(
                    doc_id=doc.doc_id,
                    chunk_id=doc.best.chunk_id,
                    title=str(pl.get("title", "")),
                    text=str(pl.get("text", "")),
                    score=doc.score,
                    kind="kb",
                    dense_score=doc.dense,
                    sparse_score=doc.sparse,
                    metadata={
                        "source": pl.get("source"),
                        "heading_path": pl.get("heading_path", []),
                        "unit": pl.get("unit"),
                        "mode": mode,
                    },
                )
            )
        return hits

    async def drop(self) -> None:
        """Delete the whole collection (used by isolated evaluation runs)."""
        if await self.client.collection_exists(self.collection):
            await self.client.delete_collection(self.collection)
        self._ready = False
