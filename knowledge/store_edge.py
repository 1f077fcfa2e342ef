"""``EdgeStore``: Qdrant Edge, the Qdrant engine in this process, one shard per collection.

Each collection is a shard directory under the store's root (``$SUPPORTBOT_DATA_DIR/edge``):
HNSW and IDF-weighted sparse indexes, payload indexes, prefetch and fusion queries, all in
Rust. A shard admits one process: its write-ahead log is locked while open, and a second
process fails to open it (``StoreError``) rather than corrupting it.

Reads are sub-millisecond and run on the calling thread. Writes and index building run in a
worker thread; the bindings keep the GIL while they work, so ``optimize`` (building HNSW) is
called only after bulk writes (an ingest, an import) and when a shard is opened, never per
approval: points written since the last build are searched exactly, which stays cheap until
the next start.
"""

from __future__ import annotations

import asyncio
import json
import shutil
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from pathlib import Path
from typing import Any, TypeVar

import qdrant_edge as qe

from knowledge.embedder import SparseVec
from knowledge.store import (
    NOTHING,
    Fields,
    Found,
    Nearest,
    Point,
    Request,
    Schema,
    StoreError,
    VectorValue,
    Where,
)

_CONFIG_FILE = "edge_config.json"  # written by Qdrant Edge when it creates a shard
# Qdrant's RRF constant; ``knowledge.fusion`` scales the fused scores knowing it.
RRF_K = 2
T = TypeVar("T")


def _vector(value: VectorValue) -> Any:
    if isinstance(value, SparseVec):
        return qe.SparseVector(list(value.indices), list(value.values))
    return list(value)


def _from_edge(value: Any) -> VectorValue:
    if isinstance(value, qe.SparseVector):
        return SparseVec(tuple(value.indices), tuple(value.values))
    return list(value)


def _filter(where: Where | None) -> qe.Filter | None:
    if where is None:
        return None
    conditions: list[Any] = [
        qe.FieldCondition(key=key, match=qe.MatchValue(value)) for key, value in where.any_of
    ]
    return qe.Filter(must=conditions) if len(conditions) == 1 else qe.Filter(should=conditions)


def _payload(fields: Fields) -> Any:
    return fields if isinstance(fields, bool) else list(fields)


def _found(point: Any, *, score: float = 0.0) -> Found:
    vectors = point.vector
    return Found(
        str(point.id),
        score,
        point.payload or NOTHING,
        {k: _from_edge(v) for k, v in vectors.items()} if isinstance(vectors, dict) else NOTHING,
    )


def _answer(request: Request, points: list[Any]) -> list[Found]:
    if request.fields is False:  # candidates: ids and scores only, the common case
        return [Found(str(p.id), p.score, NOTHING) for p in points]
    return [_found(p, score=p.score) for p in points]


def _nearest(request: Nearest) -> Any:
    return qe.Query.Nearest(_vector(request.vector), using=request.using)


def _request(request: Request) -> qe.QueryRequest:
    if isinstance(request, Nearest):
        return qe.QueryRequest(
            limit=request.limit, query=_nearest(request), with_payload=_payload(request.fields),
            score_threshold=request.score_threshold,
        )
    fusion: Any = qe.Fusion.Rrf(k=RRF_K) if request.fusion == "rrf" else qe.Fusion.Dbsf()
    return qe.QueryRequest(
        limit=request.limit,
        prefetches=[qe.Prefetch(limit=p.limit, query=_nearest(p)) for p in request.prefetch],
        query=fusion,
        with_payload=_payload(request.fields),
    )


def edge_config(schema: Schema) -> qe.EdgeConfig:
    """The shard configuration of a collection: cosine dense vectors, IDF sparse ones."""
    return qe.EdgeConfig(
        vectors={
            name: qe.EdgeVectorParams(size=size, distance=qe.Distance.Cosine)
            for name, size in schema.dense.items()
        },
        sparse_vectors={
            name: qe.EdgeSparseVectorParams(modifier=qe.Modifier.Idf) for name in schema.sparse
        },
    )


