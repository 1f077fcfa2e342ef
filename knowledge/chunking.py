"""Heading-aware chunking of Markdown-ish text into retrieval units.

Support knowledge is mostly FAQ-shaped: a heading, then the ways customers ask, or a question
heading followed by its answer. Each such question is the unit a customer message should match,
so it becomes its own chunk (a "multi-vector" document); every section is also kept as word
windows with its heading path, so prose is searchable too. Documents are ranked by their best
chunk, which makes the extra units cheap to add and never dilutes a long section.
"""

from __future__ import annotations

import html
import re
from dataclasses import dataclass

from knowledge.types import Chunk, Document

_HEADING = re.compile(r"^\s{0,3}(#{1,6})\s+(.+?)\s*#*\s*$")
_LIST_ITEM = re.compile(r"^\s{0,3}(?:[-*+]|\d{1,3}[.)])\s+(.*\S)\s*$")
_FENCE = re.compile(r"^\s{0,3}(```|~~~)")
# For embedding, asterisks go (emphasis, or noise to the model: the retrieval benchmarks were
# tuned without them); underscores only where they pair as emphasis at word edges (``_em_``),
# so ``HTTPS_PROXY``, ``en_US`` and ``_config.yml`` keep theirs. Shown text keeps everything.
_UNDERSCORE_EMPHASIS = re.compile(r"(?<!\w)(_{1,2})(?=\S)(.+?)(?<=\S)\1(?!\w)")
_CODE_OR_LINK = re.compile(r"\*+|`+|\[([^\]]*)\]\([^)]*\)")
_HTML_COMMENT = re.compile(r"<!--.*?-->", re.DOTALL)
# Hugo/Jekyll shortcodes ({{< hint >}}, {{% deprecated %}}): layout, not text.
_SHORTCODE = re.compile(r"\{\{[<%].*?[%>]\}\}")
_IMAGE = re.compile(r"!\[[^\]]*\]\([^)]*\)")
_HEADING_ANCHOR = re.compile(r"\s*\{#[^}]*\}\s*$")
_LINE_BREAK = re.compile(r"(?<!\\)\\$")  # a Markdown hard line break: a trailing backslash
_TABLE_RULE = re.compile(r"^\s*\|?\s*:?-{3,}")


@dataclass(frozen=True, slots=True)
class ChunkingOptions:
    """Knobs of the chunker; the defaults were chosen on the benchmark sets.

    ``max_words``/``overlap_words`` bound section windows (MiniLM reads ~256 tokens, about
    180 words). Items and question headings up to ``unit_max_words`` become their own units.
    ``section_max_chars`` bounds the section text each chunk carries for the drafter (a
    longer section is cut between blocks into parts, a long table or list between rows).
    """

    max_words: int = 180
    overlap_words: int = 30
    unit_max_words: int = 40
    title_unit: bool = True
    unit_context: bool = False  # prefix units with the document title when embedding
    section_max_chars: int = 2400

    def signature(self) -> str:
        """A short string that changes whenever chunk output would change."""
        return (
            f"v2:{self.max_words}:{self.overlap_words}:{self.unit_max_words}:"
            f"{int(self.title_unit)}:{int(self.unit_context)}:{self.section_max_chars}"
        )


@dataclass(slots=True)
class _Section:
    path: tuple[str, ...]
    lines: list[str]
    items: list[str]


def clean_inline(text: str) -> str:
    """Strip Markdown emphasis, code and link syntax for embedding, keeping link text and the
    underscores inside words; squash whitespace."""
    text = _CODE_OR_LINK.sub(lambda m: m.group(1) or "", text)
    return " ".join(_UNDERSCORE_EMPHASIS.sub(r"\2", text).split())


def normalise_markdown(body: str) -> str:
    """Drop what is layout, not text: HTML comments (``<!-- toc -->``), shortcodes, images,
    heading anchors (``{#id}``) and hard line-break backslashes. Code fences are untouched."""
    out: list[str] = []
    in_fence = False
    for block in re.split(r"(^\s{0,3}(?:```|~~~).*$)", body, flags=re.MULTILINE):
        if _FENCE.match(block):
            in_fence = not in_fence
            out.append(block)
            continue
        if in_fence:
            out.append(block)
            continue
        text = _SHORTCODE.sub("", _HTML_COMMENT.sub("", block))
        lines = []
        for line in text.split("\n"):
            line = _LINE_BREAK.sub("", _IMAGE.sub("", line).rstrip())
            if _HEADING.match(line):
                line = _HEADING_ANCHOR.sub("", line)
            lines.append(line)
        out.append(html.unescape("\n".join(lines)))
    return "".join(out)


def split_sections(body: str) -> list[_Section]:
    """Split Markdown into sections by ATX headings, remembering the heading path of each.

    The path holds the headings above a section by level, whatever levels were skipped (a
    ``###`` right under a ``#`` is its child, and the next ``###`` its sibling). List items are
    collected separately (continuation lines are joined); fenced code is kept verbatim so a
    ``#`` comment inside it is never taken for a heading.
    """
    stack: list[tuple[int, str]] = []
    sections = [_Section((), [], [])]
    in_fence = False
    current_item: list[str] | None = None
    for line in normalise_markdown(body).splitlines():
        if _FENCE.match(line):
            in_fence = not in_fence
            sections[-1].lines.append(line)
            current_item = None
            continue
        heading = None if in_fence else _HEADING.match(line)
        if heading:
            level = len(heading.group(1))
            while stack and stack[-1][0] >= level:
                stack.pop()
            stack.append((level, clean_inline(heading.group(2))))
            sections.append(_Section(tuple(title for _, title in stack), [], []))
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
            sections[-1].items[-1] = " ".join(current_item)
    return [s for s in sections if s.path or any(line.strip() for line in s.lines)]


