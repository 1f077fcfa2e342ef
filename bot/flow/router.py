"""The conversation router: one accepted customer message in, one visible decision out.

``process`` loads the facts (the message, its conversation, automatic replies so far), calls
``analyse`` (triage → retrieve → draft → confidence → ``decide()``), which ``supportbot ask``,
``POST /api/ask`` and the evaluations call too, and stores the result through ``bot.store``:
outbox (auto), approval card (review) or human-only card (escalated).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from datetime import timedelta
from typing import TYPE_CHECKING, Any, Protocol

from bot import telemetry
from bot.clock import Clock, utcnow
from bot.domain import Channel, ConversationStatus, Decision, DraftResult, Passage
from bot.flow.facts import (
    ConversationFacts,
    FactSource,
    FixedFacts,
    StoredFacts,
    conversation_facts,
)
from bot.pipeline.confidence import (
    Calibration,
    Confidence,
    precedent_agreement,
    score_confidence,
)
from bot.pipeline.decide import (
    DecisionFacts,
    EarningRule,
    PolicyDecision,
    decide,
    rejection_reason,
)
from bot.pipeline.disclosure import disclose
from bot.pipeline.drafting import Drafter, DraftRequest
from bot.pipeline.earning import TopicRecord, topic_of
from bot.pipeline.intent_reader import IntentReader
from bot.pipeline.questions import RetrievalPlan, plan_retrieval
from bot.pipeline.reading import Reading, combine
from bot.pipeline.redact import redact
from bot.pipeline.retrieval import KnowledgeRetriever, Retriever, passage_from_hit, retrieve
from bot.pipeline.triage import Flag, Triage, triage
from bot.ports import ApprovalNotifier
from bot.store import conversations, drafts
from bot.store import outbox as outbox_store
from bot.store.drafts import EnqueueFn, NewDraft
from config import Settings

if TYPE_CHECKING:
    from bot.store.models import Conversation, Draft

log = logging.getLogger(__name__)

HISTORY_TURNS = 6
# A decided question at least this close (MiniLM cosine: the same subject, not yet the same
# question) is a precedent for learned agreement; a farther one changes nothing. A rejection
# nearer than any approved answer makes learned agreement 0.
# Only from ``topic_cosine`` on is it named on the card and does it block auto-send. Chosen with
# the prequential routing eval (``supportbot eval routing --learn``): 0.5 and 0.6 score alike.
RELATED_COSINE = 0.5


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
    facts: DecisionFacts
    topic: TopicRecord | None = None
    #: The draft's topic (the close learned answer's id), whether or not its record was read.
    topic_id: str | None = None
    #: Triage's reading combined with the drafter's (the stricter wins).
    reading: Reading | None = None

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
            "triage": _triage_json(self.triage, self.reading),
            "timings_ms": self.timings_ms,
        }


def _triage_json(flags: Triage, reading: Reading | None = None) -> dict[str, Any]:
    names = {f.value for f in flags.flags}
    data: dict[str, Any] = {
        "language": flags.language,
        "frustration": round(flags.frustration, 3),
        "findings": [{"flag": f.flag.value, "signal": f.signal, "reason": f.reason}
                     for f in flags.findings],
    }
    if reading is not None:
        # The card shows the combined reading: the language replies use, the higher urgency.
        data["language"] = reading.language
        data["reading"] = reading.to_json()
        if reading.urgent:
            names.add(Flag.URGENT.value)
        if reading.wants_human:
            names.add(Flag.WANTS_HUMAN.value)
    data["flags"] = sorted(names)
    return data


def source_json(p: Passage) -> dict[str, Any]:
    """A passage as a draft stores it in ``Draft.sources`` (and ``ask --json`` shows it)."""
    source = {"source_id": p.source_id, "title": p.title, "score": round(p.score, 4),
              "kind": p.kind, "url": p.url}
    if p.grounded_in:
        source["grounded_in"] = p.grounded_in  # a learned answer's KB article
    if p.sections:
        # What the drafter read: the card names these sections, the text is kept for review.
        source["sections"] = [{"heading_path": list(s.heading_path), "position": s.position}
                              for s in p.sections]
        source["text"] = p.text
    return source




@dataclass(frozen=True, slots=True)
class _Context:
    """A conversation as routing its next message sees it."""

    channel: Channel
    subject: str | None
    customer_name: str | None
    history: tuple[tuple[str, str], ...]
    facts: ConversationFacts


class Calibrated(Protocol):
    """Where the current confidence calibration lives (``bot.flow.calibration.Calibrator``)."""

    @property
    def current(self) -> Calibration | None: ...


def _review_reasons(metadata: Mapping[str, Any] | None) -> tuple[str, ...]:
    """Reasons a channel put in the message metadata for a person to look first."""
    reasons = (metadata or {}).get("review_reasons")
    return tuple(str(r) for r in reasons) if isinstance(reasons, list) else ()


class Router:
    """Routes accepted messages; see the module docstring."""

    def __init__(
        self,
        *,
        settings: Settings,
        knowledge: KnowledgeRetriever | None,
        learned: Retriever | None,
        drafter: Drafter,
        notifier: ApprovalNotifier,
        clock: Clock = utcnow,
        enqueue: EnqueueFn = outbox_store.enqueue_reply,
        calibration: Calibrated | None = None,
        rejected: Retriever | None = None,
        facts: FactSource | None = None,
        intent_reader: IntentReader | None = None,
    ) -> None:
        self._calibration = calibration
        # The semantic second reading of triage; needs the embedding model, so it is wired
        # where one is loaded (``bot.app``) and triage stays pattern-only without it.
        self._intent_reader = intent_reader
        self._settings = settings
        self._knowledge = knowledge
        self._learned = learned
        self._rejected = rejected
        self._drafter = drafter
        self._notifier = notifier
        self._clock = clock
        self._enqueue = enqueue
        self._facts: FactSource = facts or StoredFacts(settings=settings)
        # The drafter's last known trouble: the approval channel hears of a change only.
        self._drafter_problem: str | None = None

    def what_if(self, *, auto_send_threshold: float | None,
                paused: frozenset[str] = frozenset()) -> FactSource:
        """Facts for "which drafts would threshold T send" (``supportbot eval replay``): this
        router's topic records, another threshold and paused channels, no earning gate."""
        return FixedFacts(auto_send_threshold=auto_send_threshold, paused=paused,
                          topics=self._facts)

    async def analyse(
        self,
        text: str,
        *,
        subject: str | None = None,
        channel: Channel = Channel.WEBHOOK,
        customer_name: str | None = None,
        history: Sequence[tuple[str, str]] = (),
        metadata: dict[str, Any] | None = None,
        conversation: ConversationFacts | None = None,
        facts: FactSource | None = None,
    ) -> Analysis:
        """Triage, retrieve, draft, score and decide; stores nothing.

        The decision is the one production takes for this message in a conversation with
        ``conversation``'s history of automatic replies (none: a new conversation). ``facts``
        replaces the router's fact source for this call (what-if evaluations).
        """
        timings = Timings()
        with timings.stage("triage"):
            flags = triage(text, subject, metadata or {})
            if self._intent_reader is not None:
                flags = await asyncio.to_thread(self._intent_reader.apply, flags, text)
        plan = plan_retrieval(redact(text), subject=redact(subject) if subject else None,
                              history=[(d, redact(t)) for d, t in history])
        with timings.stage("retrieve"):
            # One cached query embedding serves the searches of the same query; run together.
            passages, rejection = await asyncio.gather(
                self._retrieve(plan), self._related_rejection(plan.queries[0]))
        request = DraftRequest(
            customer_text=text,
            subject=subject,
            history=tuple(history),
            passages=tuple(passages),
            customer_name=customer_name,
            channel=channel.value,
            brand_name=self._settings.brand_name,
            language=getattr(flags, "language", None),
            questions=plan.questions if len(plan.questions) > 1 else (),
            injection=tuple(f"{f.signal}: {f.reason}" for f in flags.findings
                            if f.flag is Flag.PROMPT_INJECTION),
        )
        with timings.stage("draft"):
            draft = await self._drafter.draft(request)
        telemetry.LLM_LATENCY.labels(draft.model).observe(timings.ms["draft"] / 1000)
        for kind, count in (("input", draft.input_tokens), ("output", draft.output_tokens),
                            ("cache_read", draft.cache_read_tokens),
                            ("cache_creation", draft.cache_creation_tokens)):
            if count:
                telemetry.LLM_TOKENS.labels(draft.model, kind).inc(count)
        # Only precedents about the same subject speak to this draft: an unrelated approved
        # answer changes nothing, a close rejection is the strongest disagreement, and so is a
        # rejection standing on the draft's topic (however differently it was worded).
        source = facts or self._facts
        topic = topic_of(passages, min_cosine=self._settings.topic_cosine)
        on_topic = await source.topic_rejection(topic[0]) if topic is not None else None
        same_topic = RELATED_COSINE
        agreement = precedent_agreement([p for p in passages if p.kind == "learned"],
                                        rejection, same_topic=same_topic,
                                        topic_rejected=on_topic is not None)
        close_rejection = (rejection if rejection is not None
                           and rejection.similarity >= self._settings.topic_cosine else None)
        with timings.stage("score"):
            confidence = score_confidence(
                passages=passages, draft=draft, learned_agreement=agreement, triage=flags,
                question=text, calibration=self._calibration.current if self._calibration
                else None, same_topic=same_topic,
            )
        now = self._clock()
        quoted: list[str] = []
        if on_topic is not None:
            # First, so the card shows it whatever else it has to say.
            quoted.append(on_topic.describe(now))
        if close_rejection is not None:
            quoted.append(rejection_reason(close_rejection))
        elif agreement == 0.0 and rejection is not None and on_topic is None:
            # A related (not close) rejection lowered confidence: quote it, with its closeness.
            quoted.append(f"a related question ({rejection.similarity:.2f}) was rejected: "
                          f"{rejection.text[:200]}")
        if quoted:
            confidence = replace(confidence, reasons=[*quoted, *confidence.reasons])
        reading = combine(flags, draft.reading)
        decision_facts, record = await self._decision_facts(
            source, channel, conversation or ConversationFacts(), close_rejection,
            topic, _review_reasons(metadata))
        decision_facts = replace(decision_facts, topic_rejection=on_topic, now=now,
                                 reading=reading)
        with timings.stage("decide"):
            policy = decide(confidence=confidence, triage=flags, draft=draft, passages=passages,
                            facts=decision_facts)
        return Analysis(flags, passages, draft, confidence, policy, timings.ms, decision_facts,
                        record, topic[0] if topic else None, reading)

    async def _decision_facts(
        self, source: FactSource, channel: Channel, conversation: ConversationFacts,
        rejection: Passage | None, topic: tuple[str, str] | None,
        needs_review: tuple[str, ...] = (),
    ) -> tuple[DecisionFacts, TopicRecord | None]:
        s = self._settings
        threshold = await source.auto_send_threshold()
        paused = channel.value in await source.paused_channels()
        rule = EarningRule(s.earn_min_approvals, s.earn_min_rate) if source.earning \
            else EarningRule()
        record = None
        if threshold is not None and topic is not None:
            # Only read when it can matter: with auto-send off no record changes a decision.
            # Read even without an earning rule: an agent may have stopped the topic.
            record = await source.topic(*topic)
        return DecisionFacts(
            auto_send_threshold=threshold,
            human_threshold=s.human_threshold,
            coverage_floor=s.coverage_floor,
            channel_paused=paused,
            rejection=rejection,
            auto_replies_in_conversation=conversation.auto_replies,
            conversation_cap=s.auto_reply_cap_per_conversation,
            auto_replies_to_customer_today=conversation.customer_auto_replies_today,
            customer_daily_cap=s.auto_reply_cap_per_sender_daily,
            earning=rule,
            topic=record,
            needs_review=needs_review,
        ), record

    async def _related_rejection(self, query: str) -> Passage | None:
        if self._rejected is None:
            return None
        hits = [passage_from_hit(h) for h in await self._rejected.search(query, limit=1)]
        if hits and hits[0].similarity >= RELATED_COSINE:
            return hits[0]
        return None

    async def _retrieve(self, plan: RetrievalPlan) -> list[Passage]:
        return await retrieve(plan, knowledge=self._knowledge, learned=self._learned,
                              budget_tokens=self._settings.context_tokens,
                              max_articles=self._settings.context_articles)

    async def ask(self, text: str, *, subject: str | None = None,
                  conversation_id: int | None = None) -> Analysis:
        """What production would decide for ``text``, storing nothing: as the first message of
        a new conversation, or as the next message of ``conversation_id`` (its history and its
        automatic replies so far count as they would). ``supportbot ask`` and ``/api/ask``."""
        if conversation_id is None:
            return await self.analyse(text, subject=subject)
        conversation = await conversations.with_customer(conversation_id)
        if conversation is None:
            raise LookupError(f"conversation {conversation_id} does not exist")
        context = await self._context(conversation, before=None)
        return await self.analyse(text, subject=subject or context.subject,
                                  channel=context.channel, customer_name=context.customer_name,
                                  history=context.history, conversation=context.facts)

    async def _watch_drafter(self, draft: DraftResult) -> None:
        """Tell the approval channel once when drafting with the LLM starts failing (after
        its retries; the card carries the offline draft) and once when it works again.
        Per process: with several workers each says it once."""
        if draft.error is not None and self._drafter_problem is None:
            self._drafter_problem = draft.error
            telemetry.DRAFTER_FAILING.set(1)
            await self._notifier.drafter_status(draft.error)
        elif draft.error is None and not draft.offline and self._drafter_problem is not None:
            self._drafter_problem = None
            telemetry.DRAFTER_FAILING.set(0)
            await self._notifier.drafter_status(None)

    async def _context(self, conversation: Conversation, *, before: int | None) -> _Context:
        """What a conversation contributes to routing its next message."""
        customer = conversation.customer
        facts = await conversation_facts(
            conversation.id, auto_replies=conversation.auto_replies,
            customer_id=conversation.customer_id,  # type: ignore[attr-defined]
            since=self._clock() - timedelta(days=1),
        )
        return _Context(
            channel=Channel(conversation.channel),
            subject=conversation.subject,
            customer_name=customer.name if customer else None,
            history=tuple(await conversations.history(conversation.id, before=before,
                                                      turns=HISTORY_TURNS)),
            facts=facts,
        )

    async def process(self, message_id: int) -> Draft | None:
        """Route one stored customer message: load its facts, analyse, store the result.

        Returns the draft, or None when none is due (a suppressed message, a conversation
        humans hold).
        """
        message = await conversations.message(message_id)
        if message is None:
            raise LookupError(f"message {message_id} does not exist")
        conversation = message.conversation
        if message.suppress_reply:
            log.info("conversation %s: message %s not answered (%s)", conversation.id,
                     message.id, message.suppress_reply)
            await conversations.count_suppressed(conversation.id, message.suppress_reply)
            return None
        if conversation.status == ConversationStatus.HUMAN:
            await self._notifier.customer_followup(message.id)
            return None
        if triage(message.text).acknowledgement:
            # "Thanks, that worked!": no draft, no card, no LLM call. The conversation stays
            # answered (a pending draft for an earlier question stays pending).
            log.info("conversation %s: message %s is an acknowledgement; closed quietly",
                     conversation.id, message.id)
            if conversation.status != ConversationStatus.AWAITING_APPROVAL:
                await conversations.mark_answered(conversation.id)
            return None
        if conversation.status == ConversationStatus.AWAITING_APPROVAL:
            # Only then can a draft be pending.
            for draft_id in await drafts.supersede_pending(conversation.id, now=self._clock()):
                await self._notifier.draft_superseded(draft_id)

        context = await self._context(conversation, before=message.id)
        timings_start = time.perf_counter()
        analysis = await self.analyse(
            message.text,
            subject=context.subject,
            channel=context.channel,
            customer_name=context.customer_name,
            history=context.history,
            metadata=dict(message.metadata),
            conversation=context.facts,
        )
        await self._watch_drafter(analysis.draft)
        decision = analysis.policy.decision
        timings = dict(analysis.timings_ms)
        timings["total"] = round((time.perf_counter() - timings_start) * 1000, 3)
        reply = analysis.draft.reply
        if decision is Decision.AUTO:
            # Says it was written automatically and that replying "human" reaches a person.
            language = (analysis.reading.language if analysis.reading is not None
                        else analysis.triage.language)
            reply = disclose(reply, self._settings.auto_disclosure, language)
        draft = await drafts.record(
            NewDraft(
                conversation_id=conversation.id,
                message_id=message.id,
                text=reply,
                confidence=analysis.confidence.value,
                decision=decision,
                signals=dict(analysis.confidence.parts),
                reasons=[*analysis.confidence.reasons, *analysis.policy.reasons],
                sources=[source_json(p) for p in analysis.passages],
                triage=_triage_json(analysis.triage, analysis.reading),
                timings_ms=timings,
                model=analysis.draft.model,
                offline=analysis.draft.offline,
                input_tokens=analysis.draft.input_tokens,
                output_tokens=analysis.draft.output_tokens,
                cache_read_tokens=analysis.draft.cache_read_tokens,
                cache_creation_tokens=analysis.draft.cache_creation_tokens,
                error=analysis.draft.error,
                topic=analysis.topic_id,
            ),
            channel=conversation.channel, now=self._clock(), enqueue=self._enqueue,
        )
        if decision in (Decision.REVIEW, Decision.HUMAN):
            await self._notifier.draft_ready(draft.id)
        elif decision is Decision.AUTO:
            await self._notifier.auto_sent(draft.id)
        telemetry.DECISIONS.labels(decision.value).inc()
        log.info("conversation %s: draft %s %s (confidence %.2f)", conversation.id, draft.id,
                 decision.value, analysis.confidence.value)
        return draft
