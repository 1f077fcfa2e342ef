"""The conversation router: one accepted customer message in, one visible decision out.

``analyse`` is the pure-ish pipeline (triage → retrieve → draft → confidence → policy) shared by
``supportbot ask`` (nothing stored or sent) and ``process`` (the worker), which also stores the
draft with its reasons and per-stage timings and routes it: outbox (auto), approval card
(review) or human-only card (escalated).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from datetime import timedelta
from typing import Any, Protocol, cast

from tortoise.expressions import F
from tortoise.transactions import in_transaction

from bot import telemetry
from bot.clock import Clock, utcnow
from bot.domain import Channel, Decision, DraftResult, Passage
from bot.flow import outbox
from bot.flow.earning import topic_of, topic_record
from bot.pipeline.confidence import Calibration, Confidence, score_confidence
from bot.pipeline.drafting import Drafter, DraftRequest
from bot.pipeline.policy import PolicyDecision, decide
from bot.pipeline.redact import redact
from bot.pipeline.triage import Triage, triage
from bot.ports import ApprovalNotifier
from bot.store import kv
from bot.store.models import (
    Conversation,
    ConversationStatus,
    Draft,
    DraftStatus,
    LearningSignal,
    Message,
)
from config import Settings
from knowledge.types import Hit

log = logging.getLogger(__name__)

PAUSED_CHANNELS_KEY = "paused_channels"
AUTO_SEND_KEY = "auto_send_threshold"
_HISTORY_TURNS = 6
RUNTIME_SETTINGS_TTL = 2.0  # seconds an admin's /support change may take to apply
# A rejected question at least this close (MiniLM cosine: the same subject, not yet the same
# question) is a precedent: when it is nearer than any approved answer, learned agreement is 0.
# Only from ``topic_cosine`` on is it named on the card and does it block auto-send. Chosen with
# the prequential routing eval (``supportbot eval routing --learn``): 0.5 and 0.6 score alike.
RELATED_COSINE = 0.5


class Retriever(Protocol):
    """Knowledge search as the router needs it (``knowledge`` implements it)."""

    async def search(self, query: str, limit: int = 5) -> Sequence[Hit]: ...


@dataclass
class Timings:
    """Milliseconds spent in each stage, kept on the draft for benchmarks."""

    ms: dict[str, float] = field(default_factory=dict)

    @contextmanager
    def stage(self, name: str) -> Iterator[None]:
        start = time.perf_counter()
        try:
            yield
        finally:
            self.ms[name] = round((time.perf_counter() - start) * 1000, 3)


@dataclass(frozen=True)
class Analysis:
    """Everything the router concluded about one message."""

    triage: Triage
    passages: list[Passage]
    draft: DraftResult
    confidence: Confidence
    policy: PolicyDecision
    timings_ms: dict[str, float]

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready view (``supportbot ask --json``)."""
        return {
            "decision": self.policy.decision.value,
            "decision_reasons": list(self.policy.reasons),
            "draft": self.draft.reply,
            "drafter": {"model": self.draft.model, "offline": self.draft.offline,
                        "error": self.draft.error, "reason": self.draft.reason},
            "confidence": {"value": round(self.confidence.value, 4),
                           "parts": {k: (round(v, 4) if isinstance(v, float) else v)
                                     for k, v in self.confidence.parts.items()},
                           "reasons": list(self.confidence.reasons)},
            "sources": [source_json(p) for p in self.passages],
            "triage": _triage_json(self.triage),
            "timings_ms": self.timings_ms,
        }


def _triage_json(flags: Triage) -> dict[str, Any]:
    return {
        "language": flags.language,
        "frustration": round(flags.frustration, 3),
        "flags": sorted(f.value for f in flags.flags),
        "findings": [{"flag": f.flag.value, "signal": f.signal, "reason": f.reason}
                     for f in flags.findings],
    }


def source_json(p: Passage) -> dict[str, Any]:
    """A passage as a draft stores it in ``Draft.sources`` (and ``ask --json`` shows it)."""
    source = {"source_id": p.source_id, "title": p.title, "score": round(p.score, 4),
              "kind": p.kind, "url": p.url}
    if p.metadata.get("grounded_in"):
        source["grounded_in"] = p.metadata["grounded_in"]  # a learned answer's KB article
    return source



