"""Routing evaluation: does confidence separate answerable messages from out-of-scope ones?

Rows are JSON lines ``{"text", "label": "answerable"|"out_of_scope", "kb"}``. Each distinct
``kb`` is ingested once into its own throw-away collection, and every row goes through the
real ``Router.analyse`` (triage → search → draft → confidence → policy) against its own KB,
storing and sending nothing; the drafter is the offline one unless another (Claude) is passed.
The outcomes keep the whole ``Analysis``, so a different calibration or threshold can be
re-scored with the same pure functions (``rescore``).

With ``learn=True`` the evaluation is prequential, as the product lives: each KB's rows arrive
in a shuffled order, every row is scored first and then decided as an agent would (an
answerable message's reply is approved into the learned answers, an out-of-scope one is
rejected with a reason into the rejection memory), so later rows are scored with what earlier
ones taught. No row is ever scored with its own label. The learned stores are throw-away
collections like the KB's.
"""

from __future__ import annotations

import random
import tempfile
import uuid
from collections.abc import AsyncIterator, Iterable, Mapping, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, replace
from pathlib import Path

from bot.domain import Decision
from bot.flow.facts import FixedFacts
from bot.flow.router import Analysis, Router, source_json
from bot.pipeline.confidence import Calibration, score_confidence
from bot.pipeline.decide import decide
from bot.pipeline.drafting.base import Drafter
from bot.pipeline.drafting.offline import OfflineDrafter
from bot.pipeline.intent_reader import IntentReader
from bot.pipeline.learning import grounding_of
from bot.ports import NullNotifier
from config import Settings
from knowledge import (
    EdgeStore,
    Embedder,
    KnowledgeBase,
    ProgressFn,
    VectorStore,
    make_vector_store,
)
from knowledge.jsonlines import json_rows
from knowledge.learned import LearnedAnswers

LABELS = ("answerable", "out_of_scope")


class RoutingEvalError(ValueError):
    """The rows file or a KB folder is unusable; the message says which and where."""


@dataclass(frozen=True, slots=True)
class RoutingRow:
    """One labelled customer message and the name of the KB it is judged against."""

    text: str
    answerable: bool
    kb: str | None = None


@dataclass(frozen=True, slots=True)
class RowOutcome:
    """What the pipeline made of one row."""

    row: RoutingRow
    kb: str
    analysis: Analysis
    position: int = 0  # the row's place in its KB's stream (the file order unless learning)

    @property
    def confidence(self) -> float:
        """The confidence value the policy saw."""
        return self.analysis.confidence.value

    @property
    def decision(self) -> Decision:
        """The policy's decision."""
        return self.analysis.policy.decision


def parse_rows(lines: Iterable[str], source: str = "<rows>") -> list[RoutingRow]:
    """Parse JSON lines into rows; blank lines are skipped, a bad line names its number."""
    rows = []
    for number, data in json_rows(lines, source, required=("text", "label"),
                                  error=RoutingEvalError):
        text, label = data["text"], data["label"]
        if not isinstance(text, str) or label not in LABELS:
            raise RoutingEvalError(f"{source}:{number}: label must be one of {', '.join(LABELS)}")
        kb = data.get("kb")
        rows.append(RoutingRow(text, label == "answerable", str(kb) if kb else None))
    return rows


def load_rows(path: Path) -> list[RoutingRow]:
    """Read a routing JSON-lines file."""
    try:
        with path.open(encoding="utf-8") as handle:
            return parse_rows(handle, str(path))
    except OSError as exc:
        raise RoutingEvalError(f"{path}: {exc.strerror or exc}") from None


def resolve_kbs(rows: Sequence[RoutingRow], *, base: Path, default: Path | None) -> dict[str, Path]:
    """The KB folder of every distinct ``kb`` name: ``<base>/<kb>/kb`` (the dataset layout) or
    ``<base>/<kb>``; rows without a name use ``default``, keyed as ``""``."""
    folders: dict[str, Path] = {}
    for name in dict.fromkeys(row.kb or "" for row in rows):
        if not name:
            if default is None or not default.is_dir():
                raise RoutingEvalError("rows without a kb need --kb DIR (a knowledge folder)")
            folders[name] = default
            continue
        candidates = [base / name / "kb", base / name]
        found = next((c for c in candidates if c.is_dir()), None)
        if found is None:
            raise RoutingEvalError(
                f"kb {name!r}: neither {candidates[0]} nor {candidates[1]} exists"
            )
        folders[name] = found
    return folders


@asynccontextmanager
async def _isolated_client(settings: Settings) -> AsyncIterator[VectorStore]:
    """A local Qdrant in a temp dir, or the configured server (collections are unique)."""
    with tempfile.TemporaryDirectory(prefix="supportbot-routing-") as tmp:
        client = (
            make_vector_store(settings) if settings.qdrant_url else EdgeStore(root=Path(tmp))
        )
        try:
            yield client
        finally:
            await client.close()


