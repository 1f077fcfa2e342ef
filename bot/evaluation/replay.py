"""Replay evaluation: what would today's knowledge, prompts and settings have answered?

A case is a customer message that got a final human-sent answer: a draft approved or edited
(its ``final_text``), or an agent's manual reply (a ``LearningSignal`` of action ``manual``,
answering the last customer message before it). Each case goes through ``Router.analyse``
again — nothing is stored or sent — and the new draft is compared with what the agent sent:
text similarity of the bodies without greeting and sign-off (1 − edit ratio, difflib),
embedding cosine when an ``embed`` function is
given, whether it would have been sent automatically at the current threshold, and whether
that automatic send would have been wrong (it disagrees with the agent's answer).
"""

from __future__ import annotations

import math
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from bot.domain import Channel, Decision
from bot.flow.router import AUTO_SEND_KEY, PAUSED_CHANNELS_KEY, Router
from bot.pipeline.drafting.offline import strip_salutations
from bot.pipeline.learning import edit_ratio
from bot.store import kv
from bot.store.models import Draft, DraftStatus, LearningSignal, Message
from config import Settings

# A new draft "agrees" with the agent when this much of the text survives (1 − edit ratio)
# or the meaning is this close (MiniLM cosine); an auto-send that agrees with neither was wrong.
SIMILAR_TEXT = 0.6
SIMILAR_COSINE = 0.85
_HISTORY_TURNS = 6  # as the router: the drafter sees the last six turns

EmbedFn = Callable[[Sequence[str]], Awaitable[list[list[float]]]]


@dataclass(frozen=True, slots=True)
class ReplayCase:
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


@dataclass(frozen=True, slots=True)
class ReplayResult:
    """One replayed case: the new draft, its routing, and how it compares."""

    case: ReplayCase
    draft: str
    decision: Decision
    confidence: float
    similarity: float
    cosine: float | None
    would_auto_send: bool
    would_be_wrong: bool


async def _history(conversation_id: int, before: int) -> tuple[tuple[str, str], ...]:
    rows = await (
        Message.filter(conversation_id=conversation_id, id__lt=before)
        .exclude(direction="note")
        .order_by("-id")
        .limit(_HISTORY_TURNS)
        .values_list("direction", "text")
    )
    return tuple((str(d), str(t)) for d, t in reversed(rows))


