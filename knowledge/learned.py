"""Learned answers: agent-approved replies stored with their question for reuse.

Each entry has two vectors: the question alone (for near-duplicate detection and matching a
new customer message) and question + answer (which also matches messages phrased like the
answer). A question approved again in other words updates the entry and counts an approval
instead of piling up copies, so the approval count is a usable agreement signal.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from qdrant_client import AsyncQdrantClient, models

from knowledge.embedder import Embedder
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
        client: AsyncQdrantClient,
        embedder: Embedder,
        collection: str = DEFAULT_COLLECTION,
        duplicate_cosine: float = DUPLICATE_COSINE,
        now: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.client = client
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
        if not await self.client.collection_exists(self.collection):
            dim = await asyncio.to_thread(lambda: self.embedder.dimension)
            params = models.VectorParams(size=dim, distance=models.Distance.COSINE)
            await self.client.create_collection(
                self.collection, vectors_config={QUESTION: params, QA: params}
            )
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
            same = await self.client.retrieve(self.collection, [_point_id(answer_id)])
            existing: Mapping[str, Any] | None = same[0].payload if same else None
            merged = False
            if existing is None:
                near = await self.client.query_points(
                    self.collection,
                    query=q_vec,
                    using=QUESTION,
                    limit=1,
                    score_threshold=self.duplicate_cosine,
                    with_payload=True,
                )
                if near.points:
                    existing, merged = near.points[0].payload, True
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
                vectors: dict[str, Any] = {QUESTION: q_vec, QA: qa_vec}
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
                await self.client.upsert(
                    self.collection, [models.PointStruct(id=pid, vector=vectors, payload=payload)]
                )
            else:
                await self.client.update_vectors(
                    self.collection, [models.PointVectors(id=pid, vector=vectors)]
                )
                await self.client.overwrite_payload(self.collection, payload, points=[pid])
        return _record(payload, merged=merged)

    async def search(self, query: str, limit: int = 3) -> list[Hit]:
        """Learned answers closest to ``query`` (best of question and question+answer)."""
        if not query.strip() or not await self.client.collection_exists(self.collection):
            return []
        # The query's vectors, shared (cached) with the KB search of the same message.
        vec = list((await self.embedder.aquery(query))[0])
        requests = [
            models.QueryRequest(query=vec, using=name, limit=limit * 3, with_payload=True)
            for name in (QUESTION, QA)
        ]
        by_question, by_qa = await self.client.query_batch_points(self.collection, requests)
        question_cos = {str(p.id): p.score for p in by_question.points}
        best: dict[str, models.ScoredPoint] = {}
        for p in (*by_question.points, *by_qa.points):
            if str(p.id) not in best or p.score > best[str(p.id)].score:
                best[str(p.id)] = p
        ranked = sorted(best.values(), key=lambda p: -p.score)[:limit]
        return [self._hit(p, question_cos.get(str(p.id), 0.0)) for p in ranked]

    @staticmethod
    def _hit(point: models.ScoredPoint, question_cos: float) -> Hit:
        record = _record(point.payload or {})
        return Hit(
            doc_id=record.answer_id,
            chunk_id=str(point.id),
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
        if not await self.client.collection_exists(self.collection):
            return 0
        selector = models.Filter(
            should=[
                models.FieldCondition(key=key, match=models.MatchValue(value=answer_id))
                for key in ("answer_id", "merged_ids")
            ]
        )
        found = await self.client.count(self.collection, count_filter=selector, exact=True)
        if found.count:
            await self.client.delete(self.collection, points_selector=selector, wait=True)
        return found.count

    async def list(self, limit: int = 50) -> list[LearnedAnswer]:
        """The most recently updated entries first."""
        if not await self.client.collection_exists(self.collection):
            return []
        records: list[LearnedAnswer] = []
        offset: Any = None
        while True:
            points, offset = await self.client.scroll(
                self.collection, limit=256, offset=offset, with_payload=True, with_vectors=False
            )
            records.extend(_record(p.payload or {}) for p in points)
            if offset is None:
                break
        return sorted(records, key=lambda r: r.updated_at, reverse=True)[:limit]
