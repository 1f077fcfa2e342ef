"""Decisions on a draft: approve (as written or edited) and reject.

The first decision wins through a conditional ``UPDATE … WHERE status = 'pending'``; the
winner queues the reply through ``deliver`` and writes its ``LearningSignal`` in the same
transaction, and hands the answer (or the rejection reason) to the hook after the commit.
"""

from __future__ import annotations

from datetime import datetime

from tortoise.transactions import in_transaction

from bot.flow.decisions.outcomes import DecisionError, DeliverFn, DraftOutcome
from bot.flow.decisions.signals import call_learner, seconds_since
from bot.pipeline.learning import LearnFn, LearningAction, edit_ratio, grounding_of, is_edited
from bot.store.models import Conversation, ConversationStatus, Draft, DraftStatus, LearningSignal


async def _load_draft(draft_id: int) -> Draft:
    draft = await Draft.get_or_none(id=draft_id).prefetch_related("conversation", "message")
    if draft is None:
        raise DecisionError(f"draft {draft_id} does not exist")
    return draft


def _lost(draft: Draft) -> DraftOutcome:
    return DraftOutcome(
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
    """Send the draft (or the agent's ``final_text``) to the customer; first decision wins."""
    draft = await _load_draft(draft_id)
    text = draft.text if final_text is None else final_text
    if not text.strip():
        raise DecisionError("the reply is empty")
    edited = final_text is not None and is_edited(draft.text, final_text)
    status = DraftStatus.EDITED if edited else DraftStatus.APPROVED
    ratio = edit_ratio(draft.text, text) if draft.text else None
    conversation: Conversation = draft.conversation
    async with in_transaction():
        won = await Draft.filter(id=draft_id, status=DraftStatus.PENDING).update(
            status=status, decided_by=agent, decided_at=now, final_text=text
        )
        if not won:
            return _lost(await _load_draft(draft_id))
        item = await deliver(
            conversation_id=conversation.id,
            text=text,
            decided_by=agent,
            draft_id=draft_id,
            auto=False,
        )
        await LearningSignal.create(
            draft_id=draft_id,
            conversation_id=conversation.id,
            channel=conversation.channel,
            action=LearningAction.EDITED if edited else LearningAction.APPROVED,
            agent=agent,
            original_text=draft.text,
            final_text=text,
            edit_ratio=ratio if draft.text else None,
            seconds_to_decision=seconds_since(draft.created_at, now),
            confidence=draft.confidence,
        )
    await call_learner(
        learn,
        draft.message.text,
        text,
        {
            "conversation_id": conversation.id,
            "draft_id": draft_id,
            "agent": agent,
            "action": str(status),
            "channel": conversation.channel,
            "edit_ratio": ratio,
            # Sent as drafted: the answer rests on the draft's article, so retrieval treats
            # the two as one source rather than rivals (an edit may have changed the subject).
            "grounded_in": None if edited else grounding_of(draft.sources or []),
        },
    )
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

    A rejection with a reason is remembered through ``on_reject(question, reason, meta)``, so
    that drafts for close questions lose confidence and are not auto-sent.
    """
    draft = await _load_draft(draft_id)
    reason = (reason or "").strip() or None
    async with in_transaction():
        won = await Draft.filter(id=draft_id, status=DraftStatus.PENDING).update(
            status=DraftStatus.REJECTED, decided_by=agent, decided_at=now
        )
        if not won:
            return _lost(await _load_draft(draft_id))
        await LearningSignal.create(
            draft_id=draft_id,
            conversation_id=draft.conversation.id,
            channel=draft.conversation.channel,
            action=LearningAction.REJECTED,
            agent=agent,
            original_text=draft.text,
            seconds_to_decision=seconds_since(draft.created_at, now),
            confidence=draft.confidence,
            reason=reason,
        )
        await Conversation.filter(id=draft.conversation.id).update(status=ConversationStatus.HUMAN)
    if reason:
        await call_learner(on_reject, draft.message.text, reason,
                           {"draft_id": draft_id, "agent": agent, "action": "rejected",
                            "conversation_id": draft.conversation.id,
                            "rejected_text": draft.text})
    return DraftOutcome(
        won=True,
        draft_id=draft_id,
        conversation_id=draft.conversation.id,
        status=DraftStatus.REJECTED,
        decided_by=agent,
        decided_at=now,
        reason=reason,
    )
