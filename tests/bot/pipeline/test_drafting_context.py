"""What Claude reads: the facts of a retrieved section arrive through the passages, and the
cached prompt carries none of the help center's facts of its own."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from dataclasses import replace
from pathlib import Path

import anthropic
import pytest

from bot.domain import Passage, PassageSection
from bot.pipeline.drafting import DraftRequest
from bot.pipeline.drafting.claude import ClaudeDrafter
from bot.pipeline.drafting.policies import SYSTEM_PROMPT
from bot.pipeline.passages import assemble
from knowledge.chunking import chunk_document
from knowledge.loader import load_document
from tests.fakes.anthropic_server import FakeAnthropicServer, fake_anthropic_server

SAMPLES = Path(__file__).resolve().parents[3] / "knowledge" / "samples"
# A figure a reply could quote: an amount, or a number with its unit.
_FIGURE = re.compile(
    r"[$€£]\s?\d[\d,.]*|\b\d+(?:[.,]\d+)?\s?(?:TB|GB|MB|minutes?|hours?|days?|weeks?|months?"
    r"|years?|characters|(?:reset |confirmation )?e-?mails?)\b",
    re.IGNORECASE,
)


@pytest.fixture
async def server() -> AsyncIterator[FakeAnthropicServer]:
    async with fake_anthropic_server() as fake:
        yield fake


@pytest.fixture
async def drafter(server: FakeAnthropicServer) -> AsyncIterator[ClaudeDrafter]:
    client = anthropic.AsyncAnthropic(api_key="test", base_url=server.url, max_retries=0)
    yield ClaudeDrafter(client=client, model="claude-test", max_attempts=1)
    await client.close()


def sample_article_hit(name: str, holding: str) -> Passage:
    """A sample article as search returns it: its best chunk (the one holding ``holding``)
    with the section that chunk belongs to, from the real chunker."""
    doc = load_document(SAMPLES / f"{name}.md", SAMPLES)
    chunk = next(c for c in chunk_document(doc) if holding in c.text)
    section = PassageSection(chunk.heading_path, chunk.section, chunk.position)
    return Passage(doc.doc_id, doc.title, chunk.text, 0.8, cosine=0.8, sections=(section,))


def _request_text(body: dict[str, object]) -> str:
    return str(body["system"]) + str(body["messages"])


async def test_a_fact_inside_a_section_reaches_claude_through_the_passages_only(
    server: FakeAnthropicServer, drafter: ClaudeDrafter
) -> None:
    hit = sample_article_hit("reset-password-or-unlock-account", "Add noreply@")
    passages = assemble([hit], budget_tokens=1500)
    request = DraftRequest(customer_text="I asked for a reset link an hour ago, nothing came.",
                           passages=passages, brand_name="Acme Cloud")

    await drafter.draft(request)
    user = server.last.json["messages"][0]["content"][0]["text"]
    block = user[user.index("<passages>"): user.index("</passages>")]
    # The whole section around the hit, not only the matching bullet.
    assert "## If the reset email doesn't arrive" in block
    assert "- Wait up to 10 minutes and check spam or junk folders." in block
    assert "- You can request at most 5 reset emails per hour." in block

    await drafter.draft(replace(request, passages=()))
    blank = _request_text(server.last.json)
    # Without passages Claude has no way to know these facts: none is in the cached prompt.
    for fact in ("10 minutes", "5 reset emails", "noreply@acmecloud.example"):
        assert fact not in blank


def test_the_worked_examples_state_no_figure_of_the_shipped_help_center() -> None:
    prompt = SYSTEM_PROMPT.format(brand="Acme Cloud", tool="submit_draft")
    figures = {m.group(0) for m in _FIGURE.finditer(prompt)}
    assert figures  # the examples do quote figures: invented ones
    articles = "\n".join(p.read_text(encoding="utf-8") for p in SAMPLES.glob("*.md"))
    shared = sorted(f for f in figures if re.search(rf"(?<![\w$€£]){re.escape(f)}(?!\w)",
                                                    articles, re.IGNORECASE))
    assert shared == []