async def load_cases(
    *, since: datetime | None = None, limit: int | None = None
) -> list[ReplayCase]:
    """Cases decided since ``since``, oldest first; with ``limit``, the most recent ones."""
    drafts = Draft.filter(status__in=[DraftStatus.APPROVED, DraftStatus.EDITED])
    manual = LearningSignal.filter(action="manual", final_text__isnull=False)
    if since is not None:
        drafts = drafts.filter(decided_at__gte=since)
        manual = manual.filter(created_at__gte=since)
    cases: list[ReplayCase] = []
    for draft in await drafts.prefetch_related("message", "conversation"):
        message, conversation = draft.message, draft.conversation
        cases.append(
            ReplayCase(
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
                direction="in",
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
            ReplayCase(
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
    return [replace(c, history=await _history(c.conversation_id, c.message_id)) for c in cases]


async def current_auto_policy(settings: Settings) -> tuple[float | None, set[str]]:
    """The auto-send threshold in force (an admin's stored value beats the setting; "off"
    disables) and the channels where auto-send is paused — what the router would use."""
    stored = await kv.get_value(AUTO_SEND_KEY, "unset")
    if stored == "unset":
        threshold = settings.auto_send_threshold
    else:
        threshold = None if stored in (None, "off") else float(stored)
    paused = {str(c) for c in (await kv.get_value(PAUSED_CHANNELS_KEY, []) or [])}
    return threshold, paused


def cosine(a: Sequence[float], b: Sequence[float]) -> float:
    """Cosine similarity of two vectors (0 when one is all zeros)."""
    dot = sum(x * y for x, y in zip(a, b, strict=True))
    norm = math.sqrt(sum(x * x for x in a)) * math.sqrt(sum(y * y for y in b))
    return dot / norm if norm else 0.0


async def replay(
    cases: Sequence[ReplayCase],
    *,
    analyser: Router,
    auto_send_threshold: float | None,
    paused_channels: set[str] | frozenset[str] = frozenset(),
    embed: EmbedFn | None = None,
) -> list[ReplayResult]:
    """Analyse every case again and compare the new draft with what was sent."""
    results = []
    for case in cases:
        analysis = await analyser.analyse(
            case.question,
            subject=case.subject,
            channel=Channel(case.channel),
            history=case.history,
            auto_send_threshold=auto_send_threshold,
            channel_allows_auto=case.channel not in paused_channels,
        )
        draft = analysis.draft.reply
        # Greetings and sign-offs differ between drafter and agent and say nothing about
        # whether the answer was right: compare the bodies.
        body, sent_body = strip_salutations(draft), strip_salutations(case.sent)
        similarity = 1.0 - edit_ratio(body, sent_body) if body else 0.0
        closeness: float | None = None
        if embed is not None and body:
            new, sent = await embed([body, sent_body])
            closeness = cosine(new, sent)
        agrees = similarity >= SIMILAR_TEXT or (
            closeness is not None and closeness >= SIMILAR_COSINE
        )
        auto = analysis.policy.decision is Decision.AUTO
        results.append(
            ReplayResult(
                case,
                draft,
                analysis.policy.decision,
                analysis.confidence.value,
                round(similarity, 4),
                None if closeness is None else round(closeness, 4),
                auto,
                auto and not agrees,
            )
        )
    return results


def summarise(
    results: Sequence[ReplayResult], *, auto_send_threshold: float | None
) -> dict[str, Any]:
    """The ``eval replay --json`` summary (the last line of its output)."""
    n = len(results)
    cosines = [r.cosine for r in results if r.cosine is not None]
    auto = sum(r.would_auto_send for r in results)
    wrong = sum(r.would_be_wrong for r in results)
    decisions: dict[str, int] = {}
    for r in results:
        decisions[r.decision.value] = decisions.get(r.decision.value, 0) + 1
    return {
        "conversations": n,
        "similarity_mean": round(sum(r.similarity for r in results) / n, 4) if n else None,
        "cosine_mean": round(sum(cosines) / len(cosines), 4) if cosines else None,
        "agreeing": sum(
            r.similarity >= SIMILAR_TEXT or (r.cosine or 0.0) >= SIMILAR_COSINE for r in results
        ),
        "would_auto_send": auto,
        "would_be_wrong": wrong,
        "auto_send_rate": round(auto / n, 4) if n else 0.0,
        "wrong_rate": round(wrong / auto, 4) if auto else 0.0,
        "auto_send_threshold": auto_send_threshold,
        "decisions": decisions,
    }


def format_table(results: Sequence[ReplayResult], summary: dict[str, Any]) -> str:
    """One line per case, then the summary."""
    lines = [
        f"{'conv':>6} {'source':<8} {'decision':<9} {'conf':>5} {'sim':>5} {'cos':>5}  question"
    ]
    for r in results:
        cos = "  -  " if r.cosine is None else f"{r.cosine:5.2f}"
        flag = " WRONG" if r.would_be_wrong else ""
        question = " ".join(r.case.question.split())[:50]
        lines.append(
            f"{r.case.conversation_id:>6} {r.case.source:<8} {r.decision.value:<9} "
            f"{r.confidence:5.2f} {r.similarity:5.2f} {cos}  {question}{flag}"
        )
    threshold = summary["auto_send_threshold"]
    lines.append(
        f"{summary['conversations']} replayed; mean similarity {summary['similarity_mean']}, "
        f"mean cosine {summary['cosine_mean']}; would auto-send {summary['would_auto_send']} "
        f"(threshold {'off' if threshold is None else threshold}), of which wrong "
        f"{summary['would_be_wrong']}"
    )
    return "\n".join(lines)
