"""``ClientStore``: the vector store on qdrant-client, for a Qdrant server or cluster.

Tests and benchmarks also run it on qdrant-client's local mode (a folder or ``:memory:``),
which speaks the same API in pure Python.
"""

from __future__ import annotations

import warnings
from collections.abc import AsyncIterator, Mapping, Sequence
from typing import Any

from qdrant_client import AsyncQdrantClient, models

from knowledge.embedder import SparseVec
from knowledge.store import (
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


def _vector(value: VectorValue) -> Any:
    if isinstance(value, SparseVec):
        return models.SparseVector(indices=list(value.indices), values=list(value.values))
    return list(value)


def _from_client(value: Any) -> VectorValue:
    if isinstance(value, models.SparseVector):
        return SparseVec(tuple(value.indices), tuple(value.values))
    return list(value)


def _filter(where: Where | None) -> models.Filter | None:
    if where is None:
        return None
    conditions: list[Any] = [
        models.FieldCondition(key=key, match=models.MatchValue(value=value))
        for key, value in where.any_of
    ]
    return (models.Filter(must=conditions) if len(conditions) == 1
            else models.Filter(should=conditions))


def _payload(fields: Fields) -> Any:
    return fields if isinstance(fields, bool) else list(fields)


def _found(point: Any, score: float = 0.0) -> Found:
    vectors = point.vector
    return Found(
        str(point.id),
        score,
        point.payload or {},
        {k: _from_client(v) for k, v in vectors.items()} if isinstance(vectors, dict) else {},
    )


def _nearest_query(request: Nearest) -> Any:
    if isinstance(request.vector, SparseVec):
        return _vector(request.vector)
    return list(request.vector)


def _request(request: Request) -> models.QueryRequest:
    if isinstance(request, Nearest):
        return models.QueryRequest(
            query=_nearest_query(request), using=request.using, limit=request.limit,
            with_payload=_payload(request.fields), score_threshold=request.score_threshold,
        )
    fusion = models.Fusion.RRF if request.fusion == "rrf" else models.Fusion.DBSF
    return models.QueryRequest(
        prefetch=[models.Prefetch(query=_nearest_query(p), using=p.using, limit=p.limit)
                  for p in request.prefetch],
        query=models.FusionQuery(fusion=fusion),
        limit=request.limit,
        with_payload=_payload(request.fields),
    )


class ClientStore:
    """The vector store on an ``AsyncQdrantClient`` (passed in; closed by ``close``)."""

    def __init__(self, *, client: AsyncQdrantClient) -> None:
        self.client = client

    async def exists(self, collection: str) -> bool:
        """True when the collection exists."""
        return bool(await self.client.collection_exists(collection))

    async def ensure(self, collection: str, schema: Schema) -> None:
        """Create the collection with its payload indexes, or check its vector sizes."""
        if await self.client.collection_exists(collection):
            info = await self.client.get_collection(collection)
            vectors = info.config.params.vectors
            for name, size in schema.dense.items():
                found = (vectors[name].size if isinstance(vectors, dict) and name in vectors
                         else None)
                if found != size:
                    raise StoreError(
                        f"collection {collection!r} holds {found}-d {name!r} vectors, the model "
                        f"makes {size}-d ones; drop it or use another collection"
                    )
            return
        await self.client.create_collection(
            collection,
            vectors_config={
                name: models.VectorParams(size=size, distance=models.Distance.COSINE)
                for name, size in schema.dense.items()
            },
            sparse_vectors_config={
                name: models.SparseVectorParams(modifier=models.Modifier.IDF)
                for name in schema.sparse
            } or None,
        )
        with warnings.catch_warnings():
            # Local mode has no payload indexes and warns about it; servers need them.
            warnings.simplefilter("ignore")
            for key in schema.keywords:
                await self.client.create_payload_index(collection, key,
                                                       models.PayloadSchemaType.KEYWORD)
            for key in schema.integers:
                await self.client.create_payload_index(collection, key,
                                                       models.PayloadSchemaType.INTEGER)

    async def drop(self, collection: str) -> None:
        """Delete the collection."""
        if await self.client.collection_exists(collection):
            await self.client.delete_collection(collection)

    async def upsert(self, collection: str, points: Sequence[Point]) -> None:
        """Insert or replace whole points (waits until they are searchable)."""
        if not points:
            return
        await self.client.upsert(
            collection,
            points=[
                models.PointStruct(id=p.id, vector={k: _vector(v) for k, v in p.vectors.items()},
                                   payload=dict(p.payload))
                for p in points
            ],
            wait=True,
        )

    async def update(
        self,
        collection: str,
        point_id: str,
        *,
        vectors: Mapping[str, VectorValue],
        payload: Mapping[str, Any],
    ) -> None:
        """Replace some vectors of a point and its whole payload."""
        await self.client.update_vectors(
            collection,
            [models.PointVectors(id=point_id, vector={k: _vector(v) for k, v in vectors.items()})],
        )
        await self.client.overwrite_payload(collection, dict(payload), points=[point_id])

    async def delete(self, collection: str, where: Where) -> None:
        """Delete the points matching ``where``."""
        if await self.client.collection_exists(collection):
            selector = _filter(where)
            assert selector is not None
            await self.client.delete(collection, points_selector=selector, wait=True)

    async def count(self, collection: str, where: Where | None = None) -> int:
        """Exact number of points (matching ``where``)."""
        if not await self.client.collection_exists(collection):
            return 0
        found = await self.client.count(collection, count_filter=_filter(where), exact=True)
        return int(found.count)

    async def retrieve(
        self, collection: str, ids: Sequence[str], *, fields: Fields = True,
        vectors: bool = False,
    ) -> list[Found]:
        """The points of these ids that exist."""
        if not ids:
            return []
        points = await self.client.retrieve(collection, ids=list(ids),
                                            with_payload=_payload(fields), with_vectors=vectors)
        return [_found(p) for p in points]

    async def pages(
        self, collection: str, *, where: Where | None = None, fields: Fields = True,
        vectors: bool = False, size: int = 512,
    ) -> AsyncIterator[list[Found]]:
        """Every point (matching ``where``), a page at a time."""
        if not await self.client.collection_exists(collection):
            return
        offset: Any = None
        while True:
            points, offset = await self.client.scroll(
                collection, scroll_filter=_filter(where), limit=size, offset=offset,
                with_payload=_payload(fields), with_vectors=vectors,
            )
            if points:
                yield [_found(p) for p in points]
            if offset is None:
                return

    async def query(self, collection: str, requests: Sequence[Request]) -> list[list[Found]]:
        """Several queries in one batched call."""
        responses = await self.client.query_batch_points(
            collection, requests=[_request(r) for r in requests]
        )
        return [[_found(p, p.score) for p in r.points] for r in responses]

    async def optimize(self, collection: str) -> None:
        """Nothing: a Qdrant server indexes in the background."""

    async def close(self) -> None:
        """Close the client."""
        await self.client.close()
