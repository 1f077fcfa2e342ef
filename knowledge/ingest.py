"""Incremental ingest: bring a KB collection in line with a folder of knowledge files.

The manifest is the payload of each document's chunk 0 (content sha256 + pipeline signature),
so it lives next to the vectors and every process sees the same state.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from knowledge.chunking import chunk_document
from knowledge.embedder import SparseVec
from knowledge.loader import DocumentError, iter_kb_files, load_document
from knowledge.store import Point, VectorValue, Where
from knowledge.types import Chunk, Document, IngestReport, ProgressFn

if TYPE_CHECKING:
    from knowledge.index import KnowledgeBase

DENSE, SPARSE = "dense", "sparse"
# Chunks embedded per model call: large enough to batch well, small enough for steady progress.
EMBED_BATCH = 256
_POINT_NS = uuid.UUID("5b0f3c1e-8d3a-4c55-9a57-0e1f6d1f7c21")


def point_id(doc_id: str, index: int) -> str:
    """Stable point id of a chunk, so re-ingesting a document overwrites its points."""
    return str(uuid.uuid5(_POINT_NS, f"{doc_id}#{index}"))


def doc_filter(doc_id: str) -> Where:
    """Matches every chunk of one document."""
    return Where.eq("doc_id", doc_id)


def _list_files(path: Path) -> tuple[Path, list[Path], bool]:
    """The KB root, the files to ingest, and whether ``path`` named a whole folder."""
    if path.is_dir():
        return path, list(iter_kb_files(path)), True
    return path.parent, [path], False


async def ingest_path(
    kb: KnowledgeBase, path: Path, *, progress: ProgressFn | None = None
) -> IngestReport:
    """Index new and changed files under ``path``; remove documents whose file is gone.

    Unchanged files (same sha256 and pipeline) are skipped. A single file is ingested without
    pruning anything else. Unreadable files are reported in ``errors`` and keep their previous
    index entries rather than being removed.
    """
    root, files, whole_folder = await asyncio.to_thread(_list_files, path)
    known = {d.doc_id: f"{d.content_hash}|{d.pipeline}" for d in await kb.documents()}
    added: list[str] = []
    updated: list[str] = []
    unchanged: list[str] = []
    errors: dict[str, str] = {}
    seen: set[str] = set()
    pending: list[tuple[Document, list[Chunk]]] = []
    for done, file in enumerate(files, 1):
        doc_id = file.relative_to(root).with_suffix("").as_posix()
        seen.add(doc_id)
        try:
            doc = await asyncio.to_thread(load_document, file, root)
        except DocumentError as exc:
            errors[str(file)] = str(exc)
            continue
        if known.get(doc.doc_id) == f"{doc.content_hash}|{kb.pipeline}":
            unchanged.append(doc.doc_id)
        else:
            (updated if doc.doc_id in known else added).append(doc.doc_id)
            pending.append((doc, chunk_document(doc, kb.chunking)))
            if sum(len(chunks) for _, chunks in pending) >= EMBED_BATCH:
                await _write(kb, pending, known)
                pending = []
        if progress:
            progress(done, len(files), doc_id)
    await _write(kb, pending, known)
    removed = sorted(set(known) - seen) if whole_folder else []
    for doc_id in removed:
        await kb.store.delete(kb.collection, doc_filter(doc_id))
    total = sum(d.chunks for d in await kb.documents())
    return IngestReport(
        tuple(added), tuple(updated), tuple(unchanged), tuple(removed), total, errors
    )


async def _write(
    kb: KnowledgeBase, batch: Sequence[tuple[Document, list[Chunk]]], known: dict[str, str]
) -> None:
    """Embed the chunks of several documents in one model call, then replace their points."""
    chunks = [c for _, doc_chunks in batch for c in doc_chunks]
    if not chunks:
        return
    dense, sparse = await kb.embedder.aembed([c.embed_text for c in chunks])
    vectors = dict(
        zip(((c.doc_id, c.index) for c in chunks), zip(dense, sparse, strict=True), strict=True)
    )
    for doc, doc_chunks in batch:
        if doc.doc_id in known:
            # A shorter new version would leave old chunks behind: start the document clean.
            await kb.store.delete(kb.collection, doc_filter(doc.doc_id))
        # Chunk 0 carries the manifest hash and is written last: after a crash half-way the
        # document still looks changed and is re-indexed on the next run.
        points = [
            _point(kb, doc, c, len(doc_chunks), *vectors[(c.doc_id, c.index)])
            for c in reversed(doc_chunks)
        ]
        await kb.store.upsert(kb.collection, points)


def _point(
    kb: KnowledgeBase,
    doc: Document,
    chunk: Chunk,
    total: int,
    dense: list[float],
    sparse: SparseVec,
) -> Point:
    vector: dict[str, VectorValue] = {DENSE: dense}
    if sparse.indices:  # a chunk of stopwords only has no BM25 terms
        vector[SPARSE] = sparse
    payload = {
        "doc_id": doc.doc_id,
        "chunk": chunk.index,
        "chunks": total,
        "unit": chunk.unit,
        "title": doc.title,
        "text": chunk.text,
        "heading_path": list(chunk.heading_path),
        "section": chunk.section,
        "position": chunk.position,
        "source": doc.source,
        "content_hash": doc.content_hash,
        "pipeline": kb.pipeline,
        "metadata": dict(doc.metadata),
    }
    return Point(point_id(doc.doc_id, chunk.index), vector, payload)
