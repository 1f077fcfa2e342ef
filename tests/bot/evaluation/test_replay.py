"""``eval replay``: stored conversations through today's pipeline, compared with what agents
sent. Real model, a tiny KB written here, SQLite; nothing is stored or sent."""

from __future__ import annotations

import argparse
import json
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from qdrant_client import AsyncQdrantClient

from bot.cli.evaluate import add_eval_parser
from bot.evaluation.replay import current_auto_policy, load_cases, replay, summarise
from bot.flow.router import Router
from bot.pipeline.drafting.offline import OfflineDrafter
from bot.ports import NullNotifier
from bot.store import kv
from bot.store.db import migrate
from bot.store.models import Conversation, Draft, LearningSignal, Message, OutboxItem
from bot.store.runtime import AUTO_SEND_KEY
from config import Settings
from knowledge import Embedder, KnowledgeBase
from tests.conftest import SettingsFactory

RETURNS = (
    "# Returns\n\nYou can return any item within 30 days. Open your order and choose Return "
    "item; we email a prepaid label."
)
SHIPPING = "# Shipping\n\nDelivery takes three to five working days after dispatch."


@pytest.fixture
async def knowledge(tmp_path: Path, sqlite_db: Settings) -> AsyncIterator[KnowledgeBase]:
    kb_dir = tmp_path / "kb"
    kb_dir.mkdir()
    (kb_dir / "returns.md").write_text(RETURNS, encoding="utf-8")
    (kb_dir / "shipping.md").write_text(SHIPPING, encoding="utf-8")
    client = AsyncQdrantClient(path=str(tmp_path / "qdrant"))
    kb = KnowledgeBase(client=client, embedder=Embedder.from_settings(sqlite_db))
    await kb.ingest(kb_dir)
    yield kb
    await client.close()


async def conversation(n: int, question: str) -> tuple[Conversation, Message]:
    conv = await Conversation.create(channel="webhook", thread_key=f"form:{n}", token=f"t{n}")
    message = await Message.create(
        conversation=conv,
        channel="webhook",
        direction="in",
        author="c",
        text=question,
        channel_message_id=f"m{n}",
    )
    return conv, message


async def decided(n: int, question: str, sent: str, *, status: str, days_ago: float) -> None:
    conv, message = await conversation(n, question)
    await Draft.create(
        conversation=conv,
        message=message,
        text="old draft",
        confidence=0.5,
        decision="review",
        model="offline",
        status=status,
        final_text=sent,
        decided_at=datetime.now(UTC) - timedelta(days=days_ago),
    )


async def test_replay_compares_new_drafts_with_what_agents_sent(
    sqlite_db: Settings, knowledge: KnowledgeBase
) -> None:
    router = Router(
        settings=sqlite_db,
        knowledge=knowledge,
        learned=None,
        drafter=OfflineDrafter(),
        notifier=NullNotifier(),
    )
    fresh = await router.analyse("How do I return an item?")
    # The agent sent what today's drafter writes: agreement. Another agent rewrote the answer
    # to something unrelated: a wrong auto-send if the threshold let it through.
    await decided(1, "How do I return an item?", fresh.draft.reply, status="approved", days_ago=1)
    await decided(
        2,
        "Can I return an item I bought?",
        "Please call us on the phone.",
        status="edited",
        days_ago=2,
    )
    await decided(3, "How do I return an item?", "ancient", status="approved", days_ago=30)
    await decided(4, "How do I return an item?", "pending", status="pending", days_ago=1)
    conv, _ = await conversation(5, "How long does delivery take?")
    await LearningSignal.create(
        conversation_id=conv.id,
        channel="webhook",
        action="manual",
        agent="U1",
        final_text="Delivery takes three to five days.",
    )

    cases = await load_cases(since=datetime.now(UTC) - timedelta(days=7))
    assert [(c.conversation_id, c.source) for c in cases] == [
        (2, "edited"),
        (1, "approved"),
        (5, "manual"),
    ]
    assert cases[2].question == "How long does delivery take?"
    assert [c.conversation_id for c in await load_cases(limit=1)] == [5]

    results = await replay(
        cases, analyser=router, auto_send_threshold=0.0, embed=knowledge.embedder.adense
    )
    by_conv = {r.case.conversation_id: r for r in results}
    assert by_conv[1].similarity == 1.0 and by_conv[1].cosine == pytest.approx(1.0, abs=1e-3)
    assert by_conv[1].would_auto_send and not by_conv[1].would_be_wrong
    assert by_conv[2].similarity < 0.5
    assert by_conv[2].would_auto_send and by_conv[2].would_be_wrong
    summary = summarise(results, auto_send_threshold=0.0)
    assert summary["conversations"] == 3 and summary["would_be_wrong"] == 1
    assert summary["wrong_rate"] == pytest.approx(1 / summary["would_auto_send"], abs=1e-3)

    # With auto-send off nothing would go out, so nothing can be wrong.
    off = await replay(cases, analyser=router, auto_send_threshold=None)
    assert not any(r.would_auto_send or r.would_be_wrong for r in off)
    assert all(r.cosine is None for r in off)
    # Replay stores and sends nothing.
    assert await Draft.all().count() == 4 and await OutboxItem.all().count() == 0


async def test_the_admins_stored_threshold_wins(sqlite_db: Settings) -> None:
    assert await current_auto_policy(sqlite_db) == (None, set())
    await kv.put_value(AUTO_SEND_KEY, 0.9)
    await kv.put_value("paused_channels", ["email"])
    assert await current_auto_policy(sqlite_db) == (0.9, {"email"})
    await kv.put_value(AUTO_SEND_KEY, "off")
    assert (await current_auto_policy(sqlite_db))[0] is None


async def test_eval_replay_command_prints_a_json_summary(
    make_settings: SettingsFactory, capsys: pytest.CaptureFixture[str]
) -> None:
    settings = make_settings()
    await migrate(settings)
    parser = argparse.ArgumentParser()
    add_eval_parser(parser.add_subparsers(dest="command"))
    args = parser.parse_args(["eval", "replay", "--since", "7d", "--json"])
    assert await args.func(settings, args) == 0
    summary = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert summary["conversations"] == 0 and summary["would_be_wrong"] == 0

    bad = parser.parse_args(["eval", "replay", "--since", "forever"])
    assert await bad.func(settings, bad) == 2
