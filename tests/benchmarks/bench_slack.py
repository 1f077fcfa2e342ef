"""Slack benchmark: signed inbound event → card posted, and approvals per second.

Everything real except Slack (the recording fake on loopback) and the drafter (offline, no KB):
the bolt app at /slack/events, accept, the worker's router, the handoff's notifier, SQLite.

Run: .venv/bin/python tests/benchmarks/bench_slack.py [--events 500] [--approvals 300]
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import statistics
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))

from slack_sdk.web.async_client import AsyncWebClient  # noqa: E402

from bot.domain import Accepted, Channel  # noqa: E402
from bot.flow.outbox import OutboxDispatcher  # noqa: E402
from bot.flow.router import Router  # noqa: E402
from bot.flow.worker import Worker  # noqa: E402
from bot.pipeline.drafting import make_drafter  # noqa: E402
from bot.store import inbox, outbox  # noqa: E402
from bot.store.db import database  # noqa: E402
from bot.store.models import Draft, OutboxItem  # noqa: E402
from channels.slack import SlackSender, make_slack_app, register_customer_channel  # noqa: E402
from config import load_settings  # noqa: E402
from handoff import cards, register_handoff  # noqa: E402
from tests.fakes.slack_api import FakeSlackAPI, SlackEdge  # noqa: E402

SECRET = "bench-secret"


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


async def run(events: int, approvals: int, data_dir: Path) -> None:
    async with FakeSlackAPI() as slack:
        slack.add_user("UCUST", name="Bench Customer", email="bench@example.com")
        settings = load_settings({
            "SUPPORTBOT_DATA_DIR": str(data_dir), "SLACK_BOT_TOKEN": "xoxb-bench",
            "SLACK_SIGNING_SECRET": SECRET, "SLACK_API_URL": slack.api_url,
            "SUPPORTBOT_APPROVAL_CHANNEL": "CAPPROVAL", "SUPPORTBOT_SUPPORT_CHANNELS": "CSUPPORT",
            "SUPPORTBOT_APPROVERS": "UAGENT,UOTHER", "SUPPORTBOT_DEMO": "false",
        }, env_file=None)
        async with database(settings, run_migrations=True):
            client = AsyncWebClient(token="xoxb-bench", base_url=slack.api_url)
            app = make_slack_app(settings, client=client)
            handle = register_handoff(app, settings=settings, deliver=outbox.enqueue_reply,
                                      retry_delivery=outbox.retry)
            router = Router(settings=settings, knowledge=None, learned=None,
                            drafter=make_drafter(settings), notifier=handle.notifier)
            dispatcher = OutboxDispatcher(
                senders={Channel.SLACK: SlackSender(client=client)}, notifier=handle.notifier,
                owner="bench", max_attempts=3, backoff_base=0.1, lease_seconds=30)
            worker = Worker(settings=settings, router=router, dispatcher=dispatcher,
                            notifier=handle.notifier, owner="bench", idle_seconds=0.2)

            def kick(_accepted: Accepted) -> None:
                worker.kick()

            register_customer_channel(app, settings=settings, accept=inbox.accept,
                                      on_accepted=kick, on_profile=inbox.update_slack_profile)
            edge = SlackEdge(app, signing_secret=SECRET)
            stop = asyncio.Event()
            loop_task = asyncio.create_task(worker.run(stop))
            try:
                latencies, ack_ms = await inbound_to_card(slack, edge, events)
                rate, decide_ms = await approvals_per_second(slack, edge, handle, approvals)
                refused_ms = await refused_clicks(edge, 50)
                async with asyncio.timeout(60):
                    await handle.tasks.drain()
            finally:
                stop.set()
                await loop_task
                await edge.aclose()
            report(events, latencies, ack_ms, approvals, rate, decide_ms, refused_ms)


async def inbound_to_card(
    slack: FakeSlackAPI, edge: SlackEdge, events: int
) -> tuple[list[float], list[float]]:
    """Sequential events (each its own conversation): event sent → card posted."""
    latencies: list[float] = []
    acks: list[float] = []
    for i in range(events):
        start = time.perf_counter()
        response = await edge.event({
            "type": "message", "channel": "CSUPPORT", "user": "UCUST", "channel_type": "channel",
            "text": f"Bench question {i}: <!here> how do I reset my password at "
                    "<https://evil.example|acmecloud.example/reset>?",
            "ts": f"1700{i:06d}.000100"})
        acks.append((time.perf_counter() - start) * 1000)
        assert response.status_code == 200, response.text
        await slack.wait_for("chat.postMessage", i + 1, within=10,
                             where=lambda c: c.params.get("channel") == "CAPPROVAL"
                             and "thread_ts" not in c.params)
        latencies.append((time.perf_counter() - start) * 1000)
    # The cards carry the customer's text escaped, the link's real target spelled out, and
    # the Assign to… select.
    posted = [c for c in slack.calls_to("chat.postMessage") if "thread_ts" not in c.params]
    for call in posted:
        assert "<!here>" not in str(call.params["text"])
        blocks = str(call.params["blocks"])
        assert "acmecloud.example/reset (https://evil.example)" in blocks
        assert cards.ASSIGN in blocks
    return latencies, acks


async def approvals_per_second(
    slack: FakeSlackAPI, edge: SlackEdge, handle: object, approvals: int
) -> tuple[float, list[float]]:
    """Click Approve on pending drafts, 20 at a time: decisions/s through the HTTP edge,
    including the card updates (the offline drafts without a KB are human-only, so they are
    made reviewable first)."""
    drafts = await Draft.filter(status="pending").order_by("id").limit(approvals)
    await Draft.filter(id__in=[d.id for d in drafts]).update(
        decision="review", text="Open Settings → Security → Reset password.")
    timings: list[float] = []

    async def click(draft: Draft) -> None:
        start = time.perf_counter()
        value = cards.action_value(draft=draft.id, conversation=draft.conversation_id)  # type: ignore[attr-defined]
        response = await edge.click(user="UAGENT", action_id=cards.APPROVE, value=value)
        assert response.status_code == 200
        timings.append((time.perf_counter() - start) * 1000)

    start = time.perf_counter()
    for batch in range(0, len(drafts), 20):
        await asyncio.gather(*(click(d) for d in drafts[batch:batch + 20]))
    async with asyncio.timeout(60):
        await handle.tasks.drain()  # type: ignore[attr-defined]
    elapsed = time.perf_counter() - start
    assert await OutboxItem.filter(draft_id__in=[d.id for d in drafts]).count() == len(drafts)
    return len(drafts) / elapsed, timings


async def refused_clicks(edge: SlackEdge, clicks: int) -> list[float]:
    """Approve clicks by an agent who does not own the conversation (another agent took it
    over): each refused under the conversation's row lock and told who owns it."""
    drafts = await Draft.filter(status="pending").order_by("id").limit(clicks)
    timings: list[float] = []
    for draft in drafts:
        value = cards.action_value(conversation=draft.conversation_id, draft=draft.id)  # type: ignore[attr-defined]
        await edge.click(user="UAGENT", action_id=cards.TAKE_OVER, value=value)
        start = time.perf_counter()
        response = await edge.click(user="UOTHER", action_id=cards.APPROVE, value=value)
        assert response.status_code == 200
        timings.append((time.perf_counter() - start) * 1000)
    assert await OutboxItem.filter(draft_id__in=[d.id for d in drafts]).count() == 0
    return timings


