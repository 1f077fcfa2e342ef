"""Heading-aware chunking: FAQ units, heading paths, windows."""

from __future__ import annotations

from knowledge.chunking import ChunkingOptions, chunk_document, split_sections, word_windows
from knowledge.types import Document


def _doc(body: str, title: str = "Refunds") -> Document:
    return Document("billing/refunds", title, body, "refunds.md", "h", "markdown")


FAQ = """\
# Refunds

## Example questions

- Can I get my money back?
- I want a **refund**
- Can I get my money back?

## Answer

Annual plans are refunded within 30 days.
"""


def test_each_list_item_is_its_own_unit_with_heading_path() -> None:
    chunks = chunk_document(_doc(FAQ))
    items = [c for c in chunks if c.unit == "item"]
    assert [c.embed_text for c in items] == [
        "Can I get my money back?",
        "I want a refund",  # emphasis stripped
        "Refunds",  # the title is a unit of its own
    ]
    assert items[0].heading_path == ("Refunds", "Example questions")


def test_sections_keep_heading_context_and_all_text() -> None:
    sections = [c for c in chunk_document(_doc(FAQ)) if c.unit == "section"]
    assert sections[-1].text == "Refunds > Answer\nAnnual plans are refunded within 30 days."
    assert any("I want a refund" in c.text for c in sections)


def test_question_heading_becomes_a_unit_showing_its_answer() -> None:
    body = "# Help\n\n## How do I reset my password?\n\nUse the forgot link.\n"
    chunks = chunk_document(_doc(body, title="Help"))
    unit = next(c for c in chunks if c.embed_text == "How do I reset my password?")
    assert unit.unit == "item"
    assert unit.text == "How do I reset my password?\nUse the forgot link."


def test_long_sections_are_windows_with_overlap() -> None:
    body = "# T\n\n" + " ".join(f"w{i}" for i in range(50))
    opts = ChunkingOptions(max_words=20, overlap_words=5, title_unit=False)
    sections = [c.text.split("\n", 1)[1].split() for c in chunk_document(_doc(body, "T"), opts)]
    assert [len(s) for s in sections] == [20, 20, 20]
    assert sections[0][-5:] == sections[1][:5]
    assert sections[-1][-1] == "w49"


def test_word_windows_edge_cases() -> None:
    assert word_windows([], 10, 2) == []
    assert word_windows(["a", "b"], 10, 2) == [["a", "b"]]


def test_long_list_items_are_not_units() -> None:
    item = " ".join(["word"] * 60)
    chunks = chunk_document(_doc(f"# T\n\n- {item}\n"), ChunkingOptions(title_unit=False))
    assert [c.unit for c in chunks] == ["section"]


def test_headings_inside_code_fences_are_not_headings() -> None:
    sections = split_sections("# A\n\n```\n# not a heading\n```\n\n## B\ntext\n")
    assert [s.path for s in sections] == [("A",), ("A", "B")]


def test_list_item_continuation_lines_are_joined() -> None:
    (section,) = split_sections("- first line\n  continued here\n- second\n")
    assert section.items == ["first line continued here", "second"]


def test_document_without_text_still_has_its_title() -> None:
    chunks = chunk_document(_doc("", title="Empty page"))
    assert [c.embed_text for c in chunks] == ["Empty page"]


def test_signature_changes_with_options() -> None:
    assert ChunkingOptions().signature() != ChunkingOptions(max_words=100).signature()
