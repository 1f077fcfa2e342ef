"""The one decider: what happens to a draft — sent automatically, reviewed, or handed to a human.

``decide()`` receives every fact it needs as plain values (``DecisionFacts``: thresholds, the
channel's pause, the close rejection precedent, the auto-reply caps, the topic's earned record)
and returns the decision with all its reasons. Production (``bot.flow.router``), ``supportbot
ask``, ``POST /api/ask`` and the evaluation commands all call it; nothing else decides.

Rules (DESIGN.md, "Confidence and policy"):

* ``SUPPRESSED`` when triage recognised an auto-reply (answering it would start a mail loop) or
  an acknowledgement alone ("Thanks, that worked!": nothing to answer, the conversation stays
  answered).
* ``HUMAN`` when triage escalates (angry, legal, account action, prompt injection), when the
  drafter's reading does (it read that the customer wants a person or is angry: the stricter
  of the two readings wins, ``bot.pipeline.reading``), when no passage reaches the grounding
  floor, when the passages the draft used leave the question's subject uncovered (out of
  scope: less than ``coverage_floor`` of its subject words), when the drafter failed or asked
  for a human, when the reply is empty, or when confidence is below the human threshold.
* ``AUTO`` only when auto-send is on (threshold not None), confidence reaches it, the
  channel allows it, the draft cites passages we retrieved, and every URL, e-mail address
  and number in it appears in those cited passages, and every commitment it makes (refund,
  credit, cancellation, deadline, policy claim) is stated by them and it claims no action
  taken (``bot.pipeline.commitments``); and then only when no agent rejected a
  draft for a close question or (as their last word on it) for the draft's topic, the
  conversation's and the customer's automatic replies are under their caps, and (when
  earning is required) the draft's topic has earned auto-send.
* ``REVIEW`` otherwise. Every decision carries the reasons for it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime

from bot.domain import Decision, DraftResult, Passage
from bot.pipeline.commitments import unbacked_commitments
from bot.pipeline.confidence import Confidence
from bot.pipeline.drafting.base import retrieval_score
from bot.pipeline.earning import TopicRecord, TopicRejection
from bot.pipeline.grounding import ungrounded_tokens
from bot.pipeline.reading import Reading
from bot.pipeline.triage import Flag, Triage


@dataclass(frozen=True, slots=True)
class EarningRule:
    """How a topic earns auto-send (settings): ``min_approvals`` 0 means it need not."""

    min_approvals: int = 0
    min_rate: float = 0.0


@dataclass(frozen=True, slots=True)
class DecisionFacts:
    """Every fact ``decide()`` needs besides the draft, its passages, triage and confidence.

    ``rejection`` is the nearest question agents rejected a draft for, given only when it is
    close enough to count (the router compares it with the topic cosine). ``topic`` is the
    draft's topic record (None: the draft belongs to no topic yet). Caps of None are off.
    """

    auto_send_threshold: float | None
    human_threshold: float
    channel_paused: bool = False
    grounding_floor: float = 0.3
    # Out of scope: the passages the draft used hold less than this share of the question's
    # subject words (confidence part ``coverage``); 0 turns the check off.
    coverage_floor: float = 0.0
    rejection: Passage | None = None
    auto_replies_in_conversation: int = 0
    conversation_cap: int | None = None
    auto_replies_to_customer_today: int = 0
    customer_daily_cap: int | None = None
    earning: EarningRule = field(default_factory=EarningRule)
    topic: TopicRecord | None = None
    # Why the channel wants a person to look before anything is sent (an e-mail from someone
    # who is not the conversation's customer); any reason here rules out auto-send.
    needs_review: tuple[str, ...] = ()
    #: Agents' last word on the draft's topic is this rejection: no draft of the topic is sent
    #: automatically until an agent approves one again. ``now`` dates it on the card.
    topic_rejection: TopicRejection | None = None
    now: datetime | None = None
    # Triage's reading combined with the drafter's (bot.pipeline.reading): what the drafter's
    # reading adds (it wants a human, it is angry) escalates like triage's own flags.
    reading: Reading | None = None


@dataclass(frozen=True, slots=True)
class PolicyDecision:
    """The decision and the human-readable reasons behind it."""

    decision: Decision
    reasons: list[str] = field(default_factory=list)


def decide(
    *,
    confidence: Confidence,
    triage: Triage,
    draft: DraftResult,
    passages: Sequence[Passage],
    facts: DecisionFacts,
) -> PolicyDecision:
    """Decide what happens to ``draft``; see the module docstring for the rules."""
    if triage.auto_reply:
        return PolicyDecision(
            Decision.SUPPRESSED, [f"auto-reply: {r}" for r in triage.reasons(Flag.AUTO_REPLY)]
        )
    if triage.acknowledgement:
        return PolicyDecision(
            Decision.SUPPRESSED,
            [f"acknowledgement: {r}" for r in triage.reasons(Flag.ACKNOWLEDGEMENT)])

    human: list[str] = list(triage.escalation_reasons)
    if facts.reading is not None:
        human.extend(facts.reading.escalations)
    floor = facts.grounding_floor
    best = max((retrieval_score(p) for p in passages), default=None)
    if best is None:
        human.append("no grounding: no knowledge passage was found")
    elif best < floor:
        human.append(f"no grounding: best passage score {best:.2f} < {floor:.2f}")
    coverage = confidence.parts.get("coverage")
    if best is not None and coverage is not None and coverage < facts.coverage_floor:
        human.append(f"out of scope: the passages used hold {coverage:.0%} of the question's "
                     f"subject words (< {facts.coverage_floor:.0%})")
    if draft.error is not None:
        human.append(f"drafter error: {draft.error}")
    elif draft.needs_human:
        human.append(f"drafter asked for a human: {draft.reason or 'no reason given'}")
    elif not draft.reply.strip():
        human.append("the draft is empty")
    if confidence.value < facts.human_threshold:
        human.append(f"confidence {confidence.value:.2f} < human threshold "
                     f"{facts.human_threshold:.2f}")
    if human:
        return PolicyDecision(Decision.HUMAN, human)

    blockers = _auto_blockers(confidence, draft, passages, not facts.channel_paused,
                              facts.auto_send_threshold)
    if blockers:
        return PolicyDecision(Decision.REVIEW, blockers)
    assert facts.auto_send_threshold is not None  # no blockers: auto-send is on
    reasons = [
        f"confidence {confidence.value:.2f} ≥ auto-send threshold "
        f"{facts.auto_send_threshold:.2f}",
        f"grounded in {', '.join(draft.cited_sources)}",
    ]
    held = _precedent_and_caps(facts)
    if held:
        return PolicyDecision(Decision.REVIEW, [*reasons, *held])
    return PolicyDecision(Decision.AUTO, reasons)


def rejection_reason(rejection: Passage) -> str:
    """How a close rejection is named on the card and in the decision."""
    return (f"an agent rejected a draft for a close question ({rejection.similarity:.2f}): "
            f"{rejection.text[:200]}")


def _precedent_and_caps(facts: DecisionFacts) -> list[str]:
    """What holds back a draft that would otherwise be sent automatically: a rejection of a
    close question, the loop-safety caps, and a topic that has not earned auto-send."""
    if facts.needs_review:
        return list(facts.needs_review)
    if facts.rejection is not None:
        return [rejection_reason(facts.rejection)]
    if facts.topic_rejection is not None:
        rejected = facts.topic_rejection
        return [rejected.describe(facts.now or rejected.rejected_at)]
    if (facts.conversation_cap is not None
            and facts.auto_replies_in_conversation >= facts.conversation_cap):
        return [f"auto-reply cap: {facts.auto_replies_in_conversation} automatic replies "
                "already in this conversation"]
    if (facts.customer_daily_cap is not None
            and facts.auto_replies_to_customer_today >= facts.customer_daily_cap):
        return [f"auto-reply cap: {facts.auto_replies_to_customer_today} automatic replies to "
                "this customer today"]
    if facts.topic is not None and facts.topic.stopped:
        return ["an agent stopped auto-send for this topic"]
    rule = facts.earning
    if rule.min_approvals > 0:
        if facts.topic is None:
            return ["auto-send not earned: no approved answer to a close question yet"]
        if not facts.topic.earned:
            return [facts.topic.describe(rule.min_approvals, rule.min_rate)]
    return []


def _auto_blockers(
    confidence: Confidence,
    draft: DraftResult,
    passages: Sequence[Passage],
    channel_allows_auto: bool,
    threshold: float | None,
) -> list[str]:
    """Why this draft may not be sent without review (empty: it may)."""
    if threshold is None:
        return ["auto-send is off"]
    blockers: list[str] = []
    if confidence.value < threshold:
        blockers.append(f"confidence {confidence.value:.2f} < auto-send threshold {threshold:.2f}")
    if not channel_allows_auto:
        blockers.append("auto-send is not allowed on this channel")
    by_id = {p.source_id: p for p in passages}
    cited = [by_id[s] for s in draft.cited_sources if s in by_id]
    if not cited:
        blockers.append("the draft cites no retrieved source")
    else:
        missing = ungrounded_tokens(draft.reply, cited)
        if missing:
            blockers.append("not in the cited sources: " + ", ".join(missing))
        for commitment in unbacked_commitments(draft.reply, [p.text for p in cited]):
            blockers.append(f"commitment: {commitment.reason}: \"{commitment.sentence[:120]}\"")
    return blockers
