"""Markdown passages as sections of blocks, and blocks as plain reply text.

The offline drafter answers from whole sections (a heading and its paragraphs, lists and
tables), so a step list is never cut after step 3 and "next to that Admin" keeps the step
that introduced the Admin. A passage may be a whole article section in Markdown, or a chunk
whose first line is its heading path ("Title > Section"); both parse the same way.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Literal

_HEADING = re.compile(r"^\s{0,3}(#{1,6})\s+(.+?)\s*#*\s*$")
_LIST_ITEM = re.compile(r"^(\s*)(?:([-*+•])|(\d{1,3})[.)])\s+(.*\S)?\s*$")
_FENCE = re.compile(r"^\s{0,3}(```|~~~)")
_TABLE_ROW = re.compile(r"^\s*\|.*\|\s*$")
_TABLE_RULE = re.compile(r"^\s*\|?\s*:?-{2,}:?\s*(?:\|\s*:?-{2,}:?\s*)*\|?\s*$")
_HTML_COMMENT = re.compile(r"<!--.*?-->", re.DOTALL)
_LINK = re.compile(r"!?\[([^\]]*)\]\(([^)\s]*)[^)]*\)")
_EMPHASIS = re.compile(r"(\*\*|__)(.+?)\1|(?<![\w*])\*(?!\s)([^*\n]+?)\*(?!\w)")
_CODE_SPAN = re.compile(r"`([^`\n]+)`")
# A hard line break ("text\" or two trailing spaces) in Markdown.
_HARD_BREAK = re.compile(r"\\$|\s{2,}$")
# References into text the reply does not carry: "(see Refund policy)", "as above".
_DANGLING = re.compile(
    r"\s*\((?:see|as described in|described in|more in)\b[^)]*\)"
    r"|,?\s+as (?:described |explained |shown )?(?:above|below)\b"
    r"|\s*\(?(?:see|as described) (?:above|below)\)?",
    re.IGNORECASE,
)

BlockKind = Literal["paragraph", "list", "table", "code", "subheading"]


@dataclass(slots=True)
class Block:
    """A paragraph, a list (its items, ordered or not), a table (rows of cells), code, or a
    heading below the section's own heading."""

    kind: BlockKind
    lines: list[str] = field(default_factory=list)
    ordered: bool = False

    def text(self) -> str:
        """The block's words, for matching against a question."""
        return "\n".join(self.lines)


@dataclass(slots=True)
class Section:
    """A heading (empty for an article's lead) and the blocks under it."""

    heading: str
    blocks: list[Block] = field(default_factory=list)
    path: tuple[str, ...] = ()

    def text(self) -> str:
        """Heading and body words, for matching against a question."""
        return "\n".join([self.heading, *(b.text() for b in self.blocks)])

    def body_words(self) -> int:
        """Length of the body in words."""
        return sum(len(b.text().split()) for b in self.blocks)


def clean_inline(text: str) -> str:
    """Markdown emphasis and links as plain text ("[Billing](url)" → "Billing (url)")."""

    def link(match: re.Match[str]) -> str:
        label, url = match.group(1).strip(), match.group(2).strip()
        if match.group(0).startswith("!"):
            return label
        if not url or url.startswith("#") or not re.match(r"(?i)https?://|mailto:", url):
            return label  # a relative link means nothing to a customer
        return f"{label} ({url.removeprefix('mailto:')})" if label and label != url else url

    text = _LINK.sub(link, text)
    text = _EMPHASIS.sub(lambda m: m.group(2) or m.group(3) or "", text)
    text = _CODE_SPAN.sub(lambda m: m.group(1), text)
    return _HARD_BREAK.sub("", text).rstrip()


def _is_path_line(line: str, headings: Sequence[str]) -> bool:
    """The "Title > Section" first line chunks carry for retrieval, or a bare heading."""
    stripped = line.strip()
    if not stripped or len(stripped) > 200:
        return False
    parts = [p.strip().casefold() for p in stripped.split(" > ")]
    if len(parts) > 1:
        return all(parts)
    return stripped.casefold() in {h.strip().casefold() for h in headings if h}


