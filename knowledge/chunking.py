"""Heading-aware chunking of Markdown-ish text into retrieval units.

Support knowledge is mostly FAQ-shaped: a heading, then the ways customers ask, or a question
heading followed by its answer. Each such question is the unit a customer message should match,
so it becomes its own chunk (a "multi-vector" document); every section is also kept as word
windows with its heading path, so prose is searchable too. Documents are ranked by their best
chunk, which makes the extra units cheap to add and never dilutes a long section.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from knowledge.types import Chunk, Document

_HEADING = re.compile(r"^\s{0,3}(#{1,6})\s+(.+?)\s*#*\s*$")
_LIST_ITEM = re.compile(r"^\s{0,3}(?:[-*+]|\d{1,3}[.)])\s+(.*\S)\s*$")
_FENCE = re.compile(r"^\s{0,3}(```|~~~)")
_MD_NOISE = re.compile(r"[*_`]+|\[([^\]]*)\]\([^)]*\)")


@dataclass(frozen=True, slots=True)
class ChunkingOptions:
    """Knobs of the chunker; the defaults were chosen on the benchmark sets.

    ``max_words``/``overlap_words`` bound section windows (MiniLM reads ~256 tokens, about
    180 words). Items and question headings up to ``unit_max_words`` become their own units.
    """

    max_words: int = 180
    overlap_words: int = 30
    unit_max_words: int = 40
    title_unit: bool = True
    unit_context: bool = False  # prefix units with the document title when embedding

    def signature(self) -> str:
        """A short string that changes whenever chunk output would change."""
        return (
            f"v1:{self.max_words}:{self.overlap_words}:{self.unit_max_words}:"
            f"{int(self.title_unit)}:{int(self.unit_context)}"
        )


@dataclass(slots=True)
class _Section:
    path: tuple[str, ...]
    lines: list[str]
    items: list[str]


def clean_inline(text: str) -> str:
    """Strip Markdown emphasis and link syntax, keeping link text; squash whitespace."""
    return " ".join(_MD_NOISE.sub(lambda m: m.group(1) or "", text).split())


def split_sections(body: str) -> list[_Section]:
    """Split Markdown into sections by ATX headings, remembering the heading path of each.

    List items are collected separately (continuation lines are joined); fenced code is kept
    verbatim so a ``#`` comment inside it is never taken for a heading.
    """
    stack: list[str] = []
    sections = [_Section((), [], [])]
    in_fence = False
    current_item: list[str] | None = None
    for line in body.splitlines():
        if _FENCE.match(line):
            in_fence = not in_fence
            sections[-1].lines.append(line)
            current_item = None
            continue
        heading = None if in_fence else _HEADING.match(line)
        if heading:
            level = len(heading.group(1))
            stack = [*stack[: level - 1], clean_inline(heading.group(2))]
            sections.append(_Section(tuple(stack), [], []))
            current_item = None
            continue
        item = None if in_fence else _LIST_ITEM.match(line)
        if item:
            current_item = [item.group(1)]
            sections[-1].items.append("")
            sections[-1].lines.append(line)
        elif current_item is not None and line.startswith((" ", "\t")) and line.strip():
            current_item.append(line.strip())
            sections[-1].lines.append(line)
        else:
            current_item = None
            sections[-1].lines.append(line)
        if current_item is not None:
            sections[-1].items[-1] = clean_inline(" ".join(current_item))
    return [s for s in sections if s.path or any(line.strip() for line in s.lines)]


def word_windows(words: list[str], size: int, overlap: int) -> list[list[str]]:
    """Consecutive windows of at most ``size`` words, each sharing ``overlap`` with the last."""
    if len(words) <= size:
        return [words] if words else []
    step = max(1, size - overlap)
    windows = []
    for start in range(0, len(words), step):
        windows.append(words[start : start + size])
        if start + size >= len(words):
            break
    return windows


def _context(title: str, path: tuple[str, ...]) -> tuple[str, ...]:
    """The heading path with the document title first, not repeated."""
    if path and path[0].casefold() == title.casefold():
        return path
    return (title, *path)


def chunk_document(doc: Document, options: ChunkingOptions | None = None) -> list[Chunk]:
    """Cut a document into retrieval units: question/item units, then section windows."""
    opts = options or ChunkingOptions()
    chunks: list[Chunk] = []
    seen_units: set[str] = set()

    def add(text: str, embed_text: str, path: tuple[str, ...], unit: str) -> None:
        if unit == "item":
            key = embed_text.casefold()
            if key in seen_units:
                return
            seen_units.add(key)
        chunks.append(Chunk(doc.doc_id, len(chunks), text, embed_text, path, unit))  # type: ignore[arg-type]

    def unit_embed(text: str) -> str:
        return f"{doc.title}: {text}" if opts.unit_context else text

    sections = split_sections(doc.body)
    first_window = ""
    for section in sections:
        path = _context(doc.title, section.path)
        prose = clean_inline(" ".join(line.strip() for line in section.lines if line.strip()))
        header = " > ".join(path)
        windows = word_windows(prose.split(), opts.max_words, opts.overlap_words)
        heading = section.path[-1] if section.path else ""
        if heading.endswith("?") and len(heading.split()) <= opts.unit_max_words:
            # A question heading is what customers ask; show it with the start of its answer.
            answer = " ".join(windows[0]) if windows else ""
            add(f"{heading}\n{answer}".strip(), unit_embed(heading), path, "item")
        for item in section.items:
            if item and len(item.split()) <= opts.unit_max_words:
                add(item, unit_embed(item), path, "item")
        for window in windows:
            text = " ".join(window)
            first_window = first_window or f"{header}\n{text}"
            add(f"{header}\n{text}", f"{header}\n{text}", path, "section")
    if opts.title_unit and doc.title:
        add(first_window or doc.title, doc.title, (doc.title,), "item")
    if not chunks and doc.title:
        add(doc.title, doc.title, (doc.title,), "section")
    return chunks
