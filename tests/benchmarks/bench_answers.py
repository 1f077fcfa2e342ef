"""Answer benchmark: does what the drafter receives, and what it drafts, hold the facts a
correct reply needs?

Run: ``.venv/bin/python tests/benchmarks/bench_answers.py [--kb samples,mastodon_docs]
[--misses] [--json]``

The answer sets (``tests/benchmarks/answers/*.jsonl``) hold our own customer questions, the
articles that answer them (``docs``) and 2-4 short regexes of facts a correct reply must
contain; unanswerable questions have no docs and no facts. ``history`` (optional) holds the
earlier turns of the conversation as ``[direction, text]`` pairs, for follow-up questions.
Each fact is checked first: it must occur in one of its articles (read at run time: the help
center text stays in ``../shared/datasets``) and not in the question or its history.

For each KB (ingested into a throw-away local Qdrant) every question goes through the real
``Router.analyse`` with the offline drafter, whose request is recorded. The same request is
then drafted by the Claude drafter pointed at the fake Messages API
(``tests/fakes/anthropic_server.py``); the captured JSON request is what Claude would read.
A fact counts as in Claude's context when it occurs more often in that request than in the
request of the same message without passages: the passages brought it, so the system prompt,
the question or the history never count, and a fact whose words the rules also use ("issuing
refunds", "passwords, recovery codes") still counts when a passage delivers it.

Reported per KB and overall:
* context fact recall, offline (the passages handed to the drafter) and Claude (the request);
* offline draft fact recall (facts in the offline reply);
* out of scope to humans (unanswerable questions decided ``human``) and answerable not sent
  to humans;
* draft-correct AUROC of confidence: a draft is correct when it is answerable and the offline
  reply holds every required fact; an unanswerable question's draft is never correct;
* median context size in tokens (characters / 4) of the passages in Claude's request;
* the answering article among the sources at rank 1 and within the top 3.
"""

from __future__ import annotations

import argparse
import asyncio
import inspect
import json
import os
import re
import statistics
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))
os.environ.setdefault("HF_HUB_OFFLINE", "1")

from anthropic import AsyncAnthropic  # noqa: E402
from qdrant_client import AsyncQdrantClient  # noqa: E402

from bot.domain import Decision, DraftResult  # noqa: E402
from bot.evaluation.metrics import auroc  # noqa: E402
from bot.flow.router import Router  # noqa: E402
from bot.pipeline.drafting.base import DraftRequest  # noqa: E402
from bot.pipeline.drafting.claude import ClaudeDrafter  # noqa: E402
from bot.pipeline.drafting.offline import OfflineDrafter  # noqa: E402
from bot.ports import NullNotifier  # noqa: E402
from config import load_settings  # noqa: E402
from knowledge import Embedder, KnowledgeBase  # noqa: E402
from knowledge.store_client import ClientStore  # noqa: E402
from tests.fakes.anthropic_server import fake_anthropic_server  # noqa: E402

SHARED = REPO.parent / "shared"
ANSWERS = Path(__file__).resolve().parent / "answers"
KB_DIRS = {
    "samples": REPO / "knowledge" / "samples",
    "mastodon_docs": SHARED / "datasets" / "mastodon_docs" / "kb",
}
MODELS = SHARED / "models"
TARGET_CONTEXT_RECALL = 0.95


def bench_settings() -> Any:
    """Default settings with the local models (nothing read from .env)."""
    return load_settings({
        "SUPPORTBOT_DATA_DIR": "/tmp/supportbot-bench-answers",
        "SUPPORTBOT_EMBED_MODEL_PATH": os.environ.get(
            "SUPPORTBOT_EMBED_MODEL_PATH", str(MODELS / "all-MiniLM-L6-v2-onnx")),
        "SUPPORTBOT_SPARSE_MODEL_PATH": os.environ.get(
            "SUPPORTBOT_SPARSE_MODEL_PATH", str(MODELS / "bm25")),
    }, env_file=None)


class AnswerSetError(ValueError):
    """A row of an answer set is malformed or one of its facts fails its checks."""


