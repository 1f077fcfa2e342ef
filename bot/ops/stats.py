"""How the support desk is doing: volumes, decision shares, edit distance, latencies.

``compute_stats`` reads the stored drafts, messages and learning signals of a window and
returns a ``Stats`` value; ``supportbot stats`` prints it (``--json``: ``Stats.to_dict()``) and
the ``/support stats`` admin command renders it with a chart.
"""

from __future__ import annotations

import re
import statistics
from collections import Counter
from dataclasses import asdict, dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

from bot.domain import DraftStatus
from bot.store import stats as rows

#: Outcome buckets of a draft, in the order the card and the chart show them.
OUTCOMES = ("auto_sent", "approved", "edited", "rejected", "human", "pending")
_WORD = re.compile(r"[a-zA-Z\u00c0-\u024f]{4,}")
# Words that say nothing about a topic; kept small on purpose (support mail is short).
_STOPWORDS = frozenset(
    "this that with from have what when where which there their about would could should "
    "please thanks thank hello dear team your yours mine just also been does doesn some "
    "into they them then than very still will help need want know like make more only "
    "here after before again other best regards cheers sent".split()
)


@dataclass(frozen=True, slots=True)
class DayPoint:
    """One day of the series drawn in the chart."""

    day: date
    inbound: int
    drafts: int
    outcomes: dict[str, int]


@dataclass(frozen=True, slots=True)
class LlmUsage:
    """What drafting with Claude cost in the window, and how well the prompt cache served it.

    ``input_tokens`` are the uncached prompt tokens (Anthropic counts cache reads and writes
    apart); ``cache_hit_rate`` is the share of all prompt tokens read from the cache (None
    without Claude drafts). ``failed`` counts drafts where Claude failed and the offline
    draft stood in (or none).
    """

    drafts: int = 0
    failed: int = 0
    input_tokens: int = 0
    output_tokens: int = 0
    cache_read_tokens: int = 0
    cache_creation_tokens: int = 0

    @property
    def prompt_tokens(self) -> int:
        return self.input_tokens + self.cache_read_tokens + self.cache_creation_tokens

    @property
    def cache_hit_rate(self) -> float | None:
        total = self.prompt_tokens
        return round(self.cache_read_tokens / total, 4) if total else None


