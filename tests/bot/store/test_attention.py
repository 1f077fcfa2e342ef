"""``waiting_on_us`` on SQLite and PostgreSQL: which of 200 conversations wait on us, and the
list costs a fixed number of queries however many there are (set-based, not one loop of
queries per conversation)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from tortoise import connections

from bot.store import attention, inbox, outbox
from bot.store.models import Draft, OutboxItem
from config import Settings
from tests.fakes.support import inbound


@contextmanager
def counted_queries(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[str]]:
    """Every SELECT the default connection runs, while the block runs."""
    seen: list[str] = []
    client = connections.get("default")
    for name in ("execute_query", "execute_query_dict"):
        original = getattr(client, name)

        async def counting(query: str, *args: Any, _original: Any = original,
                           **kwargs: Any) -> Any:
            seen.append(query)
            return await _original(query, *args, **kwargs)

        monkeypatch.setattr(client, name, counting)
    yield seen
    monkeypatch.undo()


async def conversations(n: int) -> dict[str, set[int]]:
    """``n`` conversations, every fourth in each state: waiting with a pending draft, waiting
    with nothing (after a rejection, say), answered (a reply on its way), dead letter."""
    kinds: dict[str, set[int]] = {"draft": set(), "bare": set(), "answered": set(),
                                  "dead": set()}
    for i in range(n):
        accepted = await inbox.accept(inbound(f"m{i}", thread=f"form:c{i}",
                                              text=f"Question number {i} about my parcel",
                                              sender=f"cust-{i}"))
        cid = accepted.conversation_id
        kind = ("draft", "bare", "answered", "dead")[i % 4]
        kinds[kind].add(cid)
        if kind == "draft":
            await Draft.create(conversation_id=cid, message_id=accepted.message_id,
                               text="Draft", confidence=0.5, decision="review",
                               model="offline")
        elif kind in ("answered", "dead"):
            item = await outbox.enqueue_reply(conversation_id=cid, text="Reply",
                                              decided_by="U1", draft_id=None, auto=False)
            if kind == "dead":
                await OutboxItem.filter(id=item.id).update(status="dead", last_error="boom")
    return kinds


async def test_two_hundred_conversations_in_a_fixed_number_of_queries(
    db: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    kinds = await conversations(200)
    with counted_queries(monkeypatch) as queries:
        waiting = await attention.waiting_on_us(limit=500)
    # Conversations (+ their customers), four grouped "newest per conversation", messages,
    # replies: 8, whatever the number of conversations (it was ~4 per conversation).
    assert 3 <= len(queries) <= 8, len(queries)
    by_id = {w.conversation_id: w for w in waiting}
    assert set(by_id) == kinds["draft"] | kinds["bare"] | kinds["dead"]
    assert {by_id[c].reason for c in kinds["draft"]} == {"draft to review"}
    assert {by_id[c].reason for c in kinds["bare"]} == {"needs a reply"}
    assert {by_id[c].reason for c in kinds["dead"]} == {"reply not delivered"}
    some = by_id[min(kinds["bare"])]
    assert some.first_words.startswith("Question number") and some.customer
    assert all(by_id[c].pending_draft_id is not None for c in kinds["draft"])
    assert [w.since for w in waiting] == sorted(w.since for w in waiting)
