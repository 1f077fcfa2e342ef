"""Shared fixtures: settings factory and databases (SQLite and PostgreSQL, both real)."""

from __future__ import annotations

import asyncio
import os
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import asyncpg
import pytest
from tortoise import Tortoise, connections

from bot.store.db import database, migrate
from config import Settings, load_settings

REPO = Path(__file__).resolve().parents[1]
SHARED_MODELS = REPO.parent / "shared" / "models"
PG_ADMIN_URL = os.environ.get(
    "SUPPORTBOT_TEST_POSTGRES_URL", "postgres://postgres@127.0.0.1:5432/test"
)
_SCRUB = ("SLACK_", "ANTHROPIC_", "IMAP_", "SMTP_", "DATABASE_URL", "QDRANT_", "SUPPORTBOT_")


def model_env() -> dict[str, str]:
    """Offline model paths: from the environment (CI sets them) or ../shared/models."""
    env: dict[str, str] = {}
    for key in ("SUPPORTBOT_EMBED_MODEL_PATH", "SUPPORTBOT_SPARSE_MODEL_PATH"):
        if os.environ.get(key):
            env[key] = os.environ[key]
    embed = SHARED_MODELS / "all-MiniLM-L6-v2-onnx"
    if "SUPPORTBOT_EMBED_MODEL_PATH" not in env and embed.is_dir():
        env["SUPPORTBOT_EMBED_MODEL_PATH"] = str(embed)
    if "SUPPORTBOT_SPARSE_MODEL_PATH" not in env and (SHARED_MODELS / "bm25").is_dir():
        env["SUPPORTBOT_SPARSE_MODEL_PATH"] = str(SHARED_MODELS / "bm25")
    return env


@pytest.fixture(autouse=True)
def _clean_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """Tests never pick up real credentials or deployment settings from the environment."""
    for key in list(os.environ):
        if key.startswith(_SCRUB) and key not in (
            "SUPPORTBOT_EMBED_MODEL_PATH", "SUPPORTBOT_SPARSE_MODEL_PATH"
        ):
            monkeypatch.delenv(key, raising=False)
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")


SettingsFactory = Callable[..., Settings]


@pytest.fixture
def make_settings(tmp_path: Path) -> SettingsFactory:
    """Build Settings from a dict of env-style overrides, rooted in a fresh data dir."""

    def factory(**env: Any) -> Settings:
        base = {"SUPPORTBOT_DATA_DIR": str(tmp_path / "data"), **model_env()}
        base.update({k: str(v) for k, v in env.items()})
        return load_settings(base, env_file=None)

    return factory


# --- PostgreSQL: one fresh database per test session, truncated between tests -------------


def _run(coro_fn: Callable[[], Any]) -> Any:
    """Run a coroutine function to completion on a private loop in a thread: session fixtures
    are resolved from inside pytest-asyncio's running loop, where asyncio.run is refused."""
    with ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(lambda: asyncio.run(coro_fn())).result()


def _pg_available() -> bool:
    async def probe() -> bool:
        try:
            conn = await asyncpg.connect(PG_ADMIN_URL, timeout=3)
        except (OSError, asyncpg.PostgresError):
            return False
        await conn.close()
        return True

    return bool(_run(probe))


@pytest.fixture(scope="session")
def pg_url() -> Iterator[str]:
    """URL of a throw-away PostgreSQL database with our migrations applied."""
    if not _pg_available():
        if os.environ.get("CI"):
            pytest.fail(f"PostgreSQL is required in CI and is not reachable at {PG_ADMIN_URL}")
        pytest.skip(f"PostgreSQL not reachable at {PG_ADMIN_URL}")
    name = f"supportbot_test_{uuid.uuid4().hex[:10]}"
    base, _, _ = PG_ADMIN_URL.rpartition("/")
    url = f"{base}/{name}"

    async def create() -> None:
        conn = await asyncpg.connect(PG_ADMIN_URL)
        await conn.execute(f'CREATE DATABASE "{name}"')
        await conn.close()
        await migrate(load_settings({"DATABASE_URL": url}, env_file=None))

    async def drop() -> None:
        conn = await asyncpg.connect(PG_ADMIN_URL)
        await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await conn.close()

    _run(create)
    yield url
    _run(drop)


async def _truncate_all() -> None:
    conn = connections.get("default")
    tables = [m._meta.db_table for m in Tortoise.apps.get_models_iterable()]  # type: ignore[union-attr]
    await conn.execute_script(
        "TRUNCATE " + ", ".join(f'"{t}"' for t in tables) + " RESTART IDENTITY CASCADE"
    )


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
async def db(
    request: pytest.FixtureRequest, make_settings: SettingsFactory
) -> AsyncIterator[Settings]:
    """An open, migrated, empty database: SQLite in a temp dir, and PostgreSQL."""
    if request.param == "sqlite":
        settings = make_settings()
        async with database(settings, run_migrations=True):
            yield settings
    else:
        settings = make_settings(DATABASE_URL=request.getfixturevalue("pg_url"))
        async with database(settings):
            await _truncate_all()
            yield settings


@pytest.fixture
async def sqlite_db(make_settings: SettingsFactory) -> AsyncIterator[Settings]:
    """An open, migrated SQLite database, for tests where the backend does not matter."""
    settings = make_settings()
    async with database(settings, run_migrations=True):
        yield settings
