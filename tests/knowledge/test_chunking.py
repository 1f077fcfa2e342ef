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
    assert any("I want a **refund**" in c.text for c in sections)  # markup kept for display


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


def test_text_is_kept_intact_underscores_code_and_markup() -> None:
    body = (
        "# Proxy\n\nSet `HTTPS_PROXY` and the locale `en_US` in **_config.yml** before you"
        " start; see [the guide](https://example.com/guide).\n"
    )
    (chunk,) = [c for c in chunk_document(_doc(body, "Proxy")) if c.unit == "section"]
    assert "`HTTPS_PROXY`" in chunk.text and "`en_US`" in chunk.text
    assert "**_config.yml**" in chunk.section  # the drafter reads the Markdown as written
    assert "HTTPS_PROXY" in chunk.embed_text and "en_US" in chunk.embed_text
    assert "_config.yml" in chunk.embed_text
    assert "**" not in chunk.embed_text and "`" not in chunk.embed_text  # markup is not embedded
    assert "the guide" in chunk.embed_text and "example.com" not in chunk.embed_text


def test_a_level_three_heading_under_a_level_one_is_its_child_and_siblings_stay_siblings() -> None:
    body = "# Guide\n\nIntro.\n\n### Step one\n\nA.\n\n### Step two\n\nB.\n\n## Part\n\nC.\n"
    assert [s.path for s in split_sections(body)] == [
        ("Guide",),
        ("Guide", "Step one"),
        ("Guide", "Step two"),
        ("Guide", "Part"),
    ]


def test_layout_noise_is_dropped_outside_code() -> None:
    body = (
        "# Page {#page}\n\n<!-- toc -->\n\nFirst line\\\nsecond line.\n\n"
        "{{< hint style=\"info\" >}}\nA hint &gt; kept.\n{{< /hint >}}\n\n"
        "![](/assets/picture.png)\n\n<!--\na comment\nover lines\n-->\n\n"
        "```html\n<!-- kept in code -->\nline\\\n```\n"
    )
    (section,) = split_sections(body)
    text = "\n".join(section.lines)
    assert section.path == ("Page",)
    assert "toc" not in text and "a comment" not in text
    assert "First line\nsecond line." in text
    assert "A hint > kept." in text and "{{" not in text and "picture.png" not in text
    assert "<!-- kept in code -->\nline\\" in text


def test_chunks_carry_their_section_and_its_position() -> None:
    body = (
        "# Plans\n\nIntro.\n\n## Compare\n\n| | Free | Plus |\n|---|---|---|\n"
        "| Price | $0 | $8 |\n\n## Upgrade\n\n1. Open **Settings**.\n   - nested note\n"
        "2. Click **Upgrade**.\n\nDone in a minute.\n"
    )
    chunks = chunk_document(_doc(body, "Plans"))
    by_path = {c.heading_path: c for c in chunks if c.unit == "section"}
    table = by_path[("Plans", "Compare")]
    assert table.section == "| | Free | Plus |\n|---|---|---|\n| Price | $0 | $8 |"
    steps = by_path[("Plans", "Upgrade")]
    assert steps.section == (
        "1. Open **Settings**.\n   - nested note\n2. Click **Upgrade**.\n\nDone in a minute."
    )
    assert [by_path[p].position for p in (("Plans",), ("Plans", "Compare"), ("Plans", "Upgrade"))
            ] == [0, 1, 2]
    item = next(c for c in chunks if c.unit == "item" and "Upgrade" in c.text)
    assert item.section == steps.section and item.position == steps.position


def test_a_long_section_is_cut_between_blocks_and_a_long_table_between_rows() -> None:
    rows = "\n".join(f"| row {i} | {'x' * 40} |" for i in range(30))
    paragraphs = "\n\n".join(f"Paragraph {i} " + "word " * 40 for i in range(6))
    body = f"# T\n\n## Big\n\n| Name | Value |\n|---|---|\n{rows}\n\n{paragraphs}\n"
    opts = ChunkingOptions(section_max_chars=600)
    parts = sorted({(c.position, c.section) for c in chunk_document(_doc(body, "T"), opts)
                    if c.heading_path == ("T", "Big")})
    assert len(parts) > 3
    assert all(len(text) <= 600 for _, text in parts)
    tables = [text for _, text in parts if text.startswith("|")]
    header = "| Name | Value |\n|---|---|\n| row"
    assert len(tables) > 1 and all(t.startswith(header) for t in tables)
    joined = "\n".join(text for _, text in parts)
    assert all(f"| row {i} |" in joined for i in range(30))
    assert all(f"Paragraph {i} " in joined for i in range(6))
