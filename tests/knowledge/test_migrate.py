"""A data dir made by the old embedded engine (qdrant-client's local mode) opens as Edge."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest
from qdrant_client import AsyncQdrantClient

from config import Settings
from knowledge import ClientStore, EdgeStore, Embedder, KnowledgeBase, open_vector_store
from knowledge.learned import LearnedAnswers
from knowledge.migrate import MIGRATED_SUFFIX


async def _old_data_dir(settings: Settings, embedder: Embedder, kb_dir: Path) -> None:
    """What a data dir looked like before Qdrant Edge: everything in ``data/qdrant``."""
    old = ClientStore(client=AsyncQdrantClient(path=str(settings.qdrant_path)))
    try:
        await KnowledgeBase(store=old, embedder=embedder).ingest(kb_dir)
        learned = LearnedAnswers(store=old, embedder=embedder)
        await learned.add("How long does a refund take?", "Five working days.", answer_id="a1")
        merged = await learned.add("how long does a refund take", "Within five working days.",
                                   answer_id="a2")
        assert merged.merged
        rejected = LearnedAnswers(store=old, embedder=embedder, collection="rejected_answers")
        await rejected.add("Can I pay in bitcoin?", "we do not take crypto", answer_id="r1")
    finally:
        await old.close()


async def test_old_local_mode_dir_is_imported_once_without_losing_an_answer(
    kb_settings: Settings, embedder: Embedder, small_kb: Path, caplog: pytest.LogCaptureFixture
) -> None:
    await _old_data_dir(kb_settings, embedder, small_kb)
    progress: list[tuple[int, int, str]] = []
    with caplog.at_level(logging.INFO, logger="knowledge.migrate"):
        store = await open_vector_store(kb_settings, progress=lambda *a: progress.append(a))
    try:
        assert isinstance(store, EdgeStore)
        assert "Qdrant local mode" in caplog.text and "imported" in caplog.text
        assert {name for _, _, name in progress} == {"kb_chunks", "learned_answers",
                                                     "rejected_answers"}
        assert not kb_settings.qdrant_path.exists()
        assert kb_settings.qdrant_path.with_name("qdrant" + MIGRATED_SUFFIX).is_dir()

        learned = LearnedAnswers(store=store, embedder=embedder)
        (entry,) = await learned.list()
        assert entry.approvals == 2 and entry.merged_ids == ("a2",)  # the merge survived
        hits = await learned.search("how long until I get my refund?")
        assert hits[0].doc_id == "a1"
        assert await LearnedAnswers(store=store, embedder=embedder,
                                    collection="rejected_answers").delete("r1") == 1

        kb = KnowledgeBase(store=store, embedder=embedder)
        report = await kb.ingest(small_kb)  # the manifest came along: nothing to re-embed
        assert len(report.unchanged) == 5 and not report.changed
        assert (await kb.search("I forgot my password", 1))[0].doc_id == "account/password-reset"
    finally:
        await store.close()

    caplog.clear()
    again = await open_vector_store(kb_settings)  # nothing left to import
    await again.close()
    assert "Qdrant local mode" not in caplog.text


async def test_an_unfinished_import_is_done_again(
    kb_settings: Settings, embedder: Embedder, small_kb: Path
) -> None:
    await _old_data_dir(kb_settings, embedder, small_kb)
    # A crash half-way: a partial shard and its marker, the old folder still in place.
    partial = EdgeStore(root=kb_settings.edge_path)
    await KnowledgeBase(store=partial, embedder=embedder).ensure_collection()
    await partial.close()
    (kb_settings.edge_path / ".importing-kb_chunks").write_text("")

    store = await open_vector_store(kb_settings)
    try:
        assert await store.count("kb_chunks") > 5
        assert not (kb_settings.edge_path / ".importing-kb_chunks").exists()
    finally:
        await store.close()
