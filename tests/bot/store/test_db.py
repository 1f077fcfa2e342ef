"""Connection settings from ``bot.store.db``: SQLite pragmas and pooled PostgreSQL connections."""

from __future__ import annotations

from tortoise import connections

from bot.store.db import PooledConnection, tortoise_config
from bot.store.models import Customer
from config import Settings


def test_sqlite_urls_get_wal_and_normal_sync_unless_they_say_otherwise() -> None:
    url = tortoise_config("sqlite:///tmp/x.sqlite3")["connections"]["default"]
    assert url == "sqlite:///tmp/x.sqlite3?journal_mode=WAL&synchronous=NORMAL"
    own = tortoise_config("sqlite:///tmp/x.sqlite3?synchronous=FULL")["connections"]["default"]
    assert own == "sqlite:///tmp/x.sqlite3?synchronous=FULL&journal_mode=WAL"


def test_postgres_pools_are_small_and_skip_the_reset_round_trip() -> None:
    conn = tortoise_config("postgres://u@db.example:5432/app?maxsize=3")["connections"]["default"]
    credentials = conn["credentials"]
    assert (credentials["minsize"], credentials["maxsize"]) == ("1", "3")
    assert credentials["connection_class"] is PooledConnection


async def test_the_pragmas_apply_to_the_open_sqlite_database(sqlite_db: Settings) -> None:
    conn = connections.get("default")
    _, journal = await conn.execute_query("PRAGMA journal_mode")
    _, sync = await conn.execute_query("PRAGMA synchronous")
    assert journal[0][0] == "wal"
    assert sync[0][0] == 1  # NORMAL


async def test_statements_work_through_the_pool_on_both_backends(db: Settings) -> None:
    # Many statements outside a transaction: each takes and returns a pooled connection.
    for i in range(20):
        await Customer.create(external_id=f"webhook:{i}")
    assert await Customer.all().count() == 20


async def test_a_failed_transaction_leaves_no_trace_on_its_pooled_connection(
    db: Settings,
) -> None:
    import pytest
    from tortoise.transactions import in_transaction

    class Boom(Exception):
        pass

    with pytest.raises(Boom):
        async with in_transaction():
            await Customer.create(external_id="webhook:rolled-back")
            raise Boom
    # Connections go back to the pool without asyncpg's reset query; the rollback still
    # happened, and every connection handed out afterwards works.
    for i in range(15):
        await Customer.create(external_id=f"webhook:after-{i}")
    assert not await Customer.filter(external_id="webhook:rolled-back").exists()
    assert await Customer.all().count() == 15
