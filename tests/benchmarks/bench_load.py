"""Load on loopback against real processes: ``supportbot run`` on SQLite (the embedded
setup), ``supportbot web`` + ``supportbot worker`` on PostgreSQL.

    .venv/bin/python tests/benchmarks/bench_load.py [--quick] [--no-postgres]

1. Webhook: sustained signed requests at increasing rates (open loop: requests are sent on
   schedule whether or not earlier ones finished) until p99 accept latency passes 100 ms; on
   SQLite and on PostgreSQL.
2. SMTP: parallel sessions to the worker's SMTP server.
3. Slack: a burst of 500 signed message events to ``/slack/events``.
4. ``/metrics`` scraped once a second throughout: inbox/outbox depth, oldest pending age,
   decisions by kind, LLM latency and tokens, dead letters.

Every loop is bounded (rates, seconds per step, message counts); nothing leaves 127.0.0.1.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import smtplib
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))

import asyncpg  # noqa: E402
import httpx  # noqa: E402

from tests.conftest import PG_ADMIN_URL  # noqa: E402
from tests.fakes.http import callback_receiver, wait_for  # noqa: E402
from tests.fakes.slack_api import FakeSlackAPI  # noqa: E402
from tests.fakes.smtp_relay import SmtpRelay  # noqa: E402
from tests.fakes.support import KB  # noqa: E402
from tests.reliability.cluster import (  # noqa: E402
    QUESTIONS,
    Process,
    base_env,
    cli,
    healthy,
    smtp_listening,
)
from tests.reliability.conftest import (  # noqa: E402
    SLACK_SECRET,
    SUPPORT_ADDRESS,
    free_port,
    mail_bytes,
    parse_metrics,
    sign_slack,
    sign_webhook,
)

WATCHED = ("supportbot_inbox_depth", "supportbot_outbox_depth",
           "supportbot_inbox_oldest_pending_age_seconds", "supportbot_dead_letters",
           'supportbot_decisions_total{decision="auto"}',
           'supportbot_decisions_total{decision="review"}',
           'supportbot_decisions_total{decision="human"}')


def pct(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


@dataclass
class Step:
    """One load step's outcome."""

    label: str
    sent: int
    ok: int
    errors: dict[str, int]
    seconds: float
    latencies: list[float] = field(default_factory=list)

    def row(self) -> str:
        errors = ", ".join(f"{k}: {v}" for k, v in sorted(self.errors.items())) or "0"
        return (f"| {self.label} | {self.sent} | {self.ok / self.seconds:.1f} | "
                f"{pct(self.latencies, 0.5):.1f} | {pct(self.latencies, 0.99):.1f} | {errors} |")


HEADER = ("| load | requests | ok/s | p50 ms | p99 ms | errors |\n"
          "|---|---|---|---|---|---|")


