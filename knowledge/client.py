"""The one place a Qdrant client is created from settings (composition roots call it)."""

from __future__ import annotations

from qdrant_client import AsyncQdrantClient

from config import Settings


def make_qdrant_client(settings: Settings) -> AsyncQdrantClient:
    """A Qdrant server client when ``QDRANT_URL`` is set, else local mode in the data dir.

    Local mode locks its folder: one process at a time may open it, so the worker and a
    separate ``kb`` command on the same data dir cannot both hold it open.
    """
    if settings.qdrant_url:
        api_key = settings.qdrant_api_key.get_secret_value() if settings.qdrant_api_key else None
        # The version check runs in a background thread at construction and only warns; a
        # server of another minor version is reported by the first real call instead.
        return AsyncQdrantClient(url=settings.qdrant_url, api_key=api_key,
                                 check_compatibility=False)
    settings.qdrant_path.mkdir(parents=True, exist_ok=True)
    return AsyncQdrantClient(path=str(settings.qdrant_path))
