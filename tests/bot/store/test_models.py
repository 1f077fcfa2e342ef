"""Storage basics on both backends: migrations apply and the dedupe keys hold."""

from __future__ import annotations

import pytest
from tortoise.exceptions import IntegrityError

from bot.store.models import Conversation, Message


async def test_message_dedupe_key_is_unique_per_channel(db: object) -> None:
    conv = await Conversation.create(channel="webhook", thread_key="form:1", token="tok1")
    await Message.create(conversation=conv, channel="webhook", direction="in", author="a",
                         text="hi", channel_message_id="m1")
    # The same id in another channel is a different message.
    await Message.create(conversation=conv, channel="email", direction="in", author="a",
                         text="hi", channel_message_id="m1")
    with pytest.raises(IntegrityError):
        await Message.create(conversation=conv, channel="webhook", direction="in", author="a",
                             text="again", channel_message_id="m1")
    assert await Message.filter(conversation=conv).count() == 2


async def test_runtime_values_round_trip_including_plain_strings(db: object) -> None:
    from bot.store import kv

    assert await kv.get_value("auto_send_threshold", "unset") == "unset"
    for value in ("off", 0.8, ["C1", "C2"], {"uidvalidity": 7, "last_uid": 42}):
        await kv.put_value("k", value, updated_by="U1")
        assert await kv.get_value("k") == value
    await kv.delete_value("k")
    assert await kv.get_value("k") is None


async def test_a_conversations_history_is_read_through_an_index(db: object) -> None:
    """The router reads a conversation's history for every message: with many conversations
    that query must not scan the whole message table (migration 0003)."""
    from tortoise import connections

    conn = connections.get("default")
    sql = 'SELECT id FROM message WHERE conversation_id = 1 ORDER BY id DESC LIMIT 6'
    if conn.capabilities.dialect == "sqlite":
        plan = " ".join(str(tuple(row)) for row in (await conn.execute_query(
            f"EXPLAIN QUERY PLAN {sql}"))[1])
        assert "USING INDEX" in plan or "USING COVERING INDEX" in plan, plan
    else:
        from tortoise.transactions import in_transaction

        # On a tiny table a scan is cheaper; forbid it (SET LOCAL: this transaction only, so
        # the pooled connection goes back unchanged) to see which index the planner would use.
        async with in_transaction() as tx:
            await tx.execute_script("SET LOCAL enable_seqscan = off")
            plan = " ".join(str(tuple(row)) for row in
                            (await tx.execute_query(f"EXPLAIN {sql}"))[1])
        assert "idx_message_convers" in plan, plan
