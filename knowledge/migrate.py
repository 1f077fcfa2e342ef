"""Import a data dir made by the old embedded engine (qdrant-client's local mode) into Edge.

Before Qdrant Edge, the embedded index lived in ``$SUPPORTBOT_DATA_DIR/qdrant`` as pickled
points in SQLite files. On first start after the upgrade every collection found there (the
knowledge chunks, learned answers, rejections) is copied point by point, vectors and payloads
as they are, into an Edge shard: nothing is re-embedded, and a learned answer keeps its
approvals and the ids merged into it (which the database does not hold). The knowledge
folder is then reconciled by the usual ingest. The old folder is renamed, never deleted.

A crash half-way leaves a marker next to the unfinished shard; the next start drops that
shard and copies the collection again, since the old folder is still in place.
"""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path
from typing import TYPE_CHECKING

from knowledge.store import Point, Schema
from knowledge.store_edge import EdgeStore
from knowledge.types import ProgressFn

if TYPE_CHECKING:
    from knowledge.store_client import ClientStore

log = logging.getLogger(__name__)

MIGRATED_SUFFIX = ".migrated-to-edge"
PAGE = 1000


def local_mode_collections(legacy: Path) -> list[str]:
    """The collections of an old local-mode folder (none when it is not one)."""
    folder = legacy / "collection"
    if not folder.is_dir():
        return []
    return sorted(d.name for d in folder.iterdir() if d.is_dir())


async def import_local_mode(
    store: EdgeStore, legacy: Path, *, progress: ProgressFn | None = None
) -> int:
    """Copy every collection of the local-mode folder ``legacy`` into ``store``; returns the
    number of points copied. Renames ``legacy`` to ``qdrant.migrated-to-edge`` when done."""
    names = local_mode_collections(legacy)
    if not names:
        return 0
    log.warning(
        "found an index of the old embedded engine (Qdrant local mode) in %s: copying %d "
        "collections (%s) into Qdrant Edge in %s", legacy, len(names), ", ".join(names),
        store.root,
    )
    # Only here: qdrant-client takes ~2 s of CPU to import, and only old data dirs need it.
    from qdrant_client import AsyncQdrantClient

    from knowledge.store_client import ClientStore

    source = ClientStore(client=AsyncQdrantClient(path=str(legacy)))
    copied = 0
    try:
        for name in names:
            copied += await _import_collection(source, store, name, progress)
    finally:
        await source.close()
    target = legacy.with_name(legacy.name + MIGRATED_SUFFIX)
    if target.exists():
        target = legacy.with_name(f"{legacy.name}{MIGRATED_SUFFIX}-{len(names)}-{copied}")
    await asyncio.to_thread(legacy.rename, target)
    log.warning("imported %d points from Qdrant local mode; the old folder is kept as %s",
                copied, target)
    return copied


async def _import_collection(
    source: ClientStore, store: EdgeStore, name: str, progress: ProgressFn | None
) -> int:
    marker = store.root / f".importing-{name}"
    if marker.exists():
        log.warning("a previous import of %s did not finish: copying it again", name)
        await store.drop(name)
    elif await store.exists(name):
        log.info("%s is already a Qdrant Edge shard: not imported again", name)
        return 0
    info = await source.client.get_collection(name)
    dense = info.config.params.vectors
    sparse = info.config.params.sparse_vectors or {}
    schema = Schema(
        dense={k: v.size for k, v in dense.items()} if isinstance(dense, dict) else {},
        sparse=tuple(sparse),
    )
    total = await source.count(name)
    store.root.mkdir(parents=True, exist_ok=True)
    marker.write_text("import from Qdrant local mode in progress\n")
    await store.ensure(name, schema)
    done = 0
    async for page in source.pages(name, fields=True, vectors=True, size=PAGE):
        await store.upsert(name, [Point(p.id, p.vectors, p.payload) for p in page])
        done += len(page)
        if progress:
            progress(done, total, name)
        if done == total or done % (PAGE * 10) == 0:
            log.info("imported %d/%d points of %s", done, total, name)
    await store.optimize(name)
    if await store.count(name) != total:  # never drop the old data on a short copy
        raise RuntimeError(f"import of {name}: {await store.count(name)} of {total} points")
    marker.unlink()
    return done
