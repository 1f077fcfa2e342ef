"""Time from a mail landing in the IMAP mailbox to its approval card in Slack, with IDLE and
with polling: real pymap IMAP server, fake Slack Web API, the whole worker (router with the
offline drafter, sample knowledge). Loopback only, bounded.

Run: .venv/bin/python tests/benchmarks/bench_mail_to_card.py [--messages 20] [--poll 10]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
import tempfile
import time
from email.message import EmailMessage
from email.utils import make_msgid
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))

from bot.app import build_services, run_worker  # noqa: E402
from bot.store.db import migrate  # noqa: E402
from config import load_settings  # noqa: E402
from tests.fakes.imap_server import FakeImapServer  # noqa: E402
from tests.fakes.slack_api import FakeSlackAPI  # noqa: E402

MODELS = REPO.parent / "shared" / "models"
QUESTIONS = ["I forgot my password", "How do I get a refund?", "My Acme Drive has not arrived",
             "How do I add a team member?", "Sync keeps failing on my laptop"]


def mail(i: int) -> bytes:
    msg = EmailMessage()
    msg["From"] = f"Customer {i} <customer{i}@example.org>"
    msg["To"] = "support@help.example.com"
    msg["Subject"] = f"Question {i}"
    msg["Message-ID"] = make_msgid(domain="example.org")
    msg.set_content(QUESTIONS[i % len(QUESTIONS)] + f" (ticket {i})")
    return bytes(msg)


async def measure(idle: bool, n: int, poll: float, data: Path) -> list[float]:
    with FakeImapServer(idle=idle) as imap:
        async with FakeSlackAPI() as slack:
            settings = load_settings({
                "SUPPORTBOT_DATA_DIR": str(data), "SUPPORTBOT_DEMO": "false",
                "SUPPORTBOT_KB_DIR": str(REPO / "knowledge" / "samples"),
                "SUPPORTBOT_EMBED_MODEL_PATH": os.environ.get(
                    "SUPPORTBOT_EMBED_MODEL_PATH", str(MODELS / "all-MiniLM-L6-v2-onnx-int8")),
                "SUPPORTBOT_SPARSE_MODEL_PATH": str(MODELS / "bm25"),
                "SLACK_BOT_TOKEN": "xoxb-bench", "SLACK_SIGNING_SECRET": "bench",
                "SLACK_API_URL": slack.api_url, "SUPPORTBOT_APPROVAL_CHANNEL": "CAPPROVAL",
                "IMAP_HOST": imap.host, "IMAP_PORT": str(imap.port), "IMAP_USER": imap.user,
                "IMAP_PASSWORD": imap.password, "IMAP_SSL": "false", "IMAP_STARTTLS": "false",
                "IMAP_POLL_SECONDS": str(poll), "SUPPORTBOT_SCHEDULER": "false",
            }, env_file=None)
            await migrate(settings)
            latencies: list[float] = []
            async with build_services(settings) as services:
                assert services.knowledge is not None
                await services.knowledge.ingest(settings.kb_dir)
                stop = asyncio.Event()
                worker = asyncio.create_task(run_worker(services, stop))
                await asyncio.sleep(1.0)  # let the poller log in and settle into IDLE / its wait
                for i in range(n):
                    subject = f"Question {i}"

                    def carded(call: object, subject: str = subject) -> bool:
                        return subject in str(getattr(call, "params", {}).get("text", ""))

                    start = time.monotonic()
                    imap.deliver(mail(i))
                    await slack.wait_for("chat.postMessage", 1, within=poll * 3 + 30,
                                         where=carded)
                    latencies.append(time.monotonic() - start)
                stop.set()
                await worker
            return latencies


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--messages", type=int, default=20)
    parser.add_argument("--poll", type=float, default=10.0)
    args = parser.parse_args()
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    import logging

    logging.disable(logging.WARNING)
    rows = []
    for idle in (True, False):
        with tempfile.TemporaryDirectory() as tmp:
            lat = await measure(idle, args.messages, args.poll, Path(tmp))
        rows.append(("IDLE" if idle else f"polling every {args.poll:g}s", lat))
    print(f"\nIMAP delivery → approval card ({args.messages} mails each, sample KB, offline "
          "drafter, fake Slack)\n")
    print("| mode | p50 s | p90 s | max s |")
    print("|---|---|---|---|")
    for name, lat in rows:
        q = sorted(lat)
        print(f"| {name} | {statistics.median(q):.2f} | {q[int(0.9 * (len(q) - 1))]:.2f} | "
              f"{q[-1]:.2f} |")


if __name__ == "__main__":
    asyncio.run(main())
