"""The router on real knowledge, on both vector stores (Qdrant Edge, and qdrant-client's local
mode as the stand-in for a server): what a message is answered from, learned answers and
rejections taking part, and one embedding per message however many searches it makes."""

from __future__ import annotations

import textwrap
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from bot.domain import Decision
from bot.flow.facts import FixedFacts
from bot.flow.router import Router
from bot.pipeline.drafting.offline import OfflineDrafter
from bot.ports import NullNotifier
from config import Settings
from knowledge import Embedder, KnowledgeBase
from knowledge.embedder import QueryVectors
from knowledge.learned import LearnedAnswers
from tests.conftest import SettingsFactory
from tests.knowledge.conftest import STORES, open_store

ARTICLES = {
    "refunds.md": """\
        # Refund policy

        Annual plans are refunded in full within 30 days of purchase.

        ## How long a refund takes

        Approved refunds are processed within 5 business days.
        """,
    "shipping.md": """\
        # Shipping times

        Orders to Canada take 5–8 business days; to the United States 3–5 business days.
        """,
    "team.md": """\
        # Invite team members

        Go to Settings → Team → Members and click Invite members.
        """,
}


class CountingEmbedder(Embedder):
    """The real embedder, recording each text it runs through the models."""

    def __init__(self, *args: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        self.runs: list[str] = []

    def query(self, text: str) -> QueryVectors:
        self.runs.append(text)
        return super().query(text)


@dataclass
class Knowledge:
    router: Router
    embedder: CountingEmbedder
    learned: LearnedAnswers
    rejected: LearnedAnswers


@pytest.fixture(params=STORES)
async def knowledge(request: pytest.FixtureRequest, tmp_path: Path,
                    make_settings: SettingsFactory) -> AsyncIterator[Knowledge]:
    settings: Settings = make_settings()
    if settings.embed_model_path is None or settings.sparse_model_path is None:
        pytest.skip("offline models not found (set SUPPORTBOT_EMBED_MODEL_PATH/SPARSE)")
    folder = tmp_path / "kb"
    folder.mkdir()
    for name, text in ARTICLES.items():
        (folder / name).write_text(textwrap.dedent(text), encoding="utf-8")
    store = open_store(request.param, tmp_path)
    embedder = CountingEmbedder(model_name=settings.embed_model,
                                model_path=settings.embed_model_path,
                                sparse_model_path=settings.sparse_model_path,
                                cache_dir=settings.data_dir / "models", query_cache_size=0)
    kb = KnowledgeBase(store=store, embedder=embedder)
    await kb.ingest(folder)
    learned = LearnedAnswers(store=store, embedder=embedder)
    rejected = LearnedAnswers(store=store, embedder=embedder, collection="rejected_answers")
    for answers in (learned, rejected):
        await answers.ensure_collection()
    router = Router(settings=settings, knowledge=kb, learned=learned, rejected=rejected,
                    drafter=OfflineDrafter(), notifier=NullNotifier(),
                    facts=FixedFacts(auto_send_threshold=None))
    yield Knowledge(router, embedder, learned, rejected)
    await store.close()


async def test_a_question_is_answered_from_its_article_and_embedded_once(
    knowledge: Knowledge,
) -> None:
    knowledge.embedder.runs.clear()
    analysis = await knowledge.router.analyse("How long does shipping to Canada take?")
    assert analysis.passages[0].source_id == "shipping"
    assert "5–8 business days" in analysis.passages[0].text
    assert analysis.policy.decision is Decision.REVIEW
    # KB, learned answers and rejections were all searched, from one run of the model.
    assert knowledge.embedder.runs == ["How long does shipping to Canada take?"]


async def test_an_approved_answer_leads_and_a_rejected_one_is_named(knowledge: Knowledge) -> None:
    await knowledge.learned.add("Can I get my money back on the annual plan?",
                                "Yes: annual plans are refunded in full within 30 days.",
                                answer_id="answer-1")
    analysis = await knowledge.router.analyse("Can I get my money back for the annual plan?")
    assert [p.kind for p in analysis.passages[:2]] == ["learned", "kb"]
    assert analysis.passages[1].source_id == "refunds"

    await knowledge.rejected.add("How long does shipping to Canada take?",
                                 "Wrong: quoted the US delivery time.", answer_id="rejected-7")
    analysis = await knowledge.router.analyse("How long does shipping to Canada take?")
    # Named on the card, and the precedent disagrees with the draft.
    assert any("an agent rejected a draft for a close question" in r
               and "quoted the US delivery time" in r for r in analysis.confidence.reasons)
    assert analysis.confidence.parts["learned_agreement"] == 0.0
