"""Database set-up: the Tortoise config from settings, migrations, and connection lifecycle."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from tortoise import Tortoise
from tortoise.backends.base.executor import EXECUTOR_CACHE
from tortoise.migrations.api import migrate as tortoise_migrate

from config import Settings

log = logging.getLogger(__name__)

MODELS_MODULE = "bot.models"
MIGRATIONS_MODULE = "bot.migrations"


def tortoise_config(db_url: str) -> dict[str, Any]:
    """The Tortoise configuration for one database URL."""
    connection: Any = db_url
    if db_url.startswith("postgres://"):
        # Small pools per process; several web processes and workers share one server.
        connection = db_url + ("&" if "?" in db_url else "?") + "minsize=1&maxsize=10"
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