def parse_sections(
    text: str, *, title: str = "", heading_path: Sequence[str] = ()
) -> list[Section]:
    """Split a passage into sections of blocks (see the module docstring)."""
    text = _HTML_COMMENT.sub("", text)
    lines = text.splitlines()
    headings = [title, *heading_path]
    first = next((i for i, line in enumerate(lines) if line.strip()), None)
    base: tuple[str, ...] = tuple(h for h in heading_path if h)
    if first is not None and not _HEADING.match(lines[first]) and _is_path_line(
        lines[first], headings
    ):
        base = tuple(p.strip() for p in lines[first].split(" > ")) or base
        lines = lines[first + 1 :]
    own = base[-1] if base and base[-1].casefold() != title.casefold() else ""
    sections = [Section(own, [], base)]
    in_fence = False
    block: Block | None = None
    for line in lines:
        if _FENCE.match(line):
            if not in_fence:
                block = Block("code", [line])
                sections[-1].blocks.append(block)
            else:
                assert block is not None
                block.lines.append(line)
                block = None
            in_fence = not in_fence
            continue
        if in_fence:
            assert block is not None
            block.lines.append(line)
            continue
        heading = _HEADING.match(line)
        if heading:
            # Assembled passages head each section with its path ("## Billing > Refunds").
            trail = [clean_inline(p).strip() for p in heading.group(2).split(" > ")]
            name = trail[-1]
            level = len(heading.group(1))
            if level == 1 and name.casefold() == title.casefold():
                continue  # the article's title: what follows is its lead
            if level <= 2 or (not sections[-1].blocks and not sections[-1].heading):
                sections.append(Section(name, [], (*base, *trail)))
            else:  # a ### inside a section stays with it, as a label
                sections[-1].blocks.append(Block("subheading", [name]))
            block = None
            continue
        if not line.strip():
            if block is not None and block.kind == "paragraph":
                block = None
            continue
        item = _LIST_ITEM.match(line)
        if item:
            ordered = item.group(3) is not None
            nested = len(item.group(1)) >= 2
            if block is None or block.kind != "list" or (not nested and block.ordered != ordered):
                block = Block("list", [], ordered=ordered)
                sections[-1].blocks.append(block)
            content = clean_inline(item.group(4) or "")
            block.lines.append(f"  - {content}" if nested else content)
            continue
        if _TABLE_ROW.match(line) or (block is not None and block.kind == "table"
                                      and _TABLE_RULE.match(line)):
            if block is None or block.kind != "table":
                block = Block("table", [])
                sections[-1].blocks.append(block)
            if not _TABLE_RULE.match(line):
                block.lines.append(line.strip())
            continue
        if block is not None and block.kind == "list" and line.startswith((" ", "\t")):
            block.lines[-1] += " " + clean_inline(line.strip())
            continue
        if block is None or block.kind != "paragraph":
            block = Block("paragraph", [])
            sections[-1].blocks.append(block)
        block.lines.append(clean_inline(line.strip()))
    return [s for s in sections if s.blocks]


def _cells(row: str) -> list[str]:
    return [clean_inline(c.strip()) for c in row.strip().strip("|").split("|")]


def render_block(block: Block) -> str:
    """A block as plain reply text: lists keep their markers and numbering, a table becomes
    one line per row ("Price: Free $0; Plus $8/user/month")."""
    if block.kind == "paragraph":
        return undangle(_whole_sentences(" ".join(block.lines)))
    if block.kind == "subheading":
        return f"{block.lines[0].rstrip(':')}:"
    if block.kind == "code":
        return "\n".join(block.lines)
    if block.kind == "list":
        out, number = [], 0
        for item in block.lines:
            if item.startswith("  - "):
                out.append(f"   - {undangle(item[4:])}")
                continue
            number += 1
            out.append(f"{number}. {undangle(item)}" if block.ordered else f"- {undangle(item)}")
        return "\n".join(out)
    rows = [_cells(r) for r in block.lines]
    if not rows:
        return ""
    header, body = rows[0], rows[1:]
    if not body:
        return "; ".join(c for c in header if c)
    out = []
    for row in body:
        label = row[0]
        values = [
            f"{h} {v}".strip() if h and len(header) > 2 else v
            for h, v in zip(header[1:], row[1:], strict=False)
            if v and v not in {"—", "-"}
        ]
        shown = "; ".join(values) or "—"
        out.append(f"- {label}: {shown}" if label else f"- {shown}")
    return "\n".join(out)


def undangle(text: str) -> str:
    """Drop references to text the reply does not carry ("(see Refund policy)", "as above")."""
    return _DANGLING.sub("", text).strip()


def _whole_sentences(text: str) -> str:
    """A paragraph cut short ("… and the unused part …") back to its last whole sentence."""
    if not text.rstrip().endswith("…"):
        return text
    end = max(text.rfind(". "), text.rfind("? "), text.rfind("! "))
    return text[: end + 1] if end > 0 else ""