class Scraper:
    """Scrapes ``/metrics`` every second into a time series (the worker's counters are in the
    worker process; queue gauges are read from the database by whichever process answers)."""

    def __init__(self, http: httpx.AsyncClient, url: str) -> None:
        self.http, self.url = http, url
        self.samples: list[tuple[float, dict[str, float]]] = []
        self._start = time.monotonic()

    async def run(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            try:
                text = (await self.http.get(f"{self.url}/metrics", timeout=5)).text
                self.samples.append((time.monotonic() - self._start, parse_metrics(text)))
            except httpx.HTTPError:
                pass
            try:
                await asyncio.wait_for(stop.wait(), 1.0)
            except TimeoutError:
                pass

    def table(self, every: int = 5) -> str:
        lines = ["| t (s) | inbox | outbox | oldest pending s | dead | auto | review | human |",
                 "|---|---|---|---|---|---|---|---|"]
        for t, m in self.samples[::every]:
            vals = [m.get(k, 0.0) for k in WATCHED]
            lines.append(f"| {t:.0f} | {vals[0]:.0f} | {vals[1]:.0f} | {vals[2]:.1f} | "
                         f"{vals[3]:.0f} | {vals[4]:.0f} | {vals[5]:.0f} | {vals[6]:.0f} |")
        return "\n".join(lines)


async def webhook_step(http: httpx.AsyncClient, url: str, rate: int, seconds: float) -> Step:
    """Open-loop: one request every 1/rate s for ``seconds``; latency of each accept."""
    step = Step(f"webhook {rate}/s", 0, 0, {}, seconds)
    tasks: list[asyncio.Task[None]] = []
    start = time.perf_counter()

    async def one(i: int) -> None:
        mid = f"load-{uuid.uuid4().hex[:12]}"
        body = json.dumps({"conversation_id": f"c-{mid}", "message_id": mid,
                           "sender": {"id": mid}, "text": QUESTIONS[i % len(QUESTIONS)]}
                          ).encode()
        t0 = time.perf_counter()
        try:
            response = await http.post(f"{url}/webhook/shop", content=body,
                                       headers=sign_webhook(body))
            key = None if response.status_code in (200, 202) else str(response.status_code)
        except httpx.HTTPError as exc:
            key = type(exc).__name__
        step.latencies.append((time.perf_counter() - t0) * 1000)
        if key is None:
            step.ok += 1
        else:
            step.errors[key] = step.errors.get(key, 0) + 1

    total = int(rate * seconds)
    for i in range(total):
        delay = start + i / rate - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        tasks.append(asyncio.create_task(one(i)))
        step.sent += 1
    await asyncio.gather(*tasks)
    step.seconds = max(seconds, time.perf_counter() - start)
    return step


async def smtp_step(port: int, sessions: int, per_session: int) -> Step:
    step = Step(f"SMTP {sessions} parallel sessions × {per_session}", 0, 0, {}, 0.0)

    def session(s: int) -> list[tuple[float, str | None]]:
        out: list[tuple[float, str | None]] = []
        with smtplib.SMTP("127.0.0.1", port, timeout=30) as client:
            for i in range(per_session):
                raw = mail_bytes(f"<load-{s}-{i}-{uuid.uuid4().hex[:6]}@example.com>",
                                 sender=f"load{s}x{i}@example.com")
                t0 = time.perf_counter()
                try:
                    client.sendmail(f"load{s}x{i}@example.com", [SUPPORT_ADDRESS], raw)
                    out.append(((time.perf_counter() - t0) * 1000, None))
                except smtplib.SMTPException as exc:
                    out.append(((time.perf_counter() - t0) * 1000, type(exc).__name__))
        return out

    start = time.perf_counter()
    results = await asyncio.gather(*(asyncio.to_thread(session, s) for s in range(sessions)))
    step.seconds = time.perf_counter() - start
    for ms, error in (r for batch in results for r in batch):
        step.sent += 1
        step.latencies.append(ms)
        if error is None:
            step.ok += 1
        else:
            step.errors[error] = step.errors.get(error, 0) + 1
    return step


async def slack_burst(http: httpx.AsyncClient, url: str, count: int) -> Step:
    step = Step(f"Slack burst of {count} events", 0, 0, {}, 0.0)
    gate = asyncio.Semaphore(64)

    async def one(i: int) -> None:
        event = {"type": "message", "channel": "CSUPPORT", "user": f"U{i % 50:04d}",
                 "text": QUESTIONS[i % len(QUESTIONS)], "ts": f"1700{i:06d}.000100",
                 "channel_type": "channel"}
        body = json.dumps({"type": "event_callback", "team_id": "T0FAKE", "api_app_id": "A1",
                           "event": event, "event_id": f"EvLoad{i}", "event_time": 1})
        async with gate:
            t0 = time.perf_counter()
            try:
                response = await http.post(f"{url}/slack/events", content=body.encode(),
                                           headers={"Content-Type": "application/json",
                                                    **sign_slack(body)})
                key = None if response.status_code == 200 else str(response.status_code)
            except httpx.HTTPError as exc:
                key = type(exc).__name__
            step.latencies.append((time.perf_counter() - t0) * 1000)
        step.sent += 1
        if key is None:
            step.ok += 1
        else:
            step.errors[key] = step.errors.get(key, 0) + 1

    start = time.perf_counter()
    await asyncio.gather(*(one(i) for i in range(count)))
    step.seconds = time.perf_counter() - start
    return step


async def fresh_pg_database() -> str:
    name = f"supportbot_bench_{uuid.uuid4().hex[:8]}"
    conn = await asyncpg.connect(PG_ADMIN_URL)
    await conn.execute(f'CREATE DATABASE "{name}"')
    await conn.close()
    return f"{PG_ADMIN_URL.rpartition('/')[0]}/{name}"


async def drop_pg_database(url: str) -> None:
    conn = await asyncpg.connect(PG_ADMIN_URL)
    await conn.execute(f'DROP DATABASE IF EXISTS "{url.rpartition("/")[2]}" WITH (FORCE)')
    await conn.close()


async def scenario(backend: str, *, quick: bool) -> str:
    """Run the whole load on one backend; return its Markdown report."""
    out: list[str] = [f"\n## {backend}\n"]
    pg_url = await fresh_pg_database() if backend == "PostgreSQL" else None
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        kb = tmp / "kb"
        kb.mkdir()
        for name, text in KB.items():
            (kb / name).write_text(text)
        relay = await SmtpRelay().start()
        procs: list[Process] = []
        async with FakeSlackAPI() as slack, callback_receiver() as receiver, \
                httpx.AsyncClient(timeout=30, limits=httpx.Limits(max_connections=200)) as http:
            slack.add_user("U0001", name="Load", email="load@example.com")
            web_port, smtp_port = free_port(), free_port()
            shared = {"SUPPORTBOT_WEBHOOK_SHOP_CALLBACK_URL": receiver.url,
                      "SMTP_HOST": relay.host, "SMTP_PORT": str(relay.port),
                      "SLACK_BOT_TOKEN": "xoxb-test", "SLACK_SIGNING_SECRET": SLACK_SECRET,
                      "SLACK_API_URL": slack.api_url, "SUPPORTBOT_APPROVAL_CHANNEL": "CAPPROVAL",
                      "SUPPORTBOT_SUPPORT_CHANNELS": "CSUPPORT",
                      "SUPPORTBOT_AUTO_REPLY_SENDER_CAP": "100000",
                      # load, not abuse: the per-sender limit would hand most to humans
                      "SUPPORTBOT_SENDER_LIMIT_PER_HOUR": "0"}
            if pg_url is not None:
                shared["DATABASE_URL"] = pg_url
            data = tmp / "data"
            env = base_env(data, kb, **shared)
            cli(["migrate"], env)
            cli(["kb", "ingest", str(kb)], env)
            worker_env = base_env(data, kb, **shared, PORT=str(web_port),
                                  SUPPORTBOT_SMTP_LISTEN=f"127.0.0.1:{smtp_port}")
            if pg_url is None:
                # SQLite is the embedded setup: one ``supportbot run`` process. Separate web
                # and worker processes on one SQLite file fight over its write lock (503s
                # from 25 requests/s on; see RELIABILITY.md).
                procs.append(Process("run", worker_env, tmp / "run.log"))
            else:
                procs.append(Process("web", base_env(tmp / "web", kb, **shared,
                                                     PORT=str(web_port)), tmp / "web.log"))
                worker_env.pop("PORT")
                procs.append(Process("worker", worker_env, tmp / "worker.log"))
            for p in procs:
                p.start()
            url = f"http://127.0.0.1:{web_port}"
            try:
                await wait_for(lambda: healthy(http, url), timeout=90)
                await wait_for(lambda: smtp_listening(smtp_port), timeout=90)
                scraper = Scraper(http, url)
                stop = asyncio.Event()
                scrape = asyncio.create_task(scraper.run(stop))
                rates = [25, 50, 100, 200] if quick else [25, 50, 100, 150, 200, 300, 400]
                seconds = 3.0 if quick else 5.0
                steps: list[Step] = []
                knee: int | None = None
                for rate in rates:
                    step = await webhook_step(http, url, rate, seconds)
                    steps.append(step)
                    print(step.row(), flush=True)
                    if pct(step.latencies, 0.99) > 100:
                        knee = rate
                        break
                out.append("### Webhook accept latency by offered rate\n")
                out.append(HEADER)
                out += [s.row() for s in steps]
                out.append("\np99 passes 100 ms at "
                           + (f"**{knee} requests/s**" if knee else
                              f"no tested rate (up to {rates[-1]}/s)") + ".\n")
                smtp = await smtp_step(smtp_port, 10 if quick else 20, 10)
                burst = await slack_burst(http, url, 500)
                out.append("### SMTP sessions and Slack burst\n")
                out.append(HEADER)
                out += [smtp.row(), burst.row()]
                # Let the worker drain while we keep scraping, bounded.
                t_drain = time.perf_counter()
                try:
                    await wait_for(lambda: _drained(http, url), timeout=300, interval=1.0)
                    drained = f"drained in {time.perf_counter() - t_drain:.0f} s after the load"
                except TimeoutError:
                    drained = "not drained within 300 s (see the metrics table)"
                stop.set()
                await scrape
                last = scraper.samples[-1][1] if scraper.samples else {}
                worker_metrics = last
                out.append(f"\nQueues {drained}; callback receiver got "
                           f"{len(receiver.delivered)} replies, the relay "
                           f"{len(relay.messages)} mails.\n")
                out.append("### /metrics during the run (every 5th scrape)\n")
                out.append(scraper.table())
                llm = {k: v for k, v in worker_metrics.items() if "llm" in k}
                if llm:
                    out.append("\nLLM series: " + ", ".join(f"{k}={v:g}"
                                                             for k, v in sorted(llm.items())))
            finally:
                for p in procs:
                    p.kill()
                await relay.close()
    if pg_url is not None:
        await drop_pg_database(pg_url)
    return "\n".join(out)


async def _drained(http: httpx.AsyncClient, url: str) -> bool:
    metrics = parse_metrics((await http.get(f"{url}/metrics")).text)
    return metrics.get("supportbot_inbox_depth", 1) == 0 and \
        metrics.get("supportbot_outbox_depth", 1) == 0


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer rates, shorter steps")
    parser.add_argument("--no-postgres", action="store_true")
    args = parser.parse_args()
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    reports = [await scenario("SQLite", quick=args.quick)]
    if not args.no_postgres:
        reports.append(await scenario("PostgreSQL", quick=args.quick))
    print("\n# Load benchmark (loopback, this machine)\n" + "\n".join(reports))


if __name__ == "__main__":
    asyncio.run(main())
