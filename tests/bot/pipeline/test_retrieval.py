"""Retrieval to passages with the real embedding model: follow-ups in their conversation,
one article per question of a multi-question mail, whole sections for the drafter. On both
vector stores (Qdrant Edge, and qdrant-client's local mode as the stand-in for a server)."""

from __future__ import annotations

import textwrap
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from bot.pipeline.questions import plan_retrieval
from bot.pipeline.retrieval import retrieve
from knowledge import Embedder, KnowledgeBase
from tests.conftest import SettingsFactory
from tests.knowledge.conftest import STORES, open_store

ARTICLES = {
    "refunds.md": """\
        # Refund policy

        Annual plans are refunded in full within 30 days of purchase.

        ## How long a refund takes

        Approved refunds are processed within 5 business days and reach your card
        5–10 business days later.

        ## Closed cards

        If the original card was closed, your bank forwards the refund to the new card.
        """,
    "shipping.md": """\
        # Shipping times

        | Region | Delivery | Cost |
        |---|---|---|
        | United States | 3–5 business days | Free |
        | Canada | 5–8 business days | $15 |

        How long does delivery take? It depends on the region above.
        """,
    "team.md": """\
        # Invite team members

        1. Go to **Settings → Team → Members**.
        2. Click **Invite members** and enter their addresses.

        Invitations expire after 7 days.
        """,
    "payment.md": """\
        # Payment methods

        We accept Visa, Mastercard, American Express and PayPal.
        """,
}


@pytest.fixture(params=STORES)
async def kb(request: pytest.FixtureRequest, tmp_path: Path,
             make_settings: SettingsFactory) -> AsyncIterator[KnowledgeBase]:
    settings = make_settings()
    if settings.embed_model_path is None or settings.sparse_model_path is None:
        pytest.skip("offline models not found (set SUPPORTBOT_EMBED_MODEL_PATH/SPARSE)")
    folder = tmp_path / "kb"
    folder.mkdir()
    for name, text in ARTICLES.items():
        (folder / name).write_text(textwrap.dedent(text), encoding="utf-8")
    store = open_store(request.param, tmp_path)
    knowledge = KnowledgeBase(store=store, embedder=Embedder.from_settings(settings))
    await knowledge.ingest(folder)
    yield knowledge
    await store.close()


async def _top(kb: KnowledgeBase, text: str, history: list[tuple[str, str]]) -> list[str]:
    plan = plan_retrieval(text, history=history)
    passages = await retrieve(plan, knowledge=kb, learned=None, budget_tokens=1500,
                              max_articles=3)
    return [p.source_id for p in passages]


async def test_follow_ups_of_a_three_turn_conversation_find_the_conversations_article(
    kb: KnowledgeBase,
) -> None:
    history: list[tuple[str, str]] = [("in", "I want a refund for my annual plan.")]
    assert (await _top(kb, history[0][1], []))[0] == "refunds"
    history.append(("out", "Annual plans are refunded in full within 30 days of purchase."))
    followup = "ok, and how long does that take?"
    # On its own words the follow-up is about delivery times ...
    assert (await kb.search(followup, limit=1))[0].doc_id == "shipping"
    # ... in its conversation it is about the refund.
    assert (await _top(kb, followup, history))[0] == "refunds"
    history += [("in", followup), ("out", "Refunds are processed within 5 business days.")]
    assert (await _top(kb, "what if it was closed since?", history))[0] == "refunds"


async def test_each_question_of_a_mail_brings_its_article_with_its_whole_section(
    kb: KnowledgeBase,
) -> None:
    mail = ("Hello, two things: how much is shipping to Canada, and how do I invite my "
            "colleagues to the team?")
    plan = plan_retrieval(mail)
    assert len(plan.questions) == 2
    passages = await retrieve(plan, knowledge=kb, learned=None, budget_tokens=1500,
                              max_articles=3)
    by_id = {p.source_id: p for p in passages}
    assert {"shipping", "team"} <= set(list(by_id)[:3])
    assert "| Canada | 5–8 business days | $15 |" in by_id["shipping"].text  # the whole table
    assert "2. Click **Invite members**" in by_id["team"].text  # every step, as written
