"""Result and record types of the knowledge package.

``knowledge`` may not import ``bot``, so it owns these small frozen types; the router maps a
``Hit`` onto its own ``Passage``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

HitKind = Literal["kb", "learned"]


@dataclass(frozen=True, slots=True)
class Hit:
    """One retrieved source, ranked at document level (or one learned answer).

    ``score`` is the fused score of the search mode in [0, 1]; ``dense_score`` is the raw
    cosine of the best-matching chunk (what confidence uses for top score and margin);
    ``sparse_score`` the BM25 score of the best chunk (unbounded, 0 when no term matched).
    ``text`` is the best-matching chunk, ``chunk_id`` its point id. ``sections`` are the
    sections of the document's best-matching chunks (the best chunk's first), for the drafter.
    """

    doc_id: str
    chunk_id: str
    title: str
    text: str
    score: float
    kind: HitKind = "kb"
    dense_score: float = 0.0
    sparse_score: float = 0.0
    metadata: Mapping[str, Any] = field(default_factory=dict)
    sections: tuple[HitSection, ...] = ()


@dataclass(frozen=True, slots=True)
class Chunk:
    """A retrieval unit of a document: a FAQ question, a list item or a section window.

    ``embed_text`` is what gets embedded (the unit, with enough heading context to stand on
    its own); ``text`` is the unit as shown. ``section`` is the Markdown of the section (or,
    for a long one, the part of it) the unit belongs to, and ``position`` that section part's
    place in the document: what a drafter is given around a hit.
    """

    doc_id: str
    index: int
    text: str
    embed_text: str
    heading_path: tuple[str, ...]
    unit: Literal["item", "section"]
    section: str = ""
    position: int = 0


@dataclass(frozen=True, slots=True)
class HitSection:
    """A section (part) of a hit's document that holds one of its matching chunks."""

    heading_path: tuple[str, ...]
    text: str
    position: int


@dataclass(frozen=True, slots=True)
class Document:
    """A loaded knowledge file: its id (path relative to the KB root, no extension)."""

    doc_id: str
    title: str
    body: str
    source: str
    content_hash: str
    format: Literal["markdown", "text", "html"]
    metadata: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class IngestReport:
    """What an ingest run changed in the index."""

    added: tuple[str, ...] = ()
    updated: tuple[str, ...] = ()
    unchanged: tuple[str, ...] = ()
    removed: tuple[str, ...] = ()
    chunks: int = 0
    errors: Mapping[str, str] = field(default_factory=dict)

    @property
    def changed(self) -> bool:
        """True when the index differs from before the run."""
        return bool(self.added or self.updated or self.removed)


# Called as progress(done, total, doc_id) while ingesting or evaluating.
ProgressFn = Callable[[int, int, str], None]
