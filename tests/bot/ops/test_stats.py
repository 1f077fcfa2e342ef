"""compute_stats over stored drafts, messages and learning signals."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from bot.ops.stats import compute_stats, outcome_of, parse_window
from bot.store.models import Conversation, Draft, LearningSignal, Message

NOW = datetime(2026, 11, 21, 12, 0, tzinfo=UTC)


def test_parse_window() -> None:
    assert parse_window("24h") == timedelta(hours=24)
    assert parse_window("7d") == timedelta(days=7)
    assert parse_window("2w") == timedelta(days=14)
    for bad in ("", "0d", "7", "week", "-1d"):
        with pytest.raises(ValueError):
            parse_window(bad)


def test_outcome_buckets() -> None:
    assert outcome_of("approved", "review") == "approved"
    assert outcome_of("pending", "human") == "human"
    assert outcome_of("expired", "review") == "pending"


async def seed() -> None:
    n = 0
    plan = [  # (channel, status, decision, sources, minutes ago, edit ratio, decision secs)
        ("slack", "approved", "review", True, 60, 0.0, 30.0),
        ("slack", "edited", "review", True, 120, 0.2, 90.0),
        ("email", "edited", "review", True, 60 * 30, 0.4, 600.0),
        ("email", "rejected", "review", False, 60 * 26, None, 45.0),
        ("webhook", "auto_sent", "auto", True, 10, 0.0, 0.0),
        ("webhook", "pending", "human", False, 5, None, None),
        ("slack", "superseded", "review", True, 7, None, None),
        ("slack", "approved", "review", True, 60 * 24 * 9, 0.0, 10.0),  # outside the week
    ]
    for channel, status, decision, sourced, ago, ratio, secs in plan:
        n += 1
        created = NOW - timedelta(minutes=ago)
        conversation = await Conversation.create(channel=channel, thread_key=f"k{n}", token=f"t{n}")
        message = await Message.create(
            conversation=conversation, channel=channel, direction="in", author="c",
            text="Refund for my invoice please" if not sourced else "How to reset password",
            channel_message_id=f"m{n}")
        await Message.filter(id=message.id).update(created_at=created - timedelta(seconds=20))
        sources = [{"source_id": "kb/pw", "title": "Passwords", "score": 0.8}] if sourced else []
        draft = await Draft.create(conversation=conversation, message=message, text="x",
                                   confidence=0.5, decision=decision, model="m", status=status,
                                   sources=sources)
        await Draft.filter(id=draft.id).update(created_at=created)
        if secs is not None:
            action = "auto_sent" if status == "auto_sent" else status
            signal = await LearningSignal.create(draft=draft, action=action, agent="U1",
                                                 edit_ratio=ratio, seconds_to_decision=secs)
            await LearningSignal.filter(id=signal.id).update(created_at=created)


async def test_compute_stats_over_a_week(db: object) -> None:
    await seed()
    stats = await compute_stats(timedelta(days=7), NOW)
    assert stats.inbound_by_channel == {"email": 2, "slack": 3, "webhook": 2}
    assert stats.drafts == 6  # the superseded draft does not count
    assert stats.outcomes == {"auto_sent": 1, "approved": 1, "edited": 2, "rejected": 1,
                              "human": 1, "pending": 0}
    assert stats.shares["edited"] == pytest.approx(2 / 6, abs=1e-4)
    assert stats.median_edit_ratio == pytest.approx(0.2)  # 0.0, 0.2, 0.4 (auto excluded)
    assert stats.median_seconds_to_draft == pytest.approx(20.0)
    assert stats.median_seconds_to_decision == pytest.approx(67.5)  # 30, 90, 600, 45
    assert stats.top_sources == [("Passwords", 4)]
    assert dict(stats.top_unanswered)["refund"] == 2
    assert len(stats.daily) == 8 and sum(p.drafts for p in stats.daily) == 6
    data = stats.to_dict()
    assert data["inbound"] == 7 and data["top_sources"] == [{"source": "Passwords", "count": 4}]


async def test_compute_stats_over_a_day_and_an_empty_desk(db: object) -> None:
    empty = await compute_stats(timedelta(hours=24), NOW)
    assert empty.drafts == 0 and empty.median_edit_ratio is None and empty.shares["approved"] == 0
    await seed()
    day = await compute_stats(timedelta(hours=24), NOW)
    assert day.drafts == 4  # the 26h and 30h old drafts fall outside


async def test_claude_token_use_and_cache_hit_rate_count_only_claude_drafts(db: object) -> None:
    conversation = await Conversation.create(channel="webhook", thread_key="k", token="t")
    rows = [  # (model, offline, error, input, read, created)
        ("claude-x", False, None, 300, 0, 2000),       # first draft writes the cache
        ("claude-x", False, None, 300, 2000, 0),       # the next reads it
        ("offline", True, "overloaded (529)", 0, 0, 0),  # Claude failed, the extract stood in
        ("offline", True, None, 0, 0, 0),              # no key: never called Claude
        ("none", False, "routing failed", 0, 0, 0),    # not a drafter at all
    ]
    for n, (model, offline, error, uncached, read, created) in enumerate(rows):
        message = await Message.create(conversation=conversation, channel="webhook",
                                       direction="in", author="c", text="q",
                                       channel_message_id=f"m{n}")
        draft = await Draft.create(conversation=conversation, message=message, text="x",
                                   confidence=0.5, decision="review", model=model,
                                   offline=offline, error=error, input_tokens=uncached,
                                   output_tokens=50 if uncached else 0,
                                   cache_read_tokens=read, cache_creation_tokens=created)
        await Draft.filter(id=draft.id).update(created_at=NOW - timedelta(minutes=5))
    llm = (await compute_stats(timedelta(days=1), NOW)).llm
    assert (llm.drafts, llm.failed) == (3, 1)
    assert (llm.cache_read_tokens, llm.cache_creation_tokens, llm.input_tokens) == (2000, 2000,
                                                                                    600)
    assert llm.cache_hit_rate == pytest.approx(2000 / 4600, abs=1e-4)
    assert llm.output_tokens == 100
    empty = (await compute_stats(timedelta(days=1), NOW - timedelta(days=3))).llm
    assert empty.drafts == 0 and empty.cache_hit_rate is None


async def test_the_stats_command_prints_the_cache_figures(
    sqlite_db: Any, capsys: pytest.CaptureFixture[str],
) -> None:
    from argparse import Namespace

    from bot.cli.main import cmd_stats

    conversation = await Conversation.create(channel="webhook", thread_key="k", token="t")
    message = await Message.create(conversation=conversation, channel="webhook", direction="in",
                                   author="c", text="q", channel_message_id="m1")
    await Draft.create(conversation=conversation, message=message, text="x", confidence=0.5,
                       decision="review", model="claude-x", input_tokens=250,
                       output_tokens=40, cache_read_tokens=1750, cache_creation_tokens=0)
    assert await cmd_stats(sqlite_db, Namespace(since="1d", json=False)) == 0
    out = capsys.readouterr().out
    assert "Claude: 1 drafts, 0 failed" in out
    assert "prompt cache hit rate  87.5%" in out and "cache tokens read      1,750" in out
