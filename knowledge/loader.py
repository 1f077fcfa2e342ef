"""Load knowledge files (Markdown, plain text, HTML) into ``Document`` records.

A document's id is its path relative to the KB root without the extension, with ``/``
separators: that is the contract ``kb eval`` labels use.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import re
from collections.abc import Iterator
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import frontmatter
from markdownify import MarkdownConverter

from knowledge.types import Document

MARKDOWN_SUFFIXES = frozenset({".md", ".markdown"})
TEXT_SUFFIXES = frozenset({".txt"})
HTML_SUFFIXES = frozenset({".html", ".htm"})
SUPPORTED_SUFFIXES = MARKDOWN_SUFFIXES | TEXT_SUFFIXES | HTML_SUFFIXES
_ATX_HEADING = re.compile(r"^\s{0,3}#\s+(.+?)\s*#*\s*$", re.MULTILINE)


class DocumentError(ValueError):
    """A knowledge file cannot be read or parsed; the message names the file."""


def content_hash(data: bytes) -> str:
    """The sha256 hex digest that decides whether a file changed since the last ingest."""
    return hashlib.sha256(data).hexdigest()


def doc_id_for(path: Path, root: Path) -> str:
    """The document id of ``path``: relative to ``root``, extension dropped, ``/`` separators."""
    return path.relative_to(root).with_suffix("").as_posix()


def title_from_name(path: Path) -> str:
    """A readable title from a file name: ``refund_policy.md`` → ``Refund policy``."""
    words = re.sub(r"[_\-]+", " ", path.stem).strip()
    return words[:1].upper() + words[1:] if words else path.name


def iter_kb_files(root: Path) -> Iterator[Path]:
    """Supported files under ``root`` in a stable order, skipping hidden files and folders."""
    for path in sorted(root.rglob("*")):
        rel = path.relative_to(root)
        if any(part.startswith(".") for part in rel.parts):
            continue
        if path.is_file() and path.suffix.lower() in SUPPORTED_SUFFIXES:
            yield path


def _plain(value: Any) -> Any:
    """Front matter values as JSON-friendly data (YAML dates become ISO strings)."""
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    if isinstance(value, dt.date | dt.datetime):
        return value.isoformat()
    return value


class _HtmlTitle(HTMLParser):
    """Collects the text of <title> and of the first <h1>."""

    def __init__(self) -> None:
        super().__init__()
        self.title = ""
        self.h1 = ""
        self._in: str | None = None
        self._h1_done = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if (tag == "title" or (tag == "h1" and not self._h1_done)) and self._in is None:
            self._in = tag

    def handle_endtag(self, tag: str) -> None:
        if tag == self._in:
            self._h1_done = self._h1_done or tag == "h1"
            self._in = None

    def handle_data(self, data: str) -> None:
        if self._in == "title":
            self.title += data
        elif self._in == "h1":
            self.h1 += data


class _KnowledgeConverter(MarkdownConverter):
    """HTML article → Markdown: ATX headings for the chunker; <head> (title, styles) dropped."""

    def convert_head(self, el: object, text: str, parent_tags: set[str]) -> str:
        return ""


# Link targets and images are noise for embeddings; headings and lists are structure.
_KB_CONVERTER = _KnowledgeConverter(
    heading_style="ATX", bullets="-", strip=["a", "img"], escape_misc=False
)


def html_to_markdown(html: str) -> str:
    """Convert HTML to Markdown so the heading-aware chunker sees its structure."""
    return _KB_CONVERTER.convert(html).strip() + "\n"


def html_title(html: str) -> str:
    """The <title> of an HTML page, else its first <h1>, else an empty string."""
    parser = _HtmlTitle()
    parser.feed(html)
    parser.close()
    return " ".join((parser.title.strip() or parser.h1.strip()).split())


def markdown_title(body: str) -> str:
    """The first level-one heading of a Markdown body, or an empty string."""
    match = _ATX_HEADING.search(body)
    return match.group(1).strip() if match else ""


def parse_document(path: Path, root: Path, data: bytes) -> Document:
    """Build a ``Document`` from the raw bytes of one file."""
    try:
        raw = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise DocumentError(f"{path}: not UTF-8 ({exc.reason})") from None
    suffix = path.suffix.lower()
    metadata: dict[str, Any] = {}
    if suffix in MARKDOWN_SUFFIXES:
        try:
            post = frontmatter.loads(raw)
        except Exception as exc:  # the YAML library raises many types on bad front matter
            raise DocumentError(f"{path}: bad front matter: {exc}") from None
        metadata = _plain(dict(post.metadata))
        body = post.content
        title = str(metadata.get("title") or "").strip() or markdown_title(body)
        fmt = "markdown"
    elif suffix in HTML_SUFFIXES:
        body = html_to_markdown(raw)
        title = html_title(raw) or markdown_title(body)
        fmt = "html"
    else:
        body, title, fmt = raw, "", "text"
    return Document(
        doc_id=doc_id_for(path, root),
        title=title or title_from_name(path),
        body=body,
        source=str(path),
        content_hash=content_hash(data),
        format=fmt,  # type: ignore[arg-type]
        metadata=metadata,
    )


def load_document(path: Path, root: Path) -> Document:
    """Read and parse one knowledge file."""
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise DocumentError(f"{path}: {exc.strerror}") from None
    return parse_document(path, root, data)
