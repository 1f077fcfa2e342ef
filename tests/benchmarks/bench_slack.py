"""Slack benchmark: signed inbound event → card posted, approvals per second, and the
conversation on the card (a 40-message conversation rendered; Show conversation and Edit
opening their modals with the history).

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
from handoff import cards, conversation_view, register_handoff  # noqa: E402
from handoff.cards import as_dicts, draft_card  # noqa: E402
from handoff.state import load_card  # noqa: E402
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
                long_draft = await long_conversation(slack, edge)
                render_cpu = await card_render_cpu(handle, long_draft, 50)
                show_ms = await modal_clicks(slack, edge, long_draft, 30)
                rate, decide_ms = await approvals_per_second(slack, edge, handle, approvals)
                refused_ms = await refused_clicks(edge, 50)
                async with asyncio.timeout(60):
                    await handle.tasks.drain()
            finally:
                stop.set()
                await loop_task
                await edge.aclose()
            assert slack.refused == [], slack.refused[:3]  # every card and modal within limits
            report(events, latencies, ack_ms, approvals, rate, decide_ms, refused_ms, show_ms,
                   render_cpu)


async def inbound_to_card(
    slack: FakeSlackAPI, edge: SlackEdge, events: int
) -> tuple[list[float], list[float]]:
    """Sequential events (each its own conversation): event sent → card posted."""
    latencies: list[float] = []
    acks: list[float] = []
    cpu_start = time.process_time()
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
    # CPU of this whole process (bolt, accept, router, notifier, SQLite and the fake Slack
    # server alike) per event → card: steadier than wall time on a loaded machine.
    print(f"CPU per event → card (whole process): "
          f"{(time.process_time() - cpu_start) * 1000 / events:.2f} ms")
    # The cards carry the customer's text escaped, the link's real target spelled out, the
    # Assign to… select, a link to the customer's own message and (from the second on, the
    # same customer) their earlier conversations.
    posted = [c for c in slack.calls_to("chat.postMessage") if "thread_ts" not in c.params]
    for i, call in enumerate(posted):
        assert "<!here>" not in str(call.params["text"])
        blocks = str(call.params["blocks"])
        assert "acmecloud.example/reset (https://evil.example)" in blocks
        assert cards.ASSIGN in blocks
        assert "|their message>" in blocks
        assert (i == 0) != ("Earlier conversations of this customer" in blocks)
    return latencies, acks


async def long_conversation(slack: FakeSlackAPI, edge: SlackEdge) -> int:
    """A conversation of 40 long customer messages in one thread (each a new draft in the
    card's thread): the id of its newest pending draft."""
    root = "1799000000.000100"
    text = "Still not working <!channel> & here is the whole log again: " + "x " * 1500
    for i in range(40):
        ts = root if i == 0 else f"1799000{i:03d}.000100"
        event = {"type": "message", "channel": "CSUPPORT", "user": "UCUST",
                 "channel_type": "channel", "text": f"{i}: {text}", "ts": ts}
        if i:
            event["thread_ts"] = root
        response = await edge.event(event)
        assert response.status_code == 200
    async with asyncio.timeout(60):
        while True:
            newest = await Draft.filter(status="pending").order_by("-id").first()
            if newest is not None and newest.approval_ts and "39: " in (
                    await newest.message).text:
                break
            await asyncio.sleep(0.05)
    card = next(c for c in slack.calls_to("chat.postMessage")
                if f'"card:{newest.id}"' in str(c.params.get("blocks")).replace("'", '"'))
    assert "Earlier in this conversation* · 39 messages" in str(card.params["blocks"])
    await Draft.filter(id=newest.id).update(decision="review", text="Please try again.")
    return newest.id


async def card_render_cpu(handle: object, draft_id: int, times: int) -> list[float]:
    """CPU milliseconds to load and render the 40-message conversation's card (the work of
    every card update: the database reads included, SQLite runs in this process)."""
    links = handle.notifier.links  # type: ignore[attr-defined]
    timings = []
    for _ in range(times):
        start = time.process_time()
        view = await load_card(draft_id, links=links)
        as_dicts(draft_card(view)[0])
        timings.append((time.process_time() - start) * 1000)
    return timings


async def modal_clicks(slack: FakeSlackAPI, edge: SlackEdge, draft_id: int,
                       clicks: int) -> dict[str, list[float]]:
    """Show conversation and Edit on the 40-message conversation's card: click → HTTP ack and
    click → modal opened (``views.open`` reached Slack)."""
    draft = await Draft.get(id=draft_id)
    values = {
        conversation_view.SHOW_CONVERSATION: cards.action_value(draft=draft_id),
        cards.EDIT: cards.action_value(draft=draft_id,
                                       conversation=draft.conversation_id),  # type: ignore[attr-defined]
    }
    timings: dict[str, list[float]] = {}
    for action_id, value in values.items():
        acks, opened = timings.setdefault(action_id, []), timings.setdefault(
            action_id + ":open", [])
        for _ in range(clicks):
            before = len(slack.calls_to("views.open"))
            start = time.perf_counter()
            response = await edge.click(user="UAGENT", action_id=action_id, value=value)
            assert response.status_code == 200
            acks.append((time.perf_counter() - start) * 1000)
            await slack.wait_for("views.open", before + 1, within=10)
            opened.append((time.perf_counter() - start) * 1000)
        view = str(slack.calls_to("views.open")[-1].params["view"])
        assert "39: Still not working" in view and "<!channel>" not in view
    return timings


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
           rate: float, decide_ms: list[float], refused_ms: list[float],
           show_ms: dict[str, list[float]], render_cpu: list[float]) -> None:
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
    names = {conversation_view.SHOW_CONVERSATION: "Show conversation (40 msgs)",
             cards.EDIT: "Edit (40 msgs)"}
    for action_id, name in names.items():
        for suffix, what in (("", "→ HTTP ack"), (":open", "→ modal open")):
            values = show_ms[action_id + suffix]
            rows.append((f"{name} {what}", f"{len(values)} clicks", pct(values, 0.5),
                         pct(values, 0.99), statistics.mean(values)))
    rows.append(("card load+render CPU (40 msgs)", f"{len(render_cpu)} renders",
                 pct(render_cpu, 0.5), pct(render_cpu, 0.99), statistics.mean(render_cpu)))
    print(f"{'path':<44} {'n':>12} {'p50 ms':>9} {'p99 ms':>9} {'mean ms':>9}")
    for name, n, p50, p99, mean in rows:
        print(f"{name:<44} {n:>12} {p50:>9.1f} {p99:>9.1f} {mean:>9.1f}")
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
