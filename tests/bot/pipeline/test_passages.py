"""Small-to-big assembly: sections of the top articles, in article order, within a budget."""

from __future__ import annotations

from bot.domain import Passage, PassageSection
from bot.pipeline.passages import assemble, estimate_tokens, merge_rankings, render_sections
from knowledge.chunking import ChunkingOptions, chunk_document
from knowledge.types import Document

SHIPPING = """\
# Shipping

Orders ship within 1–2 business days.

## Times and costs

| Region | Standard | Cost |
|---|---|---|
| United States | 3–5 days | Free |
| Canada | 5–8 days | $15 |

Times count from dispatch.

## Track your order

1. Open the confirmation email.
2. Click the tracking number, **or**:
   - sign in and go to **Settings → Orders**;
   - select the order (`ORD-123456`).
3. New numbers take up to 24 hours to show.

## Lost packages

- No movement for 5 business days: report it.
- Delivered but missing after 48 hours: report it.
"""


def _sections(body: str, title: str, options: ChunkingOptions | None = None
              ) -> dict[tuple[str, ...], PassageSection]:
    doc = Document("shipping", title, body, "shipping.md", "h", "markdown")
    return {c.heading_path: PassageSection(c.heading_path, c.section, c.position)
            for c in chunk_document(doc, options) if c.unit == "section"}


def _passage(source_id: str, *sections: PassageSection, text: str = "best chunk",
             score: float = 0.5, kind: str = "kb") -> Passage:
    return Passage(source_id, source_id.title(), text, score, kind=kind, sections=sections)


def test_the_drafter_gets_whole_sections_in_article_order_with_tables_and_nested_lists() -> None:
    s = _sections(SHIPPING, "Shipping")
    track, costs = s[("Shipping", "Track your order")], s[("Shipping", "Times and costs")]
    # Retrieval found the tracking step first, then the cost table, then the tracking again.
    (passage,) = assemble([_passage("shipping", track, costs, track)], budget_tokens=2000)
    assert passage.text == (
        "## Times and costs\n"
        "| Region | Standard | Cost |\n|---|---|---|\n| United States | 3–5 days | Free |\n"
        "| Canada | 5–8 days | $15 |\n\nTimes count from dispatch.\n\n"
        "## Track your order\n"
        "1. Open the confirmation email.\n2. Click the tracking number, **or**:\n"
        "   - sign in and go to **Settings → Orders**;\n   - select the order (`ORD-123456`).\n"
        "3. New numbers take up to 24 hours to show."
    )
    assert [x.position for x in passage.sections] == [costs.position, track.position]


def test_the_budget_is_shared_by_rank_and_every_source_is_kept() -> None:
    s = _sections(SHIPPING, "Shipping")
    intro, costs, track, lost = (s[("Shipping",)], s[("Shipping", "Times and costs")],
                                 s[("Shipping", "Track your order")],
                                 s[("Shipping", "Lost packages")])
    other = PassageSection(("Returns", "Labels"), "Print the label. " * 20, 3)
    passages = [
        _passage("shipping", costs, track, lost, intro, score=0.9),
        _passage("returns", other, score=0.6),
        _passage("learned-1", kind="learned", text="An agent's approved answer."),
        _passage("faq", other, score=0.3, text="x " * 400),  # beyond max_articles
    ]
    budget = 310
    out = assemble(passages, budget_tokens=budget, max_articles=2)
    assert [p.source_id for p in out] == ["shipping", "returns", "learned-1", "faq"]
    assert [p.score for p in out] == [0.9, 0.6, 0.5, 0.3]
    # The best article gets two sections a round, the next one; then the budget ran out.
    assert [x.position for x in out[0].sections] == [costs.position, track.position]
    assert out[1].sections == (other,)
    assert out[2].text == "An agent's approved answer."
    assert out[3].sections == () and out[3].text.endswith("…") and len(out[3].text) <= 402
    assert sum(estimate_tokens(p.text) for p in out) <= budget + 10  # headings are estimated
    assert "Lost packages" not in out[0].text


def test_a_long_section_arrives_in_parts_and_the_best_part_always_fits() -> None:
    long = "# Guide\n\n## Setup\n\n" + "\n\n".join(
        f"Step {i}: " + "configure the thing carefully " * 8 for i in range(12))
    parts = sorted({(c.position, c.section) for c in chunk_document(
        Document("guide", "Guide", long, "g.md", "h", "markdown"),
        ChunkingOptions(section_max_chars=500)) if c.heading_path == ("Guide", "Setup")})
    assert len(parts) >= 4
    sections = [PassageSection(("Guide", "Setup"), text, pos) for pos, text in parts]
    (whole,) = assemble([_passage("guide", *sections)], budget_tokens=5000)
    assert whole.text.count("## Setup") == len(parts)  # every part, under its heading path
    assert all(f"Step {i}:" in whole.text for i in range(12))
    (tight,) = assemble([_passage("guide", sections[2], *sections)], budget_tokens=60)
    assert tight.sections[0].position == sections[2].position  # the hit's part, cut to fit
    assert tight.text.startswith("## Setup\nStep ") and estimate_tokens(tight.text) <= 70


def test_passages_without_sections_are_left_as_they_are() -> None:
    plain = [_passage("old", text="indexed before sections"), _passage("l", kind="learned")]
    assert assemble(plain, budget_tokens=500) == plain


def test_rankings_merge_in_turns_and_join_an_article_found_twice() -> None:
    a1 = PassageSection(("A", "one"), "a one", 1)
    a2 = PassageSection(("A", "two"), "a two", 2)
    first = [_passage("a", a1, score=0.9), _passage("b", score=0.8), _passage("c", score=0.7)]
    second = [_passage("d", score=0.6), _passage("a", a2, a1, score=0.95)]
    merged = merge_rankings([first, second], limit=3)
    assert [p.source_id for p in merged] == ["a", "d", "b"]
    assert merged[0].sections == (a1, a2) and merged[0].score == 0.95


def test_render_puts_the_heading_path_below_the_title() -> None:
    text = render_sections([PassageSection(("T", "B", "C"), "body", 2),
                            PassageSection(("T",), "intro", 0)])
    assert text == "intro\n\n## B > C\nbody"
