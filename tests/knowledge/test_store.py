"""The vector-store port: the same behaviour from Qdrant Edge and from qdrant-client."""

from __future__ import annotations

import uuid

import pytest

from knowledge import VectorStore
from knowledge.embedder import SparseVec
from knowledge.store import Fused, Nearest, Point, Schema, Where

SCHEMA = Schema(dense={"d": 3}, sparse=("s",), keywords=("tag",), integers=("n",))


def pid(n: int) -> str:
    return str(uuid.UUID(int=n + 1))


@pytest.fixture
async def filled(store: VectorStore) -> VectorStore:
    await store.ensure("c", SCHEMA)
    await store.upsert("c", [
        Point(pid(0), {"d": [1, 0, 0], "s": SparseVec((1, 2), (1.0, 1.0))},
              {"tag": "a", "n": 0, "tags": ["x", "y"]}),
        Point(pid(1), {"d": [0, 1, 0], "s": SparseVec((2,), (1.0,))}, {"tag": "b", "n": 1}),
        Point(pid(2), {"d": [0.9, 0.1, 0]}, {"tag": "a", "n": 2, "tags": ["y"]}),
    ])
    return store


async def test_nearest_and_fused_queries_in_one_batch(filled: VectorStore) -> None:
    dense = Nearest([1, 0, 0], "d", 3, fields=["tag"])
    sparse = Nearest(SparseVec((1,), (1.0,)), "s", 3)
    by_dense, by_sparse, fused = await filled.query(
        "c", [dense, sparse, Fused("rrf", (dense, sparse), 3, fields=True)]
    )
    assert [p.id for p in by_dense] == [pid(0), pid(2), pid(1)]
    assert by_dense[0].payload == {"tag": "a"} and by_dense[0].score == pytest.approx(1.0)
    assert [p.id for p in by_sparse] == [pid(0)] and by_sparse[0].payload == {}
    assert fused[0].id == pid(0) and fused[0].payload["n"] == 0
    (above,) = await filled.query("c", [Nearest([1, 0, 0], "d", 3, score_threshold=0.95)])
    assert [p.id for p in above] == [pid(0), pid(2)]


async def test_filters_count_delete_and_list_membership(filled: VectorStore) -> None:
    assert await filled.count("c") == 3
    assert await filled.count("c", Where.eq("tag", "a")) == 2
    assert await filled.count("c", Where((("tag", "b"), ("tags", "y")))) == 3
    await filled.delete("c", Where.eq("tags", "x"))
    assert {p.id for page in [p async for p in filled.pages("c")] for p in page} == {
        pid(1), pid(2)
    }


async def test_update_keeps_other_vectors_and_replaces_payload(filled: VectorStore) -> None:
    await filled.update("c", pid(1), vectors={"d": [0, 0, 1]}, payload={"tag": "c"})
    (point,) = await filled.retrieve("c", [pid(1)], vectors=True)
    assert point.payload == {"tag": "c"}
    assert point.vectors["d"] == pytest.approx([0, 0, 1])
    assert point.vectors["s"] == SparseVec((2,), (1.0,))


async def test_pages_cover_every_point_once(store: VectorStore) -> None:
    await store.ensure("c", SCHEMA)
    await store.upsert("c", [Point(pid(i), {"d": [1, i, 0]}, {"n": i}) for i in range(25)])
    pages = [page async for page in store.pages("c", fields=["n"], size=10)]
    assert [len(p) for p in pages] == [10, 10, 5]
    assert sorted(p.payload["n"] for page in pages for p in page) == list(range(25))


async def test_missing_collection_reads_empty_and_drop_forgets(store: VectorStore) -> None:
    assert not await store.exists("c")
    assert await store.count("c") == 0
    assert [p async for p in store.pages("c")] == []
    await store.ensure("c", SCHEMA)
    assert await store.exists("c")
    await store.drop("c")
    assert not await store.exists("c")
