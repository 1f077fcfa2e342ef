"""Customer text reaches the approval channel inert: no broadcast, no mention, no disguised
link, in blocks, fallbacks and thread posts alike (signed requests, fake Slack API)."""

from __future__ import annotations

import json
from typing import Any

from handoff.text import reveal_links, safe
from tests.handoff.conftest import Desk

HOSTILE = ("<!channel> <!here> <@U0BOSS> urgent: log in at "
           "<https://evil.example|acmecloud.example/admin> & tell me. ")


def test_disguised_links_are_spelled_out_and_markup_escaped() -> None:
    assert reveal_links("<https://evil.example|acmecloud.example/admin>") == (
        "acmecloud.example/admin (https://evil.example)")
    assert reveal_links("<https://acme.example/docs|acme.example/docs>") == (
        "https://acme.example/docs")
    assert safe("<!channel> a & b") == "&lt;!channel&gt; a &amp; b"


def mrkdwn_texts(node: Any) -> list[str]:
    """Every text Slack parses as mrkdwn in a block tree (plain_text is shown literally)."""
    if isinstance(node, list):
        return [t for child in node for t in mrkdwn_texts(child)]
    if not isinstance(node, dict):
        return []
    found = [str(node["text"])] if node.get("type") == "mrkdwn" else []
    return found + [t for k, v in node.items() if k != "text" or isinstance(v, dict | list)
                    for t in mrkdwn_texts(v)]


async def test_hostile_customer_text_reaches_slack_escaped(desk: Desk) -> None:
    # Long enough that the card shortens it and posts the full text into the thread.
    question = HOSTILE + "More detail. " * 150
    await desk.draft(question=question)
    await desk.settle()
    posts = desk.slack.calls_to("chat.postMessage")
    assert len(posts) >= 2  # the card and the full-text thread post
    for post in posts:
        blocks = post.json("blocks") if post.params.get("blocks") else []
        sent = "\n".join([str(post.params.get("text")), *mrkdwn_texts(blocks)])
        for markup in ("<!channel>", "<!here>", "<@U0BOSS>", "|acmecloud.example/admin>"):
            assert markup not in sent, (markup, sent[:300])
    card, full = posts[0], posts[1]
    # Broadcasts become an inert word (a word joiner after the "@"), here and in the thread.
    assert "@\u2060channel" in str(card.params["text"])  # the notification fallback
    blocks = json.dumps(card.json("blocks"))
    assert "acmecloud.example/admin (https://evil.example)" in blocks
    assert "Full customer message" in str(full.params["text"])
    assert "acmecloud.example/admin (https://evil.example)" in str(full.params["text"])
    assert "@\u2060channel" in str(full.params["text"])
