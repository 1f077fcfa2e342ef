"""A 2 MB mail routed through the real SMTP server while signed Slack requests keep arriving
at the bolt app: how long Slack waits for its acknowledgements meanwhile (Slack gives up after
3 s; the target is under 1 s), and how long the mail takes from the SMTP session to its card.

One process as ``supportbot run`` is (worker + web on one event loop): our aiosmtpd server,
the router with the offline drafter over the sample knowledge base, uvicorn serving
``/slack/events``, the fake Slack Web API. Loopback only, bounded (a script; pytest does not
collect it):

    .venv/bin/python tests/benchmarks/bench_mail_slack_acks.py [--rate 20] [--mails 3]

Prints p50/p99/max ack latency before (idle) and during the routing, the SMTP session time
to ``250``, the time from ``250`` to the card, and the process CPU time the routing took.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import json
import logging
import os
import smtplib
import socket
import statistics
import sys
import tempfile
import time
from pathlib import Path

import httpx
from slack_sdk.signature import SignatureVerifier

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))

from bot.app import build_services, create_web_app, run_worker, serve_http  # noqa: E402
from bot.store.db import migrate  # noqa: E402
from config import load_settings  # noqa: E402
from tests.fakes.slack_api import FakeSlackAPI  # noqa: E402

MODELS = REPO.parent / "shared" / "models"
SECRET = "bench-signing-secret"
DOMAIN = "acme.example"
BIG_BODY = "Where is my order 77? It has not arrived.\r\n" + (
    "All the log lines the customer pasted. " * 20 + "\r\n") * 2_600


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def big_mail(i: int) -> bytes:
    return (f"From: Jane <jane{i}@example.com>\r\nTo: support@{DOMAIN}\r\n"
            f"Subject: Big order question {i}\r\n"
            f"Message-ID: <big{i}.{time.time_ns()}@example.com>\r\n"
            "Date: Tue, 4 Mar 2025 10:00:00 +0000\r\nMIME-Version: 1.0\r\n"
            f"Content-Type: text/plain; charset=utf-8\r\n\r\n{BIG_BODY}").encode()


class SlackLoad:
    """Signed Events API requests at a steady rate; records each one's ack latency."""

    def __init__(self, url: str, rate: float) -> None:
        self._url = url
        self._interval = 1.0 / rate
        self._verifier = SignatureVerifier(SECRET)
        self._ids = itertools.count(1)
        self.samples: list[tuple[float, float]] = []  # (sent at, seconds to the ack)

    def _request(self) -> tuple[bytes, dict[str, str]]:
        n = next(self._ids)
        # A message in a channel the bot does not serve: bolt verifies, parses, matches the
        # listeners and acks; what Slack waits for is the event loop getting to it.
        body = json.dumps({
            "token": "unused", "team_id": FakeSlackAPI.team_id, "api_app_id": "A1",
            "type": "event_callback", "event_id": f"EvBench{n:08d}",
            "event_time": int(time.time()),
            "event": {"type": "message", "channel": "COTHER", "user": "UOTHER",
                      "text": f"chatter {n}", "ts": f"1700001{n:03d}.000100",
                      "channel_type": "channel"},
            "authorizations": [{"team_id": FakeSlackAPI.team_id, "user_id": "UBOT",
                                "is_bot": True}]}).encode()
        ts = str(int(time.time()))
        return body, {"Content-Type": "application/json", "X-Slack-Request-Timestamp": ts,
                      "X-Slack-Signature": self._verifier.generate_signature(
                          timestamp=ts, body=body)}

    async def run(self, stop: asyncio.Event) -> None:
        async with httpx.AsyncClient(timeout=30) as http:
            pending: set[asyncio.Task[None]] = set()
            next_at = time.perf_counter()
            while not stop.is_set():
                task = asyncio.create_task(self._one(http))
                pending.add(task)
                task.add_done_callback(pending.discard)
                next_at += self._interval
                await asyncio.sleep(max(0.0, next_at - time.perf_counter()))
            await asyncio.gather(*pending)

    async def _one(self, http: httpx.AsyncClient) -> None:
        body, headers = self._request()
        sent = time.perf_counter()
        response = await http.post(self._url, content=body, headers=headers)
        if response.status_code != 200:
            raise RuntimeError(f"Slack request answered {response.status_code}")
        self.samples.append((sent, time.perf_counter() - sent))


def quantiles(values: list[float]) -> str:
    q = sorted(values)
    p99 = q[min(len(q) - 1, int(0.99 * len(q)))]
    return f"{statistics.median(q) * 1000:7.1f} {p99 * 1000:7.1f} {q[-1] * 1000:7.1f}"


