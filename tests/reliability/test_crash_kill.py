"""Crashes and concurrency with real processes.

Messages flow in from the webhook (to ``supportbot web``) and by SMTP (to the worker's own SMTP
server) while workers are SIGKILLed at points spread over the run and restarted at once. At
the end every accepted message must have reached exactly one final state and every reply must
have reached its receiver exactly once (counted at the webhook callback receiver and at the
SMTP relay). On PostgreSQL two web processes and two workers share one database.

``SUPPORTBOT_RELIABILITY_N`` sets the number of messages (default 150 so the suite stays quick;
RELIABILITY.md records runs with 1,000).
"""

from __future__ import annotations

import asyncio
import os
import random
from collections import Counter, defaultdict
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from bot.store.db import database
from bot.store.models import Draft, InboxItem, Message, OutboxItem
from config import load_settings
from tests.fakes.http import CallbackReceiver, callback_receiver, wait_for
from tests.fakes.smtp_relay import SmtpRelay
from tests.reliability.cluster import (
    QUESTIONS,
    Process,
    Traffic,
    base_env,
    cli,
    healthy,
    post_webhook,
    send_mail,
    smtp_listening,
)
from tests.reliability.conftest import free_port

pytestmark = pytest.mark.slow
N = int(os.environ.get("SUPPORTBOT_RELIABILITY_N", "150"))
KILLS = int(os.environ.get("SUPPORTBOT_RELIABILITY_KILLS", "4"))


@dataclass
class Outcome:
    """What the run produced, for the assertions and for RELIABILITY.md."""

    traffic: Traffic
    kills: int
    raw_webhook_deliveries: int
    raw_mail_deliveries: int
    distinct_replies: int


def _answered_once(receiver: CallbackReceiver, relay: SmtpRelay) -> dict[str, set[str]]:
    """Inbound message id → the distinct reply ids that reached the customer for it."""
    replies: dict[str, set[str]] = defaultdict(set)
    for delivery in receiver.delivered:
        body = delivery.json()
        replies[str(body["in_reply_to"])].add(str(body["reply_id"]))
    for relayed in relay.messages:
        message = relayed.message
        replies[str(message["In-Reply-To"])].add(str(message["Message-ID"]))
    return replies


async def run_with_kills(tmp_path: Path, kb: Path, *, n: int, webs: int, workers: int,
                         kills: int, pg_url: str | None, seed: int) -> Outcome:
    """Drive ``n`` messages through ``webs`` web and ``workers`` worker processes, SIGKILLing
    a worker ``kills`` times at evenly spread points of progress, then check the database."""
    rng = random.Random(seed)
    relay = await SmtpRelay().start()
    procs: list[Process] = []
    try:
        async with callback_receiver() as receiver, httpx.AsyncClient(timeout=10) as http:
            shared = {"SUPPORTBOT_WEBHOOK_SHOP_CALLBACK_URL": receiver.url,
                      "SMTP_HOST": relay.host, "SMTP_PORT": str(relay.port)}
            if pg_url is not None:
                shared["DATABASE_URL"] = pg_url
            web_ports = [free_port() for _ in range(webs)]
            smtp_ports = [free_port() for _ in range(workers)]
            # SQLite: one data dir for everything. PostgreSQL: Qdrant local mode takes one
            # process per folder, so each worker gets its own copy of the same small KB.
            dirs = [tmp_path / ("data" if pg_url is None else f"worker{i}")
                    for i in range(workers)]
            first = base_env(dirs[0], kb, **shared)
            cli(["migrate"], first)
            for i, folder in enumerate(dirs):
                cli(["kb", "ingest", str(kb)], base_env(folder, kb, **shared))
                env = base_env(folder, kb, **shared,
                               SUPPORTBOT_SMTP_LISTEN=f"127.0.0.1:{smtp_ports[i]}")
                procs.append(Process("worker", env, tmp_path / f"worker{i}.log"))
            web_dir = dirs[0] if pg_url is None else tmp_path / "web"
            for i, port in enumerate(web_ports):
                env = base_env(web_dir, kb, **shared, PORT=str(port))
                procs.append(Process("web", env, tmp_path / f"web{i}.log"))
            for proc in procs:
                proc.start()
            urls = [f"http://127.0.0.1:{p}" for p in web_ports]
            for url in urls:
                await wait_for(lambda u=url: healthy(http, u), timeout=60)
            for port in smtp_ports:
                await wait_for(lambda p=port: smtp_listening(p), timeout=60)

            traffic = Traffic()
            gate = asyncio.Semaphore(16)

            async def one(i: int) -> None:
                text = QUESTIONS[i % len(QUESTIONS)]
                async with gate:
                    if i % 3 == 2:
                        await send_mail(smtp_ports, f"<mail-{i}@example.com>", text, traffic)
                    else:
                        await post_webhook(http, urls, f"wh-{i}", text, traffic)

            def answered() -> int:
                return len(_answered_once(receiver, relay))

            async def chaos() -> None:
                for k in range(kills):
                    # Kill at evenly spread points of progress, with a random jitter, so kills
                    # land between accept and routing, routing and sending, and mid-send.
                    target = int(n * (k + 1) / (kills + 1)) + rng.randint(-5, 5)
                    await wait_for(lambda t=target: answered() >= t, timeout=180)
                    victim = rng.choice([p for p in procs if p.command == "worker"])
                    victim.kill()
                    victim.start()

            async with asyncio.TaskGroup() as group:
                group.create_task(chaos())
                for i in range(n):
                    group.create_task(one(i))
            await wait_for(lambda: answered() >= n, timeout=240)
            # Let leases expire and any re-send of a killed attempt happen before counting.
            await wait_for(lambda: _all_settled(http, urls[0]), timeout=60)
            replies = _answered_once(receiver, relay)
            outcome = Outcome(traffic, kills, len(receiver.requests), len(relay.messages),
                              sum(len(v) for v in replies.values()))
            assert set(replies) == {*traffic.webhook_ids, *traffic.mail_ids}
            assert all(len(ids) == 1 for ids in replies.values()), {
                k: v for k, v in replies.items() if len(v) != 1}
    finally:
        for proc in procs:
            proc.kill()
        await relay.close()
    await _check_final_states(first, n)
    return outcome