async def run_routing(
    rows: Sequence[RoutingRow],
    folders: Mapping[str, Path],
    *,
    settings: Settings,
    progress: ProgressFn | None = None,
    learn: bool = False,
    seed: int = 0,
    drafter: Drafter | None = None,
) -> list[RowOutcome]:
    """Analyse every row against its own KB with the real router; nothing is stored, except,
    with ``learn``, the simulated agents' decisions in throw-away learned stores.

    ``drafter`` defaults to the offline one; pass Claude's to let its grounding check (its
    self-rating, and declining when the passages do not answer) take part in the confidence.
    """
    embedder = Embedder.from_settings(settings)
    outcomes: list[RowOutcome] = []
    done = 0
    async with _isolated_client(settings) as client:
        for name, folder in folders.items():
            run = uuid.uuid4().hex[:12]
            kb = KnowledgeBase(store=client, embedder=embedder, collection=f"routing_{run}")
            learned = rejected = None
            if learn:
                learned = LearnedAnswers(store=client, embedder=embedder,
                                         collection=f"routing_learned_{run}")
                rejected = LearnedAnswers(store=client, embedder=embedder,
                                          collection=f"routing_rejected_{run}")
            try:
                report = await kb.ingest(folder)
                if report.chunks == 0:
                    raise RoutingEvalError(f"kb {name or folder}: no documents in {folder}")
                router = Router(
                    settings=settings,
                    knowledge=kb,
                    learned=learned,
                    rejected=rejected,
                    drafter=drafter or OfflineDrafter(),
                    notifier=NullNotifier(),
                    facts=FixedFacts(auto_send_threshold=settings.auto_send_threshold),
                    intent_reader=(IntentReader(embed=embedder.dense)
                                   if settings.intent_reader else None),
                )
                stream = [row for row in rows if (row.kb or "") == name]
                if learn:
                    random.Random(f"{seed}:{name}").shuffle(stream)
                for position, row in enumerate(stream):
                    analysis = await router.analyse(row.text)
                    outcomes.append(RowOutcome(row, name or folder.name, analysis, position))
                    if learned is not None and rejected is not None:
                        await _agent_decides(row, analysis, position, learned, rejected)
                    done += 1
                    if progress:
                        progress(done, len(rows), row.text)
            finally:
                await kb.drop()
                for store in (learned, rejected):
                    if store is not None:
                        await client.drop(store.collection)
    return outcomes


async def _agent_decides(
    row: RoutingRow,
    analysis: Analysis,
    position: int,
    learned: LearnedAnswers,
    rejected: LearnedAnswers,
) -> None:
    """What an agent does with the row once it is scored: approve an answer to an answerable
    message (the draft, or the best passage when the drafter wrote none), or reject a draft for
    an out-of-scope one, as ``bot.app``'s learners record them."""
    if row.answerable:
        top = analysis.passages[0].text if analysis.passages else ""
        answer = analysis.draft.reply.strip() or top or row.text
        sources = [source_json(p) for p in analysis.passages]
        meta: dict[str, object] = {"simulated": True}
        if analysis.draft.reply.strip() and (grounded := grounding_of(sources)):
            meta["grounded_in"] = grounded
        await learned.add(row.text, answer, answer_id=f"row-{position}", metadata=meta)
    else:
        await rejected.add(row.text, "out of scope: our knowledge has no answer for this",
                           answer_id=f"rejected-{position}", metadata={"simulated": True})


def rescore(
    outcomes: Sequence[RowOutcome],
    *,
    calibration: Calibration | None = None,
    human_threshold: float,
    auto_send_threshold: float | None = None,
) -> list[RowOutcome]:
    """The outcomes under another calibration or thresholds, through the same pure
    ``score_confidence`` and ``decide`` the router uses (retrieval and drafts are reused)."""
    rescored = []
    for outcome in outcomes:
        a = outcome.analysis
        # The agreement the router computed (a close rejection already folded in).
        agreement = a.confidence.parts.get("learned_agreement")
        confidence = score_confidence(
            passages=a.passages,
            draft=a.draft,
            triage=a.triage,
            question=outcome.row.text,
            learned_agreement=agreement,
            calibration=calibration,
        )
        policy = decide(
            confidence=confidence,
            triage=a.triage,
            draft=a.draft,
            passages=a.passages,
            facts=replace(a.facts, auto_send_threshold=auto_send_threshold,
                          human_threshold=human_threshold),
        )
        rescored.append(replace(outcome, analysis=replace(a, confidence=confidence, policy=policy)))
    return rescored