def _blocks(lines: list[str]) -> list[list[str]]:
    """Lines grouped into blocks: paragraphs, lists, tables; a code fence is one block."""
    blocks: list[list[str]] = []
    current: list[str] = []
    in_fence = False
    for line in lines:
        if _FENCE.match(line):
            in_fence = not in_fence
        if not line.strip() and not in_fence:
            if current:
                blocks.append(current)
                current = []
            continue
        current.append(line)
    if current:
        blocks.append(current)
    return blocks


def _split_block(block: list[str], limit: int) -> list[list[str]]:
    """A block longer than ``limit`` characters cut between lines; the parts of a table all
    start with its header row and rule, so every part is still a table."""
    header = block[:2] if len(block) > 2 and _TABLE_RULE.match(block[1]) else []
    parts: list[list[str]] = []
    current: list[str] = list(header)
    size = sum(len(line) + 1 for line in header)
    for line in block[len(header):]:
        if size + len(line) + 1 > limit and len(current) > len(header):
            parts.append(current)
            current, size = list(header), sum(len(h) + 1 for h in header)
        current.append(line)
        size += len(line) + 1
    if len(current) > len(header):
        parts.append(current)
    return parts


def section_parts(lines: list[str], limit: int) -> list[str]:
    """A section's Markdown cut between blocks into parts of at most about ``limit`` chars."""
    parts: list[str] = []
    current: list[str] = []
    size = 0
    for block in _blocks(lines):
        text = "\n".join(block)
        pieces = ["\n".join(p) for p in _split_block(block, limit)] if len(text) > limit \
            else [text]
        for piece in pieces:
            if current and size + len(piece) + 2 > limit:
                parts.append("\n\n".join(current))
                current, size = [], 0
            current.append(piece)
            size += len(piece) + 2
    if current:
        parts.append("\n\n".join(current))
    return parts


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
    """Cut a document into retrieval units: question/item units, then section windows.

    Every chunk carries the Markdown of the section part it came from (``section``) and that
    part's place in the document (``position``), so a search hit can hand the drafter its
    whole section without another round trip.
    """
    opts = options or ChunkingOptions()
    chunks: list[Chunk] = []
    seen_units: set[str] = set()

    def add(text: str, embed_text: str, path: tuple[str, ...], unit: str, section: str,
            position: int) -> None:
        if unit == "item":
            key = embed_text.casefold()
            if key in seen_units:
                return
            seen_units.add(key)
        chunks.append(Chunk(doc.doc_id, len(chunks), text, embed_text, path, unit,  # type: ignore[arg-type]
                            section, position))

    def unit_embed(text: str) -> str:
        return f"{doc.title}: {text}" if opts.unit_context else text

    first: tuple[str, str, int] | None = None  # the first window, its section and position
    position = 0
    for section in split_sections(doc.body):
        path = _context(doc.title, section.path)
        header = " > ".join(path)
        heading = section.path[-1] if section.path else ""
        parts = section_parts(section.lines, opts.section_max_chars) or [""]
        # Windows run over the whole section (as they are embedded); each is shown with the
        # part that holds its middle word, each item with the part that holds its start.
        words: list[str] = []
        part_of_word: list[int] = []
        for number, part in enumerate(parts):
            part_words = part.split()
            words += part_words
            part_of_word += [number] * len(part_words)
        flats = [" ".join(part.split()) for part in parts]
        windows = word_windows(words, opts.max_words, opts.overlap_words)
        question = heading.endswith("?") and len(heading.split()) <= opts.unit_max_words
        if question:
            # A question heading is what customers ask; show it with the start of its answer.
            answer = " ".join(windows[0]) if windows else ""
            add(f"{heading}\n{answer}".strip(), unit_embed(heading), path, "item", parts[0],
                position)
        for item in section.items:
            if item and len(item.split()) <= opts.unit_max_words:
                start_words = " ".join(item.split()[:4])
                at = next((n for n, flat in enumerate(flats) if start_words in flat), 0)
                add(item, unit_embed(clean_inline(item)), path, "item", parts[at], position + at)
        placed: list[tuple[int, list[str]]] = []
        for number, window in enumerate(windows):
            step = max(1, opts.max_words - opts.overlap_words)
            placed.append((part_of_word[min(number * step + len(window) // 2, len(words) - 1)],
                           window))
        covered = {at for at, _ in placed}
        # A part no window is centred in still gets one of its own, so it can be found.
        placed += [(n, parts[n].split()[: opts.max_words]) for n in range(len(parts))
                   if n not in covered and parts[n].strip()]
        for at, window in sorted(placed, key=lambda p: p[0]):
            text = " ".join(window)
            first = first or (f"{header}\n{text}", parts[at], position + at)
            add(f"{header}\n{text}", f"{header}\n{clean_inline(text)}", path, "section",
                parts[at], position + at)
        position += len(parts)
    if opts.title_unit and doc.title:
        text, part, at = first or (doc.title, "", 0)
        add(text, doc.title, (doc.title,), "item", part, at)
    if not chunks and doc.title:
        add(doc.title, doc.title, (doc.title,), "section", "", 0)
    return chunks