@dataclass(frozen=True)
class Question:
    """One row of an answer set."""

    id: str
    kb: str
    question: str
    docs: tuple[str, ...]
    facts: tuple[str, ...]
    history: tuple[tuple[str, str], ...] = ()
    kind: str = "single"

    @property
    def answerable(self) -> bool:
        return bool(self.docs)


@dataclass
class Outcome:
    """What the pipeline made of one question."""

    q: Question
    decision: Decision
    confidence: float
    sources: list[str]
    offline_context: str
    claude_context_facts: list[bool]
    offline_context_facts: list[bool]
    draft_facts: list[bool]
    context_tokens: float
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def draft_correct(self) -> bool:
        return self.q.answerable and all(self.draft_facts)


def _find(pattern: str, text: str) -> bool:
    return re.search(pattern, text, re.IGNORECASE) is not None


def _count(pattern: str, text: str) -> int:
    return sum(1 for _ in re.finditer(pattern, text, re.IGNORECASE))


def brought_by_passages(pattern: str, full: str, blank: str) -> bool:
    """Whether the passages put ``pattern`` into a request: it occurs more often in the
    request (``full``) than in the same request without passages (``blank``)."""
    return _count(pattern, full) > _count(pattern, blank)


def load_answer_set(path: Path) -> list[Question]:
    """Parse one answer-set file (JSON lines)."""
    rows = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            continue
        data = json.loads(line)
        try:
            rows.append(
                Question(
                    id=str(data["id"]),
                    kb=str(data["kb"]),
                    question=str(data["question"]),
                    docs=tuple(data.get("docs", ())),
                    facts=tuple(data.get("facts", ())),
                    history=tuple((str(d), str(t)) for d, t in data.get("history", ())),
                    kind=str(data.get("kind", "single")),
                )
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise AnswerSetError(f"{path}:{number}: {exc}") from None
    return rows


def check_facts(questions: Sequence[Question], kb_dir: Path) -> list[str]:
    """Problems of an answer set: a fact missing from its articles or given away by the
    question (or its history), an answerable question without 2-4 facts, unknown articles."""
    problems = []
    for q in questions:
        if q.answerable and not 2 <= len(q.facts) <= 4:
            problems.append(f"{q.id}: {len(q.facts)} facts (2-4 expected)")
        texts = []
        for doc in q.docs:
            path = kb_dir / f"{doc}.md"
            if not path.is_file():
                problems.append(f"{q.id}: no article {doc}")
                continue
            texts.append(path.read_text(encoding="utf-8"))
        asked = "\n".join([q.question, *(t for _, t in q.history)])
        for fact in q.facts:
            if not any(_find(fact, t) for t in texts):
                problems.append(f"{q.id}: fact {fact!r} is in none of {', '.join(q.docs)}")
            if _find(fact, asked):
                problems.append(f"{q.id}: fact {fact!r} is given away by the question")
    return problems


def _request_text(body: Any) -> str:
    """Every text string in a Messages API request body, joined."""
    parts: list[str] = []

    def walk(node: Any) -> None:
        if isinstance(node, str):
            parts.append(node)
        elif isinstance(node, dict):
            for key, value in node.items():
                if key not in ("model", "type", "cache_control", "tool_choice", "tools"):
                    walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    walk(body.get("system"))
    walk(body.get("messages"))
    return "\n".join(parts)


class RecordingDrafter:
    """Wraps a drafter and keeps the last request it was given."""

    def __init__(self, inner: OfflineDrafter) -> None:
        self.inner = inner
        self.last: DraftRequest | None = None

    async def draft(self, request: DraftRequest) -> DraftResult:
        self.last = request
        return await self.inner.draft(request)

    async def aclose(self) -> None:
        await self.inner.aclose()


def _fixed_facts() -> dict[str, Any]:
    """Decision facts that need no database: auto-send off (the router's own since the core
    was consolidated; before it, passed to ``analyse``)."""
    try:
        from bot.flow.facts import FixedFacts
    except ImportError:
        return {}
    return {"facts": FixedFacts(auto_send_threshold=None)}


def _no_auto_send(router: Router) -> dict[str, Any]:
    params = inspect.signature(router.analyse).parameters
    return {"auto_send_threshold": None} if "auto_send_threshold" in params else {}


def _offline_context(request: DraftRequest) -> str:
    return "\n\n".join(f"{p.title}\n{p.text}" for p in request.passages)


async def run_kb(name: str, questions: Sequence[Question], embedder: Embedder,
                 claude: ClaudeDrafter, server: Any) -> list[Outcome]:
    """Ingest one KB and analyse every question of it."""
    settings = bench_settings()
    outcomes = []
    with tempfile.TemporaryDirectory(prefix="bench-answers-") as tmp:
        client = AsyncQdrantClient(path=tmp)
        kb = KnowledgeBase(store=ClientStore(client=client), embedder=embedder,
                           collection=f"answers_{name}")
        try:
            await kb.ingest(KB_DIRS[name])
            drafter = RecordingDrafter(OfflineDrafter())
            router = Router(settings=settings, knowledge=kb, learned=None, drafter=drafter,
                            notifier=NullNotifier(), **_fixed_facts())
            for q in questions:
                analysis = await router.analyse(q.question, history=q.history,
                                                **_no_auto_send(router))
                request = drafter.last
                assert request is not None
                await claude.draft(request)
                full = _request_text(server.last.json)
                await claude.draft(replace(request, passages=()))
                blank = _request_text(server.last.json)
                offline_ctx = _offline_context(request)
                reply = analysis.draft.reply
                outcomes.append(Outcome(
                    q=q,
                    decision=analysis.policy.decision,
                    confidence=analysis.confidence.value,
                    sources=[p.source_id for p in analysis.passages],
                    offline_context=offline_ctx,
                    claude_context_facts=[brought_by_passages(f, full, blank)
                                          for f in q.facts],
                    offline_context_facts=[_find(f, offline_ctx) for f in q.facts],
                    draft_facts=[_find(f, reply) for f in q.facts],
                    context_tokens=max(0, len(full) - len(blank)) / 4,
                    extra={"reply": reply},
                ))
        finally:
            await kb.drop()
            await client.close()
    return outcomes


def _ratio(hits: Sequence[bool]) -> float:
    return sum(hits) / len(hits) if hits else float("nan")


def summarise(outcomes: Sequence[Outcome]) -> dict[str, float]:
    """The reported figures of a group of outcomes."""
    answerable = [o for o in outcomes if o.q.answerable]
    oos = [o for o in outcomes if not o.q.answerable]
    facts = lambda attr: [f for o in answerable for f in getattr(o, attr)]  # noqa: E731
    area = auroc([o.draft_correct for o in outcomes], [o.confidence for o in outcomes])
    return {
        "questions": len(answerable),
        "unanswerable": len(oos),
        "facts": len(facts("draft_facts")),
        "context_recall_claude": _ratio(facts("claude_context_facts")),
        "context_recall_offline": _ratio(facts("offline_context_facts")),
        "draft_recall_offline": _ratio(facts("draft_facts")),
        "oos_to_humans": _ratio([o.decision is Decision.HUMAN for o in oos]),
        "answerable_not_human": _ratio([o.decision is not Decision.HUMAN for o in answerable]),
        "draft_correct_rate": _ratio([o.draft_correct for o in answerable]),
        "draft_correct_auroc": area if area is not None else float("nan"),
        "context_tokens_p50": statistics.median(o.context_tokens for o in answerable)
        if answerable else float("nan"),
        "article_at_1": _ratio([bool(o.sources) and o.sources[0] in o.q.docs
                                for o in answerable]),
        "article_in_3": _ratio([any(s in o.q.docs for s in o.sources[:3]) for o in answerable]),
    }


ROWS = (
    ("answerable questions / facts", None),
    ("context fact recall (Claude request)", "context_recall_claude"),
    ("context fact recall (offline passages)", "context_recall_offline"),
    ("offline draft fact recall", "draft_recall_offline"),
    ("offline draft holds every fact", "draft_correct_rate"),
    ("out of scope sent to humans", "oos_to_humans"),
    ("answerable not sent to humans", "answerable_not_human"),
    ("draft-correct AUROC of confidence", "draft_correct_auroc"),
    ("median context tokens (chars/4)", "context_tokens_p50"),
    ("answering article at rank 1", "article_at_1"),
    ("answering article in top 3", "article_in_3"),
)


def print_table(groups: dict[str, dict[str, float]]) -> None:
    names = list(groups)
    print(f"{'':<42}" + "".join(f"{n:>16}" for n in names))
    for label, key in ROWS:
        if key is None:
            cells = [f"{int(g['questions'])}/{int(g['facts'])} +{int(g['unanswerable'])} oos"
                     for g in groups.values()]
        elif key == "context_tokens_p50":
            cells = [f"{g[key]:.0f}" for g in groups.values()]
        else:
            cells = [f"{g[key]:.3f}" for g in groups.values()]
        print(f"{label:<42}" + "".join(f"{c:>16}" for c in cells))


def print_by_kind(outcomes: Sequence[Outcome]) -> None:
    kinds = sorted({o.q.kind for o in outcomes if o.q.answerable})
    print("\ncontext fact recall (Claude request) by question kind:")
    for kind in kinds:
        facts = [f for o in outcomes if o.q.answerable and o.q.kind == kind
                 for f in o.claude_context_facts]
        print(f"  {kind:<10} {_ratio(facts):.3f}  ({len(facts)} facts)")


def print_misses(outcomes: Sequence[Outcome]) -> None:
    print("\nfacts missing from Claude's context:")
    for o in outcomes:
        missing = [f for f, ok in zip(o.q.facts, o.claude_context_facts, strict=True) if not ok]
        if missing:
            print(f"  {o.q.id} [{', '.join(o.sources[:3])}] {o.q.question[:70]!r}: {missing}")
    print("\nunanswerable questions not sent to humans:")
    for o in outcomes:
        if not o.q.answerable and o.decision is not Decision.HUMAN:
            print(f"  {o.q.id} {o.decision.value} {o.confidence:.2f} {o.q.question[:80]!r}")


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--kb", default=",".join(KB_DIRS))
    parser.add_argument("--misses", action="store_true", help="list missed facts")
    parser.add_argument("--json", action="store_true", help="print the figures as JSON last")
    args = parser.parse_args()
    names = [n for n in args.kb.split(",") if n]
    sets = {n: load_answer_set(ANSWERS / f"{n}.jsonl") for n in names}
    problems = [p for n, qs in sets.items() for p in check_facts(qs, KB_DIRS[n])]
    if problems:
        raise SystemExit("answer set problems:\n  " + "\n  ".join(problems))
    embedder = Embedder.from_settings(bench_settings())
    started = time.perf_counter()
    outcomes: dict[str, list[Outcome]] = {}
    async with fake_anthropic_server() as server:
        client = AsyncAnthropic(api_key="bench", base_url=server.url, max_retries=0)
        claude = ClaudeDrafter(client=client, model="claude-bench", max_attempts=1)
        for name, questions in sets.items():
            outcomes[name] = await run_kb(name, questions, embedder, claude, server)
        await client.close()
    every = [o for group in outcomes.values() for o in group]
    print(f"{len(every)} questions, {time.perf_counter() - started:.0f} s\n")
    groups = {n: summarise(o) for n, o in outcomes.items()}
    groups["overall"] = summarise(every)
    print_table(groups)
    print_by_kind(every)
    target = groups["overall"]["context_recall_claude"] >= TARGET_CONTEXT_RECALL
    print(f"\ntarget context fact recall >= {TARGET_CONTEXT_RECALL}: "
          f"{'met' if target else 'NOT met'}")
    if args.misses:
        print_misses(every)
    if args.json:
        print(json.dumps(groups))


if __name__ == "__main__":
    asyncio.run(main())
