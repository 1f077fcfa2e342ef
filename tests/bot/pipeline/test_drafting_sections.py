"""Passages parsed into sections of blocks and rendered as plain reply text."""

from __future__ import annotations

from bot.pipeline.drafting.sections import parse_sections, render_block

ARTICLE = """\
<!-- toc -->
# Proxy settings

Set `HTTPS_PROXY` in `_config.yml`.\\
Then restart.

### Before you start

1. Open **Settings**.
   Continue on the next line.
2. Pick a mode:
   - manual
   - automatic

## Limits

| Plan | Seats |
|---|---|
| Plus | 10 |
| Business | — |
"""


def test_sections_keep_lists_tables_and_code_words_intact() -> None:
    sections = parse_sections(ARTICLE, title="Proxy settings")
    # The title heading opens the lead; a ### right after it stays in the lead as a label.
    assert [s.heading for s in sections] == ["", "Limits"]
    assert [b.kind for b in sections[0].blocks] == ["paragraph", "subheading", "list"]
    lead = sections[0]
    text = "\n\n".join(render_block(b) for b in lead.blocks)
    assert "HTTPS_PROXY" in text and "_config.yml" in text  # underscores survive
    assert "<!--" not in text and "\\" not in text
    assert "1. Open Settings. Continue on the next line.\n2. Pick a mode:\n   - manual" in text
    table = render_block(sections[-1].blocks[0])
    assert table == "- Plus: 10\n- Business: —"


def test_a_chunk_heading_path_line_becomes_the_path_not_text() -> None:
    [section] = parse_sections("Billing > Refunds\nRefunds take 5 days.", title="Billing")
    assert section.path == ("Billing", "Refunds")
    assert section.heading == "Refunds"
    assert render_block(section.blocks[0]) == "Refunds take 5 days."


def test_an_assembled_passage_heads_sections_with_their_path() -> None:
    text = ("Intro line.\n\n## Billing > Refunds\n1. Open Billing.\n2. Click Refund.\n\n"
            "## Billing > Refunds > Cards\nCard refunds take 5 days. The bank then …")
    sections = parse_sections(text, title="Help")
    assert [s.heading for s in sections] == ["", "Refunds", "Cards"]
    assert sections[2].path == ("Billing", "Refunds", "Cards")
    assert render_block(sections[2].blocks[0]) == "Card refunds take 5 days."


def test_a_bullet_list_followed_by_steps_stays_two_lists() -> None:
    [section] = parse_sections("- if lost\n- if late\n1. Open Orders.\n2. Report it.", title="T")
    assert [render_block(b) for b in section.blocks] == [
        "- if lost\n- if late", "1. Open Orders.\n2. Report it."]
