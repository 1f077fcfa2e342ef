"""Loading knowledge files: titles, doc ids, formats, hashes."""

from __future__ import annotations

from pathlib import Path

import pytest

from knowledge.loader import (
    DocumentError,
    content_hash,
    doc_id_for,
    iter_kb_files,
    load_document,
    parse_document,
)


def _doc(name: str, text: str) -> tuple[Path, Path, bytes]:
    root = Path("/kb")
    return root / name, root, text.encode()


def test_markdown_title_from_front_matter_wins() -> None:
    doc = parse_document(*_doc("a.md", "---\ntitle: Refund policy\n---\n# Refunds\n\nText"))
    assert doc.title == "Refund policy"
    assert doc.metadata == {"title": "Refund policy"}
    assert doc.body.startswith("# Refunds")


def test_markdown_title_from_first_heading_then_file_name() -> None:
    assert parse_document(*_doc("a.md", "intro\n\n# Shipping  \n")).title == "Shipping"
    assert parse_document(*_doc("late_deliveries.md", "no heading")).title == "Late deliveries"


def test_front_matter_dates_become_strings() -> None:
    doc = parse_document(*_doc("a.md", "---\nupdated: 2024-05-01\n---\nbody"))
    assert doc.metadata["updated"] == "2024-05-01"


def test_bad_front_matter_names_the_file() -> None:
    with pytest.raises(DocumentError, match=r"a\.md"):
        parse_document(*_doc("a.md", "---\ntitle: [unclosed\n---\nbody"))


def test_html_title_and_markdown_body() -> None:
    html = "<html><head><title>Shipping times</title></head><body><h1>Delivery</h1>"
    html += "<ul><li>EU: 3 days</li><li>US: 7 days</li></ul></body></html>"
    doc = parse_document(*_doc("ship.html", html))
    assert doc.title == "Shipping times"
    assert doc.format == "html"
    assert "# Delivery" in doc.body
    assert "EU: 3 days" in doc.body


def test_html_title_falls_back_to_h1() -> None:
    doc = parse_document(*_doc("x.htm", "<body><h1>Returns <b>policy</b></h1><p>t</p></body>"))
    assert doc.title == "Returns policy"


def test_text_file_title_is_the_file_name() -> None:
    doc = parse_document(*_doc("two-factor.txt", "Codes from an app."))
    assert (doc.title, doc.format, doc.body) == ("Two factor", "text", "Codes from an app.")


def test_non_utf8_is_an_error() -> None:
    with pytest.raises(DocumentError, match="UTF-8"):
        parse_document(Path("/kb/a.txt"), Path("/kb"), b"caf\xe9")


def test_doc_id_is_relative_path_without_extension() -> None:
    assert doc_id_for(Path("/kb/billing/refunds.md"), Path("/kb")) == "billing/refunds"


def test_content_hash_is_sha256_of_bytes() -> None:
    assert content_hash(b"abc") == (
        "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
    )


def test_iter_kb_files_skips_hidden_and_unsupported(tmp_path: Path) -> None:
    for rel in ("b.md", "a/c.txt", "a/d.html", ".git/x.md", "img.png", ".hidden.md"):
        (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / rel).write_text("x")
    names = [p.relative_to(tmp_path).as_posix() for p in iter_kb_files(tmp_path)]
    assert names == ["a/c.txt", "a/d.html", "b.md"]


def test_load_document_reads_the_file(tmp_path: Path) -> None:
    (tmp_path / "faq").mkdir()
    (tmp_path / "faq" / "q.md").write_text("# Q\n", encoding="utf-8")
    doc = load_document(tmp_path / "faq" / "q.md", tmp_path)
    assert (doc.doc_id, doc.title) == ("faq/q", "Q")
