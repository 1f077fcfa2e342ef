"""Knowledge: load, chunk and embed support documents; hybrid search in Qdrant
(Edge in-process, or a server); learned answers.

Imports ``config`` only (enforced by import-linter); the router maps ``Hit`` onto its own types.
"""

from typing import TYPE_CHECKING, Any

from knowledge.chunking import ChunkingOptions, chunk_document
from knowledge.client import make_vector_store, open_vector_store
from knowledge.embedder import Embedder
from knowledge.fusion import SEARCH_MODES, SearchMode
from knowledge.index import DEFAULT_COLLECTION, IndexedDoc, KnowledgeBase, KnowledgeError
from knowledge.store import StoreError, VectorStore
from knowledge.store_edge import EdgeStore
from knowledge.types import Chunk, Document, Hit, IngestReport, ProgressFn

if TYPE_CHECKING:
    from knowledge.store_client import ClientStore


def __getattr__(name: str) -> Any:
    # ``ClientStore`` on first use: qdrant-client takes ~2 s of CPU to import, and only a
    # Qdrant server (``QDRANT_URL``) or an old local-mode data dir needs it.
    if name == "ClientStore":
        from knowledge.store_client import ClientStore

        return ClientStore
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")

__all__ = [
    "DEFAULT_COLLECTION",
    "SEARCH_MODES",
    "Chunk",
    "ChunkingOptions",
    "ClientStore",
    "Document",
    "EdgeStore",
    "Embedder",
    "Hit",
    "IndexedDoc",
    "IngestReport",
    "KnowledgeBase",
    "KnowledgeError",
    "ProgressFn",
    "SearchMode",
    "StoreError",
    "VectorStore",
    "chunk_document",
    "make_vector_store",
    "open_vector_store",
]
