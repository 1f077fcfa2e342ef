"""Database set-up: the Tortoise config from settings, migrations, and connection lifecycle."""

from __future__ import annotations

import importlib
import logging
import pkgutil
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

import asyncpg
from tortoise import Tortoise, connections
from tortoise.backends.base.config_generator import expand_db_url
from tortoise.backends.base.executor import EXECUTOR_CACHE
from tortoise.migrations.api import migrate as tortoise_migrate

from config import Settings

log = logging.getLogger(__name__)

MODELS_MODULE = "bot.store.models"
MIGRATIONS_MODULE = "bot.store.migrations"


class PooledConnection(asyncpg.Connection):  # type: ignore[misc]  # asyncpg is untyped
    """A pooled PostgreSQL connection that is not reset each time it goes back to the pool.

    Tortoise takes a pool connection for every statement outside a transaction, and asyncpg
    resets a returned connection with a second round trip (``pg_advisory_unlock_all(); CLOSE
    ALL; UNLISTEN *; RESET ALL``). We hold no advisory locks, cursors, listeners or session
    settings, so that query would reset nothing; asyncpg still rolls back an open transaction.
    """

    def get_reset_query(self) -> str:
        return ""


def tortoise_config(db_url: str) -> dict[str, Any]:
    """The Tortoise configuration for one database URL."""
    connection: Any = db_url
    if db_url.startswith("postgres://"):
        # Small pools per process; several web processes and workers share one server.
        connection = expand_db_url(_with_params(db_url, minsize="1", maxsize="10"))
        connection["credentials"]["connection_class"] = PooledConnection
    elif db_url.startswith("sqlite://"):
        # Write-ahead log with fsync at checkpoints, not at every commit (SQLite's advice for
        # WAL; a power cut may lose the last commits, never corrupt the file). A message costs
        # a few commits, each an fsync on the one connection every coroutine waits for.
        connection = _with_params(db_url, journal_mode="WAL", synchronous="NORMAL")
    return {
        "connections": {"default": connection},
        "apps": {
            "models": {
                "models": [MODELS_MODULE],
                "default_connection": "default",
                "migrations": MIGRATIONS_MODULE,
            }
        },
        "use_tz": True,
        "timezone": "UTC",
    }


def _with_params(db_url: str, **params: str) -> str:
    """``db_url`` with ``params`` added to its query string, unless the URL sets them."""
    given = parse_qs(urlsplit(db_url).query)
    extra = urlencode({k: v for k, v in params.items() if k not in given})
    if not extra:
        return db_url
    return db_url + ("&" if "?" in db_url else "?") + extra


def _prepare(settings: Settings) -> str:
    if settings.embedded:
        settings.data_dir.mkdir(parents=True, exist_ok=True)
    return settings.db_url


async def migrate(settings: Settings) -> None:
    """Apply all pending migrations (``supportbot migrate``)."""
    config = tortoise_config(_prepare(settings))
    EXECUTOR_CACHE.clear()
    try:
        await tortoise_migrate(config=config)
    finally:
        await Tortoise.close_connections()


@asynccontextmanager
async def database(settings: Settings, *, run_migrations: bool = False) -> AsyncIterator[None]:
    """Open the database for this process (and optionally migrate first); close on exit."""
    if run_migrations:
        await migrate(settings)
    # Tortoise caches generated SQL per connection name for the whole process; a process that
    # opens another dialect under the same name (tests: SQLite then PostgreSQL) must not reuse it.
    EXECUTOR_CACHE.clear()
    await Tortoise.init(config=tortoise_config(_prepare(settings)), _enable_global_fallback=True)
    try:
        yield
    finally:
        await Tortoise.close_connections()


async def ping() -> None:
    """Raise unless the open database answers a trivial query (readiness, ``doctor``)."""
    await connections.get("default").execute_query("SELECT 1")


def known_migrations() -> list[str]:
    """The names of the migrations this version ships, in order."""
    package = importlib.import_module(MIGRATIONS_MODULE)
    return sorted(m.name for m in pkgutil.iter_modules(package.__path__) if m.name[:1].isdigit())


async def pending_migrations() -> list[str]:
    """Migrations this version ships that the open database has not applied (``doctor``)."""
    try:
        _, rows = await connections.get("default").execute_query(
            "SELECT name FROM tortoise_migrations WHERE app = 'models'")
    except Exception:  # no table yet: nothing was ever migrated
        rows = []
    applied = {str(row["name"]) for row in rows}
    return [name for name in known_migrations() if name not in applied]