def report(events: int, latencies: list[float], acks: list[float], approvals: int,
           rate: float, decide_ms: list[float], refused_ms: list[float]) -> None:
    rows = [
        ("inbound event → card posted", f"{events} events", pct(latencies, 0.5),
         pct(latencies, 0.99), statistics.mean(latencies)),
        ("inbound event → HTTP ack", f"{events} events", pct(acks, 0.5), pct(acks, 0.99),
         statistics.mean(acks)),
        ("Approve click → HTTP ack", f"{len(decide_ms)} clicks", pct(decide_ms, 0.5),
         pct(decide_ms, 0.99), statistics.mean(decide_ms)),
        ("refused Approve → HTTP ack", f"{len(refused_ms)} clicks", pct(refused_ms, 0.5),
         pct(refused_ms, 0.99), statistics.mean(refused_ms)),
    ]
    print(f"{'path':<30} {'n':>12} {'p50 ms':>9} {'p99 ms':>9} {'mean ms':>9}")
    for name, n, p50, p99, mean in rows:
        print(f"{name:<30} {n:>12} {p50:>9.1f} {p99:>9.1f} {mean:>9.1f}")
    print(f"approvals sustained (incl. card updates, 20 concurrent): {rate:.0f}/s")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--events", type=int, default=500)
    parser.add_argument("--approvals", type=int, default=300)
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    with tempfile.TemporaryDirectory() as tmp:
        asyncio.run(run(args.events, args.approvals, Path(tmp)))


if __name__ == "__main__":
    main()
