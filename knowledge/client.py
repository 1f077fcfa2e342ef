"""The one place a vector store is opened from settings (composition roots call it)."""

from __future__ import annotations

from config import Settings
from knowledge.migrate import import_local_mode
from knowledge.store import VectorStore
from knowledge.store_edge import EdgeStore
from knowledge.types import ProgressFn


def make_vector_store(settings: Settings) -> VectorStore:
    """A Qdrant server store when ``QDRANT_URL`` is set, else Qdrant Edge in the data dir.

    An Edge shard admits one process at a time: the worker and a separate ``kb`` command on
    the same data dir cannot both open it (the second gets ``StoreError``).
    """
    if settings.qdrant_url:
        # Imported here: qdrant-client takes ~2 s of CPU to import (its HTTP models), which
        # every CLI command and the embedded setup would otherwise pay.
        from qdrant_client import AsyncQdrantClient

        from knowledge.store_client import ClientStore

        api_key = settings.qdrant_api_key.get_secret_value() if settings.qdrant_api_key else None
        # The version check runs in a background thread at construction and only warns; a
        # server of another minor version is reported by the first real call instead.
        return ClientStore(client=AsyncQdrantClient(url=settings.qdrant_url, api_key=api_key,
                                                    check_compatibility=False))
    return EdgeStore(root=settings.edge_path)


async def open_vector_store(
    settings: Settings, *, progress: ProgressFn | None = None
) -> VectorStore:
    """``make_vector_store``, and on the embedded setup a data dir of the old Qdrant local
    mode imported into Edge first (once; every point copied, the old folder kept aside)."""
    store = make_vector_store(settings)
    if isinstance(store, EdgeStore):
        try:
            await import_local_mode(store, settings.qdrant_path, progress=progress)
        except BaseException:
            await store.close()
            raise
    return store