async def measure(data: Path, rate: float, mails: int) -> None:
    smtp_port, web_port = free_port(), free_port()
    async with FakeSlackAPI() as slack:
        settings = load_settings({
            "SUPPORTBOT_DATA_DIR": str(data), "SUPPORTBOT_DEMO": "false",
            "SUPPORTBOT_KB_DIR": str(REPO / "knowledge" / "samples"),
            "SUPPORTBOT_EMBED_MODEL_PATH": os.environ.get(
                "SUPPORTBOT_EMBED_MODEL_PATH", str(MODELS / "all-MiniLM-L6-v2-onnx")),
            "SUPPORTBOT_SPARSE_MODEL_PATH": os.environ.get(
                "SUPPORTBOT_SPARSE_MODEL_PATH", str(MODELS / "bm25")),
            "SLACK_BOT_TOKEN": "xoxb-bench", "SLACK_SIGNING_SECRET": SECRET,
            "SLACK_API_URL": slack.api_url, "SUPPORTBOT_APPROVAL_CHANNEL": "CAPPROVAL",
            "SUPPORTBOT_SMTP_LISTEN": f"127.0.0.1:{smtp_port}",
            "SUPPORTBOT_MAIL_DOMAINS": DOMAIN, "SUPPORTBOT_SUPPORT_ADDRESS": f"support@{DOMAIN}",
            "SUPPORTBOT_SCHEDULER": "false", "SUPPORTBOT_WORKER_PORT": "off",
            "SUPPORTBOT_LOG_LEVEL": "WARNING",
        }, env_file=None)
        await migrate(settings)
        async with build_services(settings) as services:
            assert services.knowledge is not None
            await services.knowledge.ingest(settings.kb_dir)
            stop = asyncio.Event()
            worker = asyncio.create_task(run_worker(services, stop))
            web = asyncio.create_task(serve_http(create_web_app(services), host="127.0.0.1",
                                                 port=web_port, stop=stop))
            url = f"http://127.0.0.1:{web_port}/slack/events"
            async with asyncio.timeout(30):
                while True:
                    try:
                        async with httpx.AsyncClient() as http:
                            await http.get(f"http://127.0.0.1:{web_port}/healthz")
                        break
                    except httpx.TransportError:
                        await asyncio.sleep(0.1)

            async def route(i: int) -> tuple[float, float, float]:
                raw = big_mail(i)

                def send() -> float:
                    began = time.perf_counter()
                    with smtplib.SMTP("127.0.0.1", smtp_port, timeout=60) as client:
                        client.sendmail(f"jane{i}@example.com", [f"support@{DOMAIN}"], raw)
                    return time.perf_counter() - began

                cpu = time.process_time()
                start = time.perf_counter()
                session = await asyncio.to_thread(send)
                await slack.wait_for("chat.postMessage", 1, within=120,
                                     where=lambda c: f"Big order question {i}" in str(
                                         c.params.get("text", "")) or f"Big order question {i}"
                                     in json.dumps(c.params.get("blocks", "")))
                total = time.perf_counter() - start
                return session, total - session, time.process_time() - cpu

            await route(0)  # warm-up: models loaded, caches filled, one card posted

            idle = SlackLoad(url, rate)
            idle_stop = asyncio.Event()
            idle_task = asyncio.create_task(idle.run(idle_stop))
            await asyncio.sleep(3.0)
            idle_stop.set()
            await idle_task

            load = SlackLoad(url, rate)
            load_stop = asyncio.Event()
            load_task = asyncio.create_task(load.run(load_stop))
            await asyncio.sleep(0.5)
            runs = []
            for i in range(1, mails + 1):
                runs.append(await route(i))
            load_stop.set()
            await load_task
            stop.set()
            await asyncio.gather(worker, web)

    size = len(big_mail(0))
    print(f"\n2 MB mail ({size:,} bytes) via our SMTP server → card, while signed Slack "
          f"events arrive at {rate:g}/s (one process: worker + web on one loop)\n")
    print("| Slack acks | requests | p50 ms | p99 ms | max ms |")
    print("|---|---|---|---|---|")
    for name, samples in (("idle (no mail)", idle.samples), ("during routing", load.samples)):
        values = [s for _, s in samples]
        p50, p99, worst = quantiles(values).split()
        print(f"| {name} | {len(values)} | {p50} | {p99} | {worst} |")
    print("\n| mail | SMTP session to 250 s | 250 → card s | process CPU s |")
    print("|---|---|---|---|")
    for i, (session, routing, cpu) in enumerate(runs, 1):
        print(f"| {i} | {session:.2f} | {routing:.2f} | {cpu:.2f} |")
    over = sum(1 for _, s in load.samples if s >= 1.0)
    print(f"\nacks ≥ 1 s during routing: {over} of {len(load.samples)}; "
          f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rate", type=float, default=20.0, help="Slack requests per second")
    parser.add_argument("--mails", type=int, default=3, help="2 MB mails routed, one by one")
    args = parser.parse_args()
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    logging.disable(logging.WARNING)
    with tempfile.TemporaryDirectory() as tmp:
        asyncio.run(measure(Path(tmp), args.rate, args.mails))


if __name__ == "__main__":
    main()
