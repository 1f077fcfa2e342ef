"""The daily digest lists learned answers awaiting an admin's review."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from slack_sdk.web.async_client import AsyncWebClient

from bot.ops.stats import compute_stats
from bot.store import learned_review
from config import Settings
from handoff.ops import SlackOps
from tests.fakes.slack_api import FakeSlackAPI


async def test_the_digest_lists_learned_answers_awaiting_review(db: Settings) -> None:
    await learned_review.propose("answer-1", question="q", answer="a", grounded_in="refunds")
    await learned_review.propose("answer-2", question="q", answer="a", grounded_in="pricing")
    await learned_review.mark_stale(["pricing"], reason="changed")
    now = datetime.now(UTC)
    stats = await compute_stats(timedelta(days=1), now)
    async with FakeSlackAPI() as slack:
        ops = SlackOps(client=AsyncWebClient(token="xoxb-test", base_url=slack.api_url),
                       channel="CAPPROVAL")
        await ops.post_digest(stats)
        [post] = slack.calls_to("chat.postMessage")
    assert "Learned answers awaiting review*: 2 (1 stale)" in post.params["text"]
