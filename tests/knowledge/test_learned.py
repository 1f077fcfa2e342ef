"""Learned answers: add, near-duplicate merge, search, delete, list."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from knowledge import Embedder, VectorStore
from knowledge.learned import LearnedAnswers


@pytest.fixture
def learned(store: VectorStore, embedder: Embedder) -> LearnedAnswers:
    clock = iter(datetime(2025, 1, 1, tzinfo=UTC) + timedelta(minutes=i) for i in range(100))
    return LearnedAnswers(store=store, embedder=embedder, now=lambda: next(clock))


async def test_add_then_search_finds_the_answer(learned: LearnedAnswers) -> None:
    await learned.add("Do you ship to Canada?", "Yes, in 7-10 days.", answer_id="d1")
    await learned.add("How do I export invoices?", "Billing → Invoices → Export.", answer_id="d2")
    hits = await learned.search("can you deliver to canada", limit=2)
    assert hits[0].doc_id == "d1" and hits[0].kind == "learned"
    assert hits[0].text == "Yes, in 7-10 days."
    assert hits[0].dense_score > hits[1].dense_score
    assert hits[0].metadata["approvals"] == 1
    assert 0.0 <= hits[1].score <= hits[0].score <= 1.0


async def test_near_duplicate_question_merges_and_counts_approvals(
    learned: LearnedAnswers,
) -> None:
    first = await learned.add("Do you ship to Canada?", "Yes.", answer_id="d1", metadata={"a": 1})
    second = await learned.add(
        "do you ship to canada", "Yes, 7-10 days.", answer_id="d2", metadata={"b": 2}
    )
    assert not first.merged and second.merged
    assert (second.answer_id, second.approvals, second.answer) == ("d1", 2, "Yes, 7-10 days.")
    assert second.merged_ids == ("d2",)
    assert dict(second.metadata) == {"a": 1, "b": 2}
    (entry,) = await learned.list()
    assert entry.approvals == 2 and entry.question == "Do you ship to Canada?"


async def test_different_question_is_a_new_entry(learned: LearnedAnswers) -> None:
    await learned.add("Do you ship to Canada?", "Yes.", answer_id="d1")
    other = await learned.add("Do you ship to Japan?", "No.", answer_id="d2")
    assert not other.merged
    assert [e.answer_id for e in await learned.list()] == ["d2", "d1"]  # newest first


async def test_same_id_updates_in_place_without_an_extra_approval(
    learned: LearnedAnswers,
) -> None:
    await learned.add("Do you ship to Canada?", "Yes.", answer_id="d1")
    again = await learned.add("Do you ship to Canada?", "Yes, by post.", answer_id="d1")
    assert (again.merged, again.approvals, again.answer) == (False, 1, "Yes, by post.")
    assert len(await learned.list()) == 1


async def test_delete_by_own_or_merged_id(learned: LearnedAnswers) -> None:
    assert await learned.delete("nothing") == 0
    await learned.add("Do you ship to Canada?", "Yes.", answer_id="d1")
    await learned.add("do you ship to canada?", "Yes!", answer_id="d2")
    await learned.add("How do I export invoices?", "Billing.", answer_id="d3")
    assert await learned.delete("d2") == 1
    assert [e.answer_id for e in await learned.list()] == ["d3"]
    assert await learned.search("canada shipping") != []
    assert all(h.doc_id == "d3" for h in await learned.search("canada shipping"))