class EdgeStore:
    """The vector store on Qdrant Edge shards under ``root`` (one per collection)."""

    def __init__(self, *, root: Path) -> None:
        self.root = root
        self._shards: dict[str, qe.EdgeShard] = {}
        self._lock = asyncio.Lock()  # opening, creating and dropping shards

    def path(self, collection: str) -> Path:
        """The shard directory of a collection."""
        if not collection or "/" in collection or collection.startswith("."):
            raise StoreError(f"bad collection name {collection!r}")
        return self.root / collection

    async def exists(self, collection: str) -> bool:
        """True when the collection's shard exists (open or on disk)."""
        # Asked before every search of a collection that may not exist yet (no rejection
        # recorded so far): one stat of a local file costs microseconds, a worker-thread hop
        # for it ten times that and a wake-up of the other core.
        return collection in self._shards or (self.path(collection) / _CONFIG_FILE).exists()

    async def ensure(self, collection: str, schema: Schema) -> None:
        """Open or create the shard, check its vector sizes, add missing payload indexes."""
        async with self._lock:
            shard = self._shards.get(collection)
            if shard is None:
                shard = await asyncio.to_thread(self._open_or_create, collection, schema)
                self._shards[collection] = shard
            else:
                await asyncio.to_thread(self._check_sizes, collection, schema)
        indexed = set(shard.info().payload_schema)
        for key, kind in [*((k, qe.PayloadSchemaType.Keyword) for k in schema.keywords),
                          *((k, qe.PayloadSchemaType.Integer) for k in schema.integers)]:
            if key not in indexed:
                await self._write(shard, qe.UpdateOperation.create_field_index(key, kind))

    def _check_sizes(self, collection: str, schema: Schema) -> None:
        config = json.loads((self.path(collection) / _CONFIG_FILE).read_text())
        for name, size in schema.dense.items():
            found = (config.get("vectors") or {}).get(name, {}).get("size")
            if found != size:
                raise StoreError(
                    f"collection {collection!r} holds {found}-d {name!r} vectors, the model "
                    f"makes {size}-d ones; drop it or use another collection"
                )

    def _open_or_create(self, collection: str, schema: Schema) -> qe.EdgeShard:
        path = self.path(collection)
        config = edge_config(schema)
        exists = (path / _CONFIG_FILE).exists()
        if exists:
            self._check_sizes(collection, schema)
        try:
            if exists:
                shard = qe.EdgeShard.load(str(path), config)
            else:
                path.mkdir(parents=True, exist_ok=True)
                shard = qe.EdgeShard.create(str(path), config)
        except Exception as exc:  # the bindings raise plain Exception
            raise _open_error(path, exc) from None
        shard.optimize()  # points written since the last build get their index now
        return shard

    async def _shard(self, collection: str) -> qe.EdgeShard | None:
        """The open shard, opening an existing one on first use; None when there is none."""
        shard = self._shards.get(collection)
        if shard is not None:
            return shard
        async with self._lock:
            shard = self._shards.get(collection)
            if shard is None and await self.exists(collection):
                shard = await asyncio.to_thread(self._load, collection)
                self._shards[collection] = shard
            return shard

    def _load(self, collection: str) -> qe.EdgeShard:
        try:
            shard = qe.EdgeShard.load(str(self.path(collection)))
        except Exception as exc:
            raise _open_error(self.path(collection), exc) from None
        shard.optimize()
        return shard

    async def _required(self, collection: str) -> qe.EdgeShard:
        shard = await self._shard(collection)
        if shard is None:
            raise StoreError(f"collection {collection!r} does not exist")
        return shard

    @staticmethod
    async def _write(shard: qe.EdgeShard, operation: qe.UpdateOperation) -> None:
        await asyncio.to_thread(shard.update, operation)

    async def drop(self, collection: str) -> None:
        """Close the shard and delete its directory."""
        async with self._lock:
            shard = self._shards.pop(collection, None)
            if shard is not None:
                await asyncio.to_thread(shard.close)
            await asyncio.to_thread(shutil.rmtree, self.path(collection), True)

    async def upsert(self, collection: str, points: Sequence[Point]) -> None:
        """Insert or replace whole points."""
        if not points:
            return
        shard = await self._required(collection)
        edge_points = [
            qe.Point(id=p.id, vector={k: _vector(v) for k, v in p.vectors.items()},
                     payload=dict(p.payload))
            for p in points
        ]
        await self._write(shard, qe.UpdateOperation.upsert_points(edge_points))

    async def update(
        self,
        collection: str,
        point_id: str,
        *,
        vectors: Mapping[str, VectorValue],
        payload: Mapping[str, Any],
    ) -> None:
        """Replace some vectors of a point and its whole payload."""
        shard = await self._required(collection)
        named = {k: _vector(v) for k, v in vectors.items()}
        await self._write(shard, qe.UpdateOperation.update_vectors([qe.PointVectors(point_id,
                                                                                    named)]))
        await self._write(shard, qe.UpdateOperation.overwrite_payload([point_id], dict(payload)))

    async def delete(self, collection: str, where: Where) -> None:
        """Delete the points matching ``where``."""
        shard = await self._shard(collection)
        if shard is not None:
            flt = _filter(where)
            assert flt is not None
            await self._write(shard, qe.UpdateOperation.delete_points_by_filter(flt))

    async def count(self, collection: str, where: Where | None = None) -> int:
        """Exact number of points (matching ``where``)."""
        shard = await self._shard(collection)
        return 0 if shard is None else shard.count(qe.CountRequest(exact=True,
                                                                   filter=_filter(where)))

    async def retrieve(
        self, collection: str, ids: Sequence[str], *, fields: Fields = True,
        vectors: bool = False,
    ) -> list[Found]:
        """The points of these ids that exist."""
        shard = await self._shard(collection)
        if shard is None or not ids:
            return []
        records = shard.retrieve(list(ids), with_payload=_payload(fields), with_vector=vectors)
        return [_found(r) for r in records]

    async def pages(
        self, collection: str, *, where: Where | None = None, fields: Fields = True,
        vectors: bool = False, size: int = 512,
    ) -> AsyncIterator[list[Found]]:
        """Every point (matching ``where``), a page at a time."""
        shard = await self._shard(collection)
        if shard is None:
            return
        offset: Any = None
        while True:
            request = qe.ScrollRequest(offset=offset, limit=size, filter=_filter(where),
                                       with_payload=_payload(fields), with_vector=vectors)
            records, offset = await _call(shard.scroll, request)
            if records:
                yield [_found(r) for r in records]
            if offset is None:
                return

    async def query(self, collection: str, requests: Sequence[Request]) -> list[list[Found]]:
        """Several queries as one planned batch."""
        shard = await self._shard(collection)
        if shard is None:
            return [[] for _ in requests]
        batch = qe.QueryBatchRequest([_request(r) for r in requests])
        return [_answer(r, points) for r, points in zip(requests, shard.query_batch(batch),
                                                         strict=True)]

    async def optimize(self, collection: str) -> None:
        """Build the shard's indexes for the points written since the last build."""
        shard = await self._shard(collection)
        if shard is not None:
            await asyncio.to_thread(shard.optimize)

    async def close(self) -> None:
        """Flush and close every open shard (their directory locks are released)."""
        async with self._lock:
            shards, self._shards = self._shards, {}
            for shard in shards.values():
                await asyncio.to_thread(shard.close)


def _open_error(path: Path, exc: Exception) -> StoreError:
    if "WouldBlock" in str(exc):  # the write-ahead log is locked by another process
        return StoreError(
            f"the Qdrant Edge shard {path} is in use by another process (a shard admits one "
            "process: stop the worker first, or run Qdrant as a server with QDRANT_URL)"
        )
    return StoreError(f"cannot open the Qdrant Edge shard {path}: {exc}")


async def _call(fn: Callable[..., T], *args: Any) -> T:
    return await asyncio.to_thread(fn, *args)
