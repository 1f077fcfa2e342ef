"""Knowledge: load, chunk and embed support documents; hybrid search in Qdrant; learned answers.

Imports ``config`` only (enforced by import-linter); the router maps ``Hit`` onto its own types.
"""

from knowledge.chunking import ChunkingOptions, chunk_document
from knowledge.client import make_qdrant_client
from knowledge.embedder import Embedder
from knowledge.fusion import SEARCH_MODES, SearchMode
from knowledge.index import DEFAULT_COLLECTION, IndexedDoc, KnowledgeBase, KnowledgeError
from knowledge.types import Chunk, Document, Hit, IngestReport, ProgressFn

__all__ = [
    "DEFAULT_COLLECTION",
    "SEARCH_MODES",
    "Chunk",
    "ChunkingOptions",
    "Document",
    "Embedder",
    "Hit",
    "IndexedDoc",
    "IngestReport",
    "KnowledgeBase",
    "KnowledgeError",
    "ProgressFn",
    "SearchMode",
    "chunk_document",
    "make_qdrant_client",
]
