"""What agents finally sent, per customer message: the cases ``supportbot eval replay`` replays."""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime

from bot.domain import Direction, DraftStatus
from bot.store.conversations import history
from bot.store.models import Draft, LearningSignal, Message

HISTORY_TURNS = 6  # as the router: the drafter sees the last six turns


@dataclass(frozen=True, slots=True)
class DecidedAnswer:
    """A customer message and the answer an agent finally sent for it."""

    conversation_id: int
    message_id: int
    channel: str
    subject: str | None
    question: str
    sent: str
    source: str  # "approved" | "edited" | "manual"
    decided_at: datetime | None
    history: tuple[tuple[str, str], ...] = ()


async def decided_answers(
    *, since: datetime | None = None, limit: int | None = None
) -> list[DecidedAnswer]:
    """Customer messages and the answers agents finally sent for them, decided since
    ``since``, oldest first; with ``limit``, the most recent ones."""
    drafts = Draft.filter(status__in=[DraftStatus.APPROVED, DraftStatus.EDITED])
    manual = LearningSignal.filter(action="manual", final_text__isnull=False)
    if since is not None:
        drafts = drafts.filter(decided_at__gte=since)
        manual = manual.filter(created_at__gte=since)
    cases: list[DecidedAnswer] = []
    for draft in await drafts.prefetch_related("message", "conversation"):
        message, conversation = draft.message, draft.conversation
        cases.append(
            DecidedAnswer(
                conversation.id,
                message.id,
                conversation.channel,
                conversation.subject,
                message.text,
                draft.final_text or draft.text,
                str(draft.status),
                draft.decided_at,
            )
        )
    for signal in await manual:
        question = await (
            Message.filter(
                conversation_id=signal.conversation_id,
                direction=Direction.IN,
                created_at__lte=signal.created_at,
            )
            .order_by("-id")
            .prefetch_related("conversation")
            .first()
        )
        if question is None or not signal.final_text:
            continue  # an agent wrote first: there is no customer question to replay
        conversation = question.conversation
        cases.append(
            DecidedAnswer(
                conversation.id,
                question.id,
                conversation.channel,
                conversation.subject,
                question.text,
                signal.final_text,
                "manual",
                signal.created_at,
            )
        )
    cases.sort(key=lambda c: (c.decided_at is None, c.decided_at or datetime.min, c.message_id))
    if limit is not None:
        cases = cases[-limit:] if limit > 0 else []
    return [replace(c, history=tuple(await history(c.conversation_id, before=c.message_id,
                                                   turns=HISTORY_TURNS)))
            for c in cases]