async def _all_settled(http: httpx.AsyncClient, url: str) -> bool:
    text = (await http.get(f"{url}/metrics")).text
    return "supportbot_inbox_depth 0.0" in text and "supportbot_outbox_depth 0.0" in text


async def _check_final_states(env: dict[str, str], n: int) -> None:
    """Every inbound message: its inbox item done, one draft, at most one reply, sent."""
    async with database(load_settings(env, env_file=None)):
        inbound = await Message.filter(direction="in").count()
        assert inbound == n, f"{inbound} messages stored for {n} sent"
        statuses = Counter(await InboxItem.all().values_list("status", flat=True))
        assert statuses == {"done": n}, statuses
        per_message = Counter(await Draft.all().values_list("message_id", flat=True))
        assert len(per_message) == n and set(per_message.values()) == {1}, per_message
        per_draft = Counter(await OutboxItem.all().values_list("draft_id", flat=True))
        assert set(per_draft.values()) <= {1}, per_draft
        outbox = Counter(await OutboxItem.all().values_list("status", flat=True))
        assert set(outbox) <= {"sent"}, outbox
        outgoing = await Message.filter(direction="out").count()
        assert outgoing == outbox["sent"]


def _report(name: str, outcome: Outcome) -> None:
    t = outcome.traffic
    print(f"\n[{name}] messages={len(t.webhook_ids) + len(t.mail_ids)} "
          f"(webhook {len(t.webhook_ids)}, mail {len(t.mail_ids)}) kills={outcome.kills} "
          f"sender retries: webhook {t.webhook_retries}, mail {t.mail_retries}; "
          f"receiver requests {outcome.raw_webhook_deliveries}, relay messages "
          f"{outcome.raw_mail_deliveries}, distinct replies {outcome.distinct_replies}")


async def test_sigkilled_worker_loses_nothing_and_answers_once_on_sqlite(
    tmp_path: Path, kb_dir: Path
) -> None:
    outcome = await run_with_kills(tmp_path, kb_dir, n=N, webs=1, workers=1, kills=KILLS,
                                   pg_url=None, seed=6)
    _report("sqlite 1 web + 1 worker", outcome)


@pytest.mark.postgres
async def test_two_webs_two_workers_with_kills_on_postgres(
    tmp_path: Path, kb_dir: Path, pg_url: str
) -> None:
    # The session database is shared with other tests: empty it first.
    from tests.conftest import _truncate_all

    async with database(load_settings({"DATABASE_URL": pg_url}, env_file=None)):
        await _truncate_all()
    outcome = await run_with_kills(tmp_path, kb_dir, n=N, webs=2, workers=2, kills=KILLS,
                                   pg_url=pg_url, seed=7)
    _report("postgres 2 web + 2 workers", outcome)
