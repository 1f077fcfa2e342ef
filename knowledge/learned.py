"""Learned answers: agent-approved replies stored with their question for reuse.

Each entry has two vectors: the question alone (for near-duplicate detection and matching a
new customer message) and question + answer (which also matches messages phrased like the
answer). A question approved again in other words updates the entry and counts an approval
instead of piling up copies, so the approval count is a usable agreement signal.
"""

from __future__ import annotations

import asyncio
import heapq
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from knowledge.embedder import Embedder
from knowledge.store import Found, Nearest, Point, Schema, VectorStore, VectorValue, Where
from knowledge.types import Hit

DEFAULT_COLLECTION = "learned_answers"
QUESTION, QA = "question", "qa"
# all-MiniLM cosine ≥ 0.95 means the same question reworded (casing, punctuation, a word).
DUPLICATE_COSINE = 0.95
_NS = uuid.UUID("0c6f2b8e-7f8e-4f5e-a3d1-2b6a4f0f9e11")


@dataclass(frozen=True, slots=True)
class LearnedAnswer:
    """One stored answer; ``merged_ids`` are answer ids folded into it as near-duplicates."""

    answer_id: str
    question: str
    answer: str
    approvals: int
    created_at: str
    updated_at: str
    merged_ids: tuple[str, ...] = ()
    metadata: Mapping[str, Any] = field(default_factory=dict)
    merged: bool = False  # set on the result of ``add`` when it updated a near-duplicate


def _point_id(answer_id: str) -> str:
    return str(uuid.uuid5(_NS, answer_id))


def _record(payload: Mapping[str, Any], *, merged: bool = False) -> LearnedAnswer:
    return LearnedAnswer(
        answer_id=str(payload["answer_id"]),
        question=str(payload["question"]),
        answer=str(payload["answer"]),
        approvals=int(payload.get("approvals", 1)),
        created_at=str(payload.get("created_at", "")),
        updated_at=str(payload.get("updated_at", "")),
        merged_ids=tuple(payload.get("merged_ids", ())),
        metadata=dict(payload.get("metadata") or {}),
        merged=merged,
    )


class LearnedAnswers:
    """The ``learned_answers`` collection: add, search, delete and list approved answers."""

    def __init__(
        self,
        *,
        store: VectorStore,
        embedder: Embedder,
        collection: str = DEFAULT_COLLECTION,
        duplicate_cosine: float = DUPLICATE_COSINE,
        now: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.store = store
        self.embedder = embedder
        self.collection = collection
        self.duplicate_cosine = duplicate_cosine
        self._now = now
        # Serialises add() in this process so two approvals of one question cannot both
        # miss each other and insert twins.
        self._lock = asyncio.Lock()
        self._ready = False

    async def ensure_collection(self) -> None:
        """Create the collection with a question vector and a question+answer vector."""
        if self._ready:
            return
        dim = await asyncio.to_thread(lambda: self.embedder.dimension)
        await self.store.ensure(self.collection, Schema(dense={QUESTION: dim, QA: dim},
                                                        keywords=("answer_id", "merged_ids")))
        self._ready = True

    async def add(
        self,
        question: str,
        answer: str,
        *,
        answer_id: str,
        metadata: Mapping[str, Any] | None = None,
    ) -> LearnedAnswer:
        """Store an approved answer, or fold it into a near-duplicate question's entry.

        Re-adding the same ``answer_id`` updates it in place (idempotent, no extra approval).
        A different id whose question is within ``duplicate_cosine`` of an existing one
        replaces that entry's answer with the newer one and increments ``approvals``.
        """
        await self.ensure_collection()
        q_vec, qa_vec = await self.embedder.adense([question, f"{question}\n{answer}"])
        stamp = self._now().isoformat()
        async with self._lock:
            same = await self.store.retrieve(self.collection, [_point_id(answer_id)])
            existing: Mapping[str, Any] | None = same[0].payload if same else None
            merged = False
            if existing is None:
                (near,) = await self.store.query(self.collection, [
                    Nearest(q_vec, QUESTION, 1, fields=True,
                            score_threshold=self.duplicate_cosine)
                ])
                if near:
                    existing, merged = near[0].payload, True
            if existing is None:
                payload: dict[str, Any] = {
                    "answer_id": answer_id,
                    "question": question,
                    "answer": answer,
                    "approvals": 1,
                    "merged_ids": [],
                    "created_at": stamp,
                    "updated_at": stamp,
                    "metadata": dict(metadata or {}),
                }
                vectors: dict[str, VectorValue] = {QUESTION: q_vec, QA: qa_vec}
            else:
                payload = {
                    **existing,
                    "answer": answer,
                    "updated_at": stamp,
                    "metadata": {**(existing.get("metadata") or {}), **(metadata or {})},
                }
                if merged:
                    payload["approvals"] = int(existing.get("approvals", 1)) + 1
                    payload["merged_ids"] = [*existing.get("merged_ids", []), answer_id]
                else:
                    payload["question"] = question
                # Keep the canonical question's vector on a merge; refresh the answer's.
                vectors = {QA: qa_vec} if merged else {QUESTION: q_vec, QA: qa_vec}
            pid = _point_id(str(payload["answer_id"]))
            if existing is None or not merged:
                await self.store.upsert(self.collection, [Point(pid, vectors, payload)])
            else:
                await self.store.update(self.collection, pid, vectors=vectors, payload=payload)
        return _record(payload, merged=merged)

    async def search(self, query: str, limit: int = 3) -> list[Hit]:
        """Learned answers closest to ``query`` (best of question and question+answer)."""
        if not query.strip() or not (self._ready or await self.store.exists(self.collection)):
            return []
        # The query's vectors, shared (cached) with the KB search of the same message.
        vec = (await self.embedder.aquery(query))[0]
        by_question, by_qa = await self.store.query(
            self.collection,
            [Nearest(vec, name, limit * 3, fields=True) for name in (QUESTION, QA)],
        )
        question_cos = {p.id: p.score for p in by_question}
        best: dict[str, Found] = {}
        for p in (*by_question, *by_qa):
            if p.id not in best or p.score > best[p.id].score:
                best[p.id] = p
        ranked = sorted(best.values(), key=lambda p: -p.score)[:limit]
        return [self._hit(p, question_cos.get(p.id, 0.0)) for p in ranked]

    @staticmethod
    def _hit(point: Found, question_cos: float) -> Hit:
        record = _record(point.payload)
        return Hit(
            doc_id=record.answer_id,
            chunk_id=point.id,
            title=record.question,
            text=record.answer,
            score=min(max(point.score, 0.0), 1.0),
            kind="learned",
            dense_score=question_cos,
            metadata={
                "approvals": record.approvals,
                "question": record.question,
                "updated_at": record.updated_at,
                **record.metadata,
            },
        )

    async def delete(self, answer_id: str) -> int:
        """Delete the entry of ``answer_id`` (also when it was merged into another entry)."""
        selector = Where((("answer_id", answer_id), ("merged_ids", answer_id)))
        found = await self.store.count(self.collection, selector)
        if found:
            await self.store.delete(self.collection, selector)
        return found

    async def list(self, limit: int = 50) -> list[LearnedAnswer]:
        """The most recently updated entries first."""
        records: list[LearnedAnswer] = []
        async for page in self.store.pages(self.collection, fields=True):
            # Only the newest ``limit`` are kept while paging: a store may hold 50,000.
            records = heapq.nlargest(limit, [*records, *(_record(p.payload) for p in page)],
                                     key=lambda r: r.updated_at)
        return records
