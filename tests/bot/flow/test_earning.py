"""Earned auto-send on SQLite and PostgreSQL: earned by unedited approvals, lost by edits."""

from __future__ import annotations

from bot.domain import Passage
from bot.flow.earning import earned_topics, topic_record
from bot.pipeline.earning import is_earned, topic_of
from bot.store import inbox
from bot.store.models import Draft, LearningSignal, Message
from config import Settings
from tests.fakes.support import inbound

RULE = {"min_approvals": 3, "min_rate": 0.9}


def test_the_rule() -> None:
    assert not is_earned(2, 2, **RULE)  # too few
    assert is_earned(3, 3, **RULE)
    assert not is_earned(9, 11, **RULE)  # 82% < 90%
    assert not is_earned(0, 0, **RULE)


def test_a_draft_belongs_to_a_close_learned_answer_only() -> None:
    kb = Passage("refunds", "Refunds", "…", 0.9)
    near = Passage("answer-7", "how do I get a refund", "…", 0.7, kind="learned",
                   cosine=0.86)
    far = Passage("answer-8", "where is my parcel", "…", 0.7, kind="learned",
                  cosine=0.52)
    assert topic_of([kb, near], min_cosine=0.8) == ("answer-7", "how do I get a refund")
    assert topic_of([kb, far], min_cosine=0.8) is None


async def _decisions(topic: str, actions: list[str]) -> None:
    for i, action in enumerate(actions):
        accepted = await inbox.accept(inbound(f"form:{topic}-{i}-{action}",
                                              thread=f"form:{topic}-{i}-{action}"))
        message = await Message.get(id=accepted.message_id)
        draft = await Draft.create(
            conversation_id=accepted.conversation_id, message=message, text="t", confidence=0.9,
            decision="review", model="offline", topic=topic,
            sources=[{"source_id": topic, "title": "how do I get a refund", "kind": "learned"}])
        await LearningSignal.create(draft=draft, action=action, agent="U1")


async def test_earned_after_unedited_approvals_and_demoted_when_edits_rise(db: Settings) -> None:
    await _decisions("answer-7", ["approved", "approved"])
    assert not (await topic_record("answer-7", window=10, **RULE)).earned
    await _decisions("answer-7", ["approved"])
    record = await topic_record("answer-7", window=10, **RULE)
    assert record.earned and (record.approved, record.decided) == (3, 3)
    assert [r.question for r in await earned_topics(window=10, **RULE)] == [
        "how do I get a refund"]
    await _decisions("answer-7", ["edited", "rejected"])
    record = await topic_record("answer-7", window=10, **RULE)
    assert not record.earned and record.rate == 0.6
    assert await earned_topics(window=10, **RULE) == []
    # Only the recent window counts: steady approvals win the standing back.
    await _decisions("answer-7", ["approved"] * 10)
    assert (await topic_record("answer-7", window=10, **RULE)).earned