@dataclass(frozen=True, slots=True)
class Stats:
    """The desk's figures over ``[since, until)``. Shares are fractions of all drafts."""

    since: datetime
    until: datetime
    inbound_by_channel: dict[str, int]
    drafts: int
    outcomes: dict[str, int]
    shares: dict[str, float]
    median_edit_ratio: float | None
    median_seconds_to_draft: float | None
    median_seconds_to_decision: float | None
    top_sources: list[tuple[str, int]]
    top_unanswered: list[tuple[str, int]]
    daily: list[DayPoint] = field(default_factory=list)
    llm: LlmUsage = field(default_factory=LlmUsage)

    @property
    def inbound(self) -> int:
        return sum(self.inbound_by_channel.values())

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form (``supportbot stats --json``)."""
        data = asdict(self)
        data["since"] = self.since.isoformat()
        data["until"] = self.until.isoformat()
        data["inbound"] = self.inbound
        data["llm"] = {**asdict(self.llm), "prompt_tokens": self.llm.prompt_tokens,
                       "cache_hit_rate": self.llm.cache_hit_rate}
        data["top_sources"] = [{"source": s, "count": n} for s, n in self.top_sources]
        data["top_unanswered"] = [{"topic": t, "count": n} for t, n in self.top_unanswered]
        data["daily"] = [
            {"day": p.day.isoformat(), "inbound": p.inbound, "drafts": p.drafts, **p.outcomes}
            for p in self.daily
        ]
        return data


def parse_window(text: str) -> timedelta:
    """``24h`` / ``7d`` / ``30d`` / ``2w`` → a timedelta. Raises ValueError otherwise."""
    match = re.fullmatch(r"\s*(\d{1,4})\s*([hdw])\s*", text.lower())
    if not match or int(match.group(1)) == 0:
        raise ValueError(f"not a window: {text!r} (use e.g. 24h, 7d, 30d)")
    amount, unit = int(match.group(1)), match.group(2)
    return {"h": timedelta(hours=amount), "d": timedelta(days=amount),
            "w": timedelta(weeks=amount)}[unit]


def outcome_of(status: str, decision: str) -> str:
    """The outcome bucket of a draft (escalated drafts count as human whatever happened)."""
    if decision == "human":
        return "human"
    if status in (DraftStatus.AUTO_SENT, DraftStatus.APPROVED, DraftStatus.EDITED,
                  DraftStatus.REJECTED):
        return status
    return "pending"


def _median(values: list[float]) -> float | None:
    return round(statistics.median(values), 4) if values else None


def _keywords(text: str) -> list[str]:
    words = [w.lower() for w in _WORD.findall(text)]
    # One vote per message, so a customer repeating a word does not make it a topic.
    return sorted({w for w in words if w not in _STOPWORDS})


async def compute_stats(since: timedelta, now: datetime, *, top: int = 5) -> Stats:
    """Figures for the window ``[now - since, now)``."""
    start = now - since
    inbound_rows = await rows.inbound(start, now)
    inbound_by_channel = Counter(str(r["channel"]) for r in inbound_rows)

    drafts = await rows.drafts(start, now)
    outcomes: Counter[str] = Counter({name: 0 for name in OUTCOMES})
    sources: Counter[str] = Counter()
    unanswered: Counter[str] = Counter()
    to_draft: list[float] = []
    for row in drafts:
        if row["status"] == DraftStatus.SUPERSEDED:
            continue  # a newer message replaced it; the newer draft is the one that counts
        bucket = outcome_of(str(row["status"]), str(row["decision"]))
        outcomes[bucket] += 1
        cited = row["sources"] or []
        for source in cited:
            if isinstance(source, dict):
                sources[str(source.get("title") or source.get("source_id") or "?")] += 1
        if bucket in ("human", "rejected") or not cited:
            unanswered.update(_keywords(str(row["message__text"] or "")))
        if row["message__created_at"] is not None:
            to_draft.append((row["created_at"] - row["message__created_at"]).total_seconds())
    total = sum(outcomes.values())

    signals = await rows.signals(start, now)
    ratios = [float(s["edit_ratio"]) for s in signals
              if s["action"] in ("approved", "edited") and s["edit_ratio"] is not None]
    decision_times = [float(s["seconds_to_decision"]) for s in signals
                      if s["action"] != "auto_sent" and s["seconds_to_decision"] is not None]

    return Stats(
        since=start,
        until=now,
        inbound_by_channel=dict(sorted(inbound_by_channel.items())),
        drafts=total,
        outcomes=dict(outcomes),
        shares={k: round(v / total, 4) if total else 0.0 for k, v in outcomes.items()},
        median_edit_ratio=_median(ratios),
        median_seconds_to_draft=_median(to_draft),
        median_seconds_to_decision=_median(decision_times),
        top_sources=sources.most_common(top),
        top_unanswered=unanswered.most_common(top),
        daily=_daily(start, now, inbound_rows, drafts),
        llm=_llm_usage(drafts),
    )


def _llm_usage(drafts: list[dict[str, Any]]) -> LlmUsage:
    """Token use of the drafts Claude wrote or tried to write (superseded ones too: their
    tokens were spent)."""
    # Offline drafts without an error never called Claude; "none" is a routing failure.
    claude = [r for r in drafts if r.get("model") != "none"
              and (not r.get("offline") or r.get("error"))]
    return LlmUsage(
        drafts=len(claude),
        failed=sum(1 for r in claude if r.get("error")),
        input_tokens=sum(int(r.get("input_tokens") or 0) for r in claude),
        output_tokens=sum(int(r.get("output_tokens") or 0) for r in claude),
        cache_read_tokens=sum(int(r.get("cache_read_tokens") or 0) for r in claude),
        cache_creation_tokens=sum(int(r.get("cache_creation_tokens") or 0) for r in claude),
    )


def _daily(
    start: datetime, now: datetime, inbound: list[dict[str, Any]], drafts: list[dict[str, Any]]
) -> list[DayPoint]:
    days = [start.date() + timedelta(days=i) for i in range((now.date() - start.date()).days + 1)]
    inbound_per_day = Counter(r["created_at"].date() for r in inbound)
    per_day: dict[date, Counter[str]] = {d: Counter() for d in days}
    for row in drafts:
        if row["status"] == DraftStatus.SUPERSEDED:
            continue
        day = row["created_at"].date()
        if day in per_day:
            per_day[day][outcome_of(str(row["status"]), str(row["decision"]))] += 1
    return [
        DayPoint(
            day=d,
            inbound=inbound_per_day.get(d, 0),
            drafts=sum(per_day[d].values()),
            outcomes={k: per_day[d].get(k, 0) for k in OUTCOMES},
        )
        for d in days
    ]
