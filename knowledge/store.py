"""The vector-store port: the few operations the knowledge base and learned answers need.

Two implementations: ``EdgeStore`` (Qdrant Edge, the engine in-process, one shard directory
per collection under the data dir) for the embedded default, and ``ClientStore``
(qdrant-client) for a Qdrant server or cluster at ``QDRANT_URL`` (and, in tests, its local
mode as a stand-in for the server API). Callers speak in these small types, never in either
library's models, so both engines run the same ingest, search and learning code.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping, Sequence
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, Literal, NamedTuple, Protocol

from knowledge.embedder import SparseVec

Fields = bool | Sequence[str]  # payload wanted: all, none, or these keys
VectorValue = Sequence[float] | SparseVec


class StoreError(RuntimeError):
    """The vector store cannot be opened or used as configured."""


@dataclass(frozen=True, slots=True)
class Schema:
    """A collection's vectors (cosine dense of a size, IDF sparse) and indexed payload keys."""

    dense: Mapping[str, int]
    sparse: tuple[str, ...] = ()
    keywords: tuple[str, ...] = ()
    integers: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Point:
    """A point to write: its id (a UUID string), named vectors and payload."""

    id: str
    vectors: Mapping[str, VectorValue]
    payload: Mapping[str, Any] = field(default_factory=dict)


NOTHING: Mapping[str, Any] = MappingProxyType({})


class Found(NamedTuple):
    """A point read back: its id, score (0 when not scored) and the payload asked for.

    A named tuple, not a frozen dataclass: a search reads a few hundred candidates per query,
    and building each costs a third as much.
    """

    id: str
    score: float
    payload: Mapping[str, Any]
    vectors: Mapping[str, VectorValue] = NOTHING


@dataclass(frozen=True, slots=True)
class Where:
    """Points whose payload ``key`` equals (or, for a list, contains) one of ``any_of``'s
    values; several pairs are alternatives (should)."""

    any_of: tuple[tuple[str, str | int], ...]

    @classmethod
    def eq(cls, key: str, value: str | int) -> Where:
        """Points whose ``key`` is ``value``."""
        return cls(((key, value),))


@dataclass(frozen=True, slots=True)
class Nearest:
    """Nearest neighbours of ``vector`` by the named vector ``using``."""

    vector: VectorValue
    using: str
    limit: int
    fields: Fields = False
    score_threshold: float | None = None


@dataclass(frozen=True, slots=True)
class Fused:
    """The engine's fusion (RRF or DBSF) of several nearest-neighbour prefetches."""

    fusion: Literal["rrf", "dbsf"]
    prefetch: tuple[Nearest, ...]
    limit: int
    fields: Fields = False


Request = Nearest | Fused


class VectorStore(Protocol):
    """Collections of points with named dense/sparse vectors and JSON payloads."""

    async def exists(self, collection: str) -> bool:
        """True when the collection exists."""
        ...

    async def ensure(self, collection: str, schema: Schema) -> None:
        """Create the collection, or check that the existing one has these vector sizes
        (``StoreError`` otherwise)."""
        ...

    async def drop(self, collection: str) -> None:
        """Delete the collection and its data (nothing when it does not exist)."""
        ...

    async def upsert(self, collection: str, points: Sequence[Point]) -> None:
        """Insert or replace whole points; visible to reads when this returns."""
        ...

    async def update(
        self,
        collection: str,
        point_id: str,
        *,
        vectors: Mapping[str, VectorValue],
        payload: Mapping[str, Any],
    ) -> None:
        """Replace some vectors of a point (others kept) and its whole payload."""
        ...

    async def delete(self, collection: str, where: Where) -> None:
        """Delete the points matching ``where``."""
        ...

    async def count(self, collection: str, where: Where | None = None) -> int:
        """Exact number of points (matching ``where``)."""
        ...

    async def retrieve(
        self, collection: str, ids: Sequence[str], *, fields: Fields = True,
        vectors: bool = False,
    ) -> list[Found]:
        """The points of these ids that exist (score 0), in no particular order."""
        ...

    def pages(
        self, collection: str, *, where: Where | None = None, fields: Fields = True,
        vectors: bool = False, size: int = 512,
    ) -> AsyncIterator[list[Found]]:
        """Every point (matching ``where``), a page at a time, in id order."""
        ...

    async def query(self, collection: str, requests: Sequence[Request]) -> list[list[Found]]:
        """Several queries in one call, each answer best first."""
        ...

    async def optimize(self, collection: str) -> None:
        """Build indexes after bulk writes, where the engine leaves that to the caller."""
        ...

    async def close(self) -> None:
        """Flush and release everything the store holds open."""
        ...