def _to_passage(hit: Hit) -> Passage:
    """A knowledge hit as the core's passage; the raw scores travel in its metadata."""
    return Passage(
        source_id=hit.doc_id,
        title=hit.title,
        text=hit.text,
        score=hit.score,
        kind=hit.kind,
        metadata={**hit.metadata, "dense_score": hit.dense_score,
                  "sparse_score": hit.sparse_score, "chunk_id": hit.chunk_id},
    )


def _cosine(passage: Passage) -> float:
    return float(passage.metadata.get("dense_score", passage.score))


def merge_sources(kb: list[Passage], learned: list[Passage]) -> list[Passage]:
    """KB passages in their fused order, with learned answers placed by question similarity.

    Both kinds carry the cosine between the customer's message and a question (a KB entry's
    best chunk, often an example question; a learned answer's stored question), so that is the
    fair comparison: an approved answer to a question closer than any KB question leads — the
    agents' own words for this exact need — and otherwise follows the KB.
    """
    best_kb = _cosine(kb[0]) if kb else 0.0
    leading = [p for p in learned if _cosine(p) >= best_kb]
    trailing = [p for p in learned if _cosine(p) < best_kb]
    return [*leading, *kb, *trailing]


class Router:
    """Routes accepted messages; see the module docstring."""

    def __init__(
        self,
        *,
        settings: Settings,
        knowledge: Retriever | None,
        learned: Retriever | None,
        drafter: Drafter,
        notifier: ApprovalNotifier,
        clock: Clock = utcnow,
        enqueue: Callable[..., Awaitable[Any]] = outbox.enqueue_reply,
        calibration: Calibration | None = None,
        rejected: Retriever | None = None,
    ) -> None:
        #: Fitted confidence weights (``bot.flow.calibration``); None means the defaults.
        self.calibration = calibration
        self._runtime_cache: dict[str, tuple[float, Any]] = {}
        self._settings = settings
        self._knowledge = knowledge
        self._learned = learned
        self._rejected = rejected
        self._drafter = drafter
        self._notifier = notifier
        self._clock = clock
        self._enqueue = enqueue

    async def analyse(
        self,
        text: str,
        *,
        subject: str | None = None,
        channel: Channel = Channel.WEBHOOK,
        customer_name: str | None = None,
        history: Sequence[tuple[str, str]] = (),
        metadata: dict[str, Any] | None = None,
        auto_send_threshold: float | None = None,
        channel_allows_auto: bool = True,
    ) -> Analysis:
        """Triage, retrieve, draft, score and decide; stores nothing."""
        timings = Timings()
        with timings.stage("triage"):
            flags = triage(text, subject, metadata or {})
        with_subject = subject and subject.lower() not in text.lower()
        query = redact(f"{subject}\n{text}" if with_subject else text)
        with timings.stage("retrieve"):
            # One cached query embedding serves all three searches; run them together.
            passages, rejection = await asyncio.gather(self._retrieve(query),
                                                       self._related_rejection(query))
        request = DraftRequest(
            customer_text=text,
            subject=subject,
            history=tuple(history),
            passages=tuple(passages),
            customer_name=customer_name,
            channel=channel.value,
            brand_name=self._settings.brand_name,
            language=getattr(flags, "language", None),
        )
        with timings.stage("draft"):
            draft = await self._drafter.draft(request)
        telemetry.LLM_LATENCY.labels(draft.model).observe(timings.ms["draft"] / 1000)
        for kind, count in (("input", draft.input_tokens), ("output", draft.output_tokens),
                            ("cache_read", draft.cache_read_tokens)):
            if count:
                telemetry.LLM_TOKENS.labels(draft.model, kind).inc(count)
        # How close the nearest question agents answered is to this one ...
        nearest = max((p for p in passages if p.kind == "learned"), key=_cosine, default=None)
        agreement = None if nearest is None else _cosine(nearest)
        if rejection is not None and (nearest is None or _cosine(rejection) >= _cosine(nearest)):
            # ... unless the nearest precedent agents decided was a rejection: the strongest
            # disagreement the learned-agreement part can express.
            agreement = 0.0
        with timings.stage("score"):
            confidence = score_confidence(
                passages=passages, draft=draft, learned_agreement=agreement, triage=flags,
                question=text, calibration=self.calibration,
            )
            policy = decide(
                confidence=confidence,
                triage=flags,
                draft=draft,
                passages=passages,
                channel_allows_auto=channel_allows_auto,
                auto_send_threshold=auto_send_threshold,
                human_threshold=self._settings.human_threshold,
            )
        if rejection is not None and _cosine(rejection) >= self._settings.topic_cosine:
            why = (f"an agent rejected a draft for a close question "
                   f"({_cosine(rejection):.2f}): {rejection.text[:200]}")
            confidence = replace(confidence, reasons=[*confidence.reasons, why])
            if policy.decision is Decision.AUTO:
                policy = PolicyDecision(Decision.REVIEW, [*policy.reasons, why])
        return Analysis(flags, passages, draft, confidence, policy, timings.ms)

    async def _related_rejection(self, query: str) -> Passage | None:
        if self._rejected is None:
            return None
        hits = [_to_passage(h) for h in await self._rejected.search(query, limit=1)]
        if hits and _cosine(hits[0]) >= RELATED_COSINE:
            return hits[0]
        return None

    async def _retrieve(self, query: str) -> list[Passage]:
        async def search(source: Retriever | None, limit: int) -> list[Passage]:
            return [] if source is None else [_to_passage(h) for h in
                                              await source.search(query, limit=limit)]

        kb, learned = await asyncio.gather(search(self._knowledge, 5), search(self._learned, 2))
        return merge_sources(kb, learned)

    async def process(self, message_id: int) -> Draft | None:
        """Route one stored customer message. Returns the draft, or None when none is due."""
        message = await Message.get(id=message_id).select_related(
            "conversation", "conversation__customer")
        conversation: Conversation = message.conversation
        if message.suppress_reply:
            log.info("conversation %s: message %s not answered (%s)", conversation.id,
                     message.id, message.suppress_reply)
            meta = dict(conversation.metadata)
            meta["suppressed"] = int(meta.get("suppressed", 0)) + 1
            meta["last_suppressed_reason"] = message.suppress_reply
            await Conversation.filter(id=conversation.id).update(metadata=meta)
            return None
        if conversation.status == ConversationStatus.HUMAN:
            await self._notifier.customer_followup(message.id)
            return None
        if conversation.status == ConversationStatus.AWAITING_APPROVAL:
            await self._supersede_pending(conversation.id)  # only then can a draft be pending

        history = await self._history(conversation.id, before=message.id)
        customer = conversation.customer
        threshold = await self._auto_threshold()
        paused = set(await self._runtime(PAUSED_CHANNELS_KEY, []) or [])
        timings_start = time.perf_counter()
        analysis = await self.analyse(
            message.text,
            subject=conversation.subject,
            channel=Channel(conversation.channel),
            customer_name=customer.name if customer else None,
            history=history,
            metadata=dict(message.metadata),
            auto_send_threshold=threshold,
            channel_allows_auto=conversation.channel not in paused,
        )
        decision = analysis.policy.decision
        reasons = [*analysis.confidence.reasons, *analysis.policy.reasons]
        topic = topic_of(analysis.passages, min_cosine=self._settings.topic_cosine)
        if decision is Decision.AUTO:
            blocker = await self._auto_reply_cap(conversation) or await self._unearned(topic)
            if blocker:
                decision = Decision.REVIEW
                reasons.append(blocker)
        timings = dict(analysis.timings_ms)
        timings["total"] = round((time.perf_counter() - timings_start) * 1000, 3)
        status = {Decision.SUPPRESSED: DraftStatus.EXPIRED}.get(decision, DraftStatus.PENDING)
        # One transaction for the decision's writes (one commit, not five): the draft, the
        # conversation's state and, when auto-sent, the outbox item and the learning signal.
        async with in_transaction():
            draft = await Draft.create(
                conversation=conversation,
                message=message,
                text=analysis.draft.reply,
                confidence=analysis.confidence.value,
                signals=dict(analysis.confidence.parts),
                reasons=reasons,
                sources=[source_json(p) for p in analysis.passages],
                decision=decision.value,
                triage=_triage_json(analysis.triage),
                timings_ms=timings,
                model=analysis.draft.model,
                offline=analysis.draft.offline,
                input_tokens=analysis.draft.input_tokens,
                output_tokens=analysis.draft.output_tokens,
                error=analysis.draft.error,
                status=status,
                topic=topic[0] if topic else None,
            )
            if decision is Decision.AUTO:
                await self._auto_send(draft, conversation)
            elif decision is not Decision.SUPPRESSED:
                await Conversation.filter(id=conversation.id).update(
                    status=ConversationStatus.AWAITING_APPROVAL
                )
        if decision in (Decision.REVIEW, Decision.HUMAN):
            await self._notifier.draft_ready(draft.id)
        telemetry.DECISIONS.labels(decision.value).inc()
        log.info("conversation %s: draft %s %s (confidence %.2f)", conversation.id, draft.id,
                 decision.value, analysis.confidence.value)
        return draft

    async def _auto_send(self, draft: Draft, conversation: Conversation) -> None:
        draft.status, draft.decided_by, draft.decided_at, draft.final_text = (
            DraftStatus.AUTO_SENT, "auto", self._clock(), draft.text)
        await draft.save(update_fields=["status", "decided_by", "decided_at", "final_text"])
        await self._enqueue(conversation_id=conversation.id, text=draft.text, decided_by="auto",
                            draft_id=draft.id, auto=True)
        await Conversation.filter(id=conversation.id).update(
            auto_replies=F("auto_replies") + 1)
        await LearningSignal.create(
            draft=draft, conversation_id=conversation.id, channel=conversation.channel,
            action="auto_sent", agent="auto", original_text=draft.text, final_text=draft.text,
            edit_ratio=0.0, seconds_to_decision=0.0, confidence=draft.confidence,
        )

    async def _unearned(self, topic: tuple[str, str] | None) -> str | None:
        """Auto-send must be earned per topic (``bot.flow.earning``); 0 approvals disables it."""
        settings = self._settings
        if settings.earn_min_approvals == 0:
            return None
        if topic is None:
            return "auto-send not earned: no approved answer to a close question yet"
        record = await topic_record(topic[0], window=settings.earn_window,
                                    min_approvals=settings.earn_min_approvals,
                                    min_rate=settings.earn_min_rate)
        if record.earned:
            return None
        return record.describe(settings.earn_min_approvals, settings.earn_min_rate)

    async def _auto_reply_cap(self, conversation: Conversation) -> str | None:
        """Loop safety: a conversation or a customer only gets so many automatic replies."""
        settings = self._settings
        if conversation.auto_replies >= settings.auto_reply_cap_per_conversation:
            return (f"auto-reply cap: {conversation.auto_replies} automatic replies already "
                    "in this conversation")
        if conversation.customer_id is not None:  # type: ignore[attr-defined]
            since = self._clock() - timedelta(days=1)
            recent = await Draft.filter(
                status=DraftStatus.AUTO_SENT, created_at__gte=since,
                conversation__customer_id=conversation.customer_id,  # type: ignore[attr-defined]
            ).count()
            if recent >= settings.auto_reply_cap_per_sender_daily:
                return f"auto-reply cap: {recent} automatic replies to this customer today"
        return None

    async def _supersede_pending(self, conversation_id: int) -> None:
        # Tortoise types values_list(flat=True) as a list of tuples; it is a list of ids.
        pending = cast("list[int]", await Draft.filter(
            conversation_id=conversation_id, status=DraftStatus.PENDING
        ).values_list("id", flat=True))
        for draft_id in pending:
            won = await Draft.filter(id=draft_id, status=DraftStatus.PENDING).update(
                status=DraftStatus.SUPERSEDED, decided_at=self._clock(), decided_by="customer"
            )
            if won:
                await self._notifier.draft_superseded(int(draft_id))

    async def _history(self, conversation_id: int, *, before: int) -> list[tuple[str, str]]:
        rows = await (
            Message.filter(conversation_id=conversation_id, id__lt=before)
            .exclude(direction="note")
            .order_by("-id")
            .limit(_HISTORY_TURNS)
            .values_list("direction", "text")
        )
        return [(str(d), str(t)) for d, t in reversed(rows)]

    async def _runtime(self, key: str, default: Any) -> Any:
        """A setting admins change from Slack, re-read at most every few seconds (not once per
        message: at tens of messages a second that is most of the database's work)."""
        now = time.monotonic()
        cached = self._runtime_cache.get(key)
        if cached is not None and now - cached[0] < RUNTIME_SETTINGS_TTL:
            return cached[1]
        value = await kv.get_value(key, default)
        self._runtime_cache[key] = (now, value)
        return value

    async def _auto_threshold(self) -> float | None:
        stored = await self._runtime(AUTO_SEND_KEY, "unset")
        if stored == "unset":
            return self._settings.auto_send_threshold
        return None if stored in (None, "off") else float(stored)
