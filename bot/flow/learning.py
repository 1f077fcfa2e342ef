"""The learners: what a committed decision teaches retrieval.

Approved, edited and manual answers go into the learned-answers collection (and the approval
that founds or joins a topic is recorded on its draft, so the topic can earn auto-send);
rejections with a reason go into the rejections collection, so drafts for close questions lose
confidence and wait for review. Both redact secrets first.

An answer is generalised before it is stored (by Claude when a key is set, then always by
the deterministic scrubber, ``bot.pipeline.generalise``: the customer's name, ids, amounts,
dates, greetings, sign-offs and claims of actions taken removed), and is
recorded as *proposed*: drafts use it at once, but its topic cannot earn auto-send until an
admin accepts it (``/support learned``).
"""

from __future__ import annotations

import uuid
from dataclasses import asdict
from typing import Protocol

from bot.pipeline.generalise import Generaliser, ScrubberGeneraliser
from bot.pipeline.learning import LearnedExample
from bot.pipeline.redact import redact
from bot.store import conversations, earning, learned_review


class Entry(Protocol):
    """A stored learned answer (only its id matters here)."""

    @property
    def answer_id(self) -> str: ...


class AnswerStore(Protocol):
    """A learned-answers collection (``knowledge.learned.LearnedAnswers``)."""

    async def add(self, question: str, answer: str, *, answer_id: str,
                  metadata: dict[str, object]) -> Entry: ...


REJECTED_COLLECTION = "rejected_answers"


class Learners:
    """The two learner hooks, over the learned-answers and rejections collections."""

    def __init__(self, *, learned: AnswerStore, rejected: AnswerStore,
                 generaliser: Generaliser | None = None) -> None:
        self._learned = learned
        self._rejected = rejected
        # Claude then the scrubber when a key is set; the scrubber alone otherwise.
        self._generaliser: Generaliser = generaliser or ScrubberGeneraliser()

    async def answer(self, example: LearnedExample) -> None:
        """Approved, edited and manual answers feed retrieval for the next similar question."""
        key = example.draft_id or f"c{example.conversation_id}-{uuid.uuid4().hex[:8]}"
        meta = {k: v for k, v in asdict(example).items()
                if v is not None and k not in ("question", "answer", "rejected_text")}
        question = redact(example.question)
        answer = (await self._generaliser.generalise(
            redact(example.answer), names=await self._names(example.conversation_id))).text
        if not answer.strip():
            return  # nothing general was left (only a greeting and a claim of what was done)
        entry = await self._learned.add(question, answer, answer_id=f"answer-{key}",
                                        metadata=meta)
        await learned_review.propose(entry.answer_id, question=question, answer=answer,
                                     grounded_in=example.grounded_in)
        if example.draft_id is not None:
            # The approval that founds (or joins) a topic counts towards earning it.
            await earning.assign_topic(example.draft_id, entry.answer_id)

    @staticmethod
    async def _names(conversation_id: int | None) -> list[str]:
        """The customer's name (its parts are replaced wherever the answer uses them)."""
        if conversation_id is None:
            return []
        conversation = await conversations.with_customer(conversation_id)
        customer = conversation.customer if conversation is not None else None
        return [customer.name] if customer is not None and customer.name else []

    async def rejection(self, example: LearnedExample) -> None:
        """A rejection with a reason: the question is remembered with the reason."""
        await self._rejected.add(redact(example.question), redact(example.answer),
                                 answer_id=f"rejected-{example.draft_id}",
                                 metadata={"agent": example.agent, "draft_id": example.draft_id})
