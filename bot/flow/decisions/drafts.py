"""Decisions on a draft: approve (as written or edited) and reject.

The first decision wins (``bot.store.drafts.decide``); the winner's reply is queued and its
learning signal written in the same transaction, and the answer (or the rejection reason) is
handed to the learner after the commit.
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

from bot.domain import DraftStatus
from bot.flow.decisions.outcomes import DecisionError, DeliverFn, DraftOutcome
from bot.flow.decisions.signals import call_learner, question_in_context, seconds_since
from bot.pipeline.learning import (
    LearnedExample,
    LearnFn,
    LearningAction,
    edit_ratio,
    grounding_of,
    is_edited,
)
from bot.store import drafts
from bot.store.drafts import OwnedByOther
from bot.store.signals import Signal

if TYPE_CHECKING:
    from bot.store.models import Draft


async def _load(draft_id: int) -> Draft:
    draft = await drafts.get(draft_id)
    if draft is None:
        raise DecisionError(f"draft {draft_id} does not exist")
    return draft


async def _lost(draft_id: int, owner: str | None = None) -> DraftOutcome:
    draft = await _load(draft_id)
    return DraftOutcome(
        owner=owner,
        won=False,
        draft_id=draft.id,
        conversation_id=draft.conversation_id,  # type: ignore[attr-defined]
        status=draft.status,
        decided_by=draft.decided_by,
        decided_at=draft.decided_at,
        final_text=draft.final_text,
    )


async def approve(
    draft_id: int,
    *,
    agent: str,
    now: datetime,
    deliver: DeliverFn,
    final_text: str | None = None,
    learn: LearnFn | None = None,
) -> DraftOutcome:
    """Send the draft (or the agent's ``final_text``) to the customer; first decision wins.
    Refused (``won=False``, ``owner`` set) while another agent owns the conversation."""
    draft = await _load(draft_id)
    text = draft.text if final_text is None else final_text
    if not text.strip():
        raise DecisionError("the reply is empty")
    edited = final_text is not None and is_edited(draft.text, final_text)
    status = DraftStatus.EDITED if edited else DraftStatus.APPROVED
    ratio = edit_ratio(draft.text, text) if draft.text else None
    conversation = draft.conversation
    try:
        won, item = await drafts.decide(
            draft, status=status, agent=agent, now=now, final_text=text, enqueue=deliver,
            signal=Signal(
                draft_id=draft_id, conversation_id=conversation.id,
                channel=conversation.channel,
                action=LearningAction.EDITED if edited else LearningAction.APPROVED,
                agent=agent, original_text=draft.text, final_text=text, edit_ratio=ratio,
                seconds_to_decision=seconds_since(draft.created_at, now),
                confidence=draft.confidence,
            ),
        )
    except OwnedByOther as refused:
        return await _lost(draft_id, owner=refused.owner)
    if not won or item is None:
        return await _lost(draft_id)
    question = await question_in_context(conversation.id, draft.message.id, draft.message.text)
    await call_learner(learn, LearnedExample(
        question=question, answer=text, conversation_id=conversation.id,
        draft_id=draft_id, agent=agent, action=str(status), channel=conversation.channel,
        edit_ratio=ratio,
        # Sent as drafted: the answer rests on the draft's article, so retrieval treats the
        # two as one source rather than rivals (an edit may have changed the subject).
        grounded_in=None if edited else grounding_of(draft.sources or []),
    ))
    return DraftOutcome(
        won=True,
        draft_id=draft_id,
        conversation_id=conversation.id,
        status=status,
        decided_by=agent,
        decided_at=now,
        final_text=text,
        edit_ratio=ratio,
        outbox_item_id=item.id,
    )


async def reject(
    draft_id: int, *, agent: str, now: datetime, reason: str | None = None,
    on_reject: LearnFn | None = None,
) -> DraftOutcome:
    """Reject the draft; the conversation stays with humans. First decision wins.

    A rejection with a reason is remembered through ``on_reject``, so that drafts for close
    questions lose confidence and are not auto-sent.
    """
    draft = await _load(draft_id)
    reason = (reason or "").strip() or None
    conversation = draft.conversation
    try:
        won, _ = await drafts.decide(
            draft, status=DraftStatus.REJECTED, agent=agent, now=now,
            signal=Signal(
                draft_id=draft_id, conversation_id=conversation.id,
                channel=conversation.channel, action=LearningAction.REJECTED, agent=agent,
                original_text=draft.text, seconds_to_decision=seconds_since(draft.created_at, now),
                confidence=draft.confidence, reason=reason,
            ),
        )
    except OwnedByOther as refused:
        return await _lost(draft_id, owner=refused.owner)
    if not won:
        return await _lost(draft_id)
    if reason:
        question = await question_in_context(conversation.id, draft.message.id,
                                             draft.message.text)
        await call_learner(on_reject, LearnedExample(
            question=question, answer=reason, conversation_id=conversation.id,
            draft_id=draft_id, agent=agent, action="rejected", channel=conversation.channel,
            rejected_text=draft.text,
        ))
    return DraftOutcome(
        won=True,
        draft_id=draft_id,
        conversation_id=conversation.id,
        status=DraftStatus.REJECTED,
        decided_by=agent,
        decided_at=now,
        reason=reason,
    )
