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
from dataclasses import dataclass
from typing import Any

from bot.domain import Channel, Decision
from bot.flow.router import Router
from bot.pipeline.drafting.offline import strip_salutations
from bot.pipeline.learning import edit_ratio
from bot.store import runtime
from bot.store.answers import DecidedAnswer as ReplayCase
from bot.store.answers import decided_answers
from config import Settings

# A new draft "agrees" with the agent when this much of the text survives (1 − edit ratio)
# or the meaning is this close (MiniLM cosine); an auto-send that agrees with neither was wrong.
SIMILAR_TEXT = 0.6
SIMILAR_COSINE = 0.85

#: The cases a replay replays: what agents finally sent, per customer message.
load_cases = decided_answers

EmbedFn = Callable[[Sequence[str]], Awaitable[list[list[float]]]]


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


async def current_auto_policy(settings: Settings) -> tuple[float | None, frozenset[str]]:
    """The auto-send threshold in force and the channels where auto-send is paused: what the
    router would use (read through the same store functions)."""
    return (await runtime.auto_send_threshold(settings.auto_send_threshold),
            await runtime.paused_channels())


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
    what_if = analyser.what_if(auto_send_threshold=auto_send_threshold,
                               paused=frozenset(paused_channels))
    results = []
    for case in cases:
        analysis = await analyser.analyse(
            case.question,
            subject=case.subject,
            channel=Channel(case.channel),
            history=case.history,
            facts=what_if,
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
