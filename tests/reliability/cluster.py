"""Real ``supportbot`` processes (``python -m bot.cli.main web|worker``) for crash and load tests,
plus the traffic that flows into them: signed webhook posts and SMTP sessions, each retried
the way a real sender retries (a source re-posts on 503 or a dropped connection, an MTA
re-sends after a 4xx or a refused connection)."""

from __future__ import annotations

import asyncio
import os
import signal
import smtplib
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from tests.conftest import model_env
from tests.fakes.http import smtp_listening
from tests.reliability.conftest import (
    DOMAIN,
    SUPPORT_ADDRESS,
    WEBHOOK_SECRET,
    free_port,
    mail_bytes,
    sign_webhook,
)

REPO = Path(__file__).resolve().parents[2]
QUESTIONS = (
    "I forgot my password, how do I reset it?",
    "How do I reset my password? I can't sign in.",
    "How long do refunds of an annual plan take?",
    "When will my order ship?",
)


class Process:
    """One ``supportbot`` process; ``kill()`` is SIGKILL (no clean shutdown, like a crash)."""

    def __init__(self, command: str, env: dict[str, str], log: Path) -> None:
        self.command = command
        self.env = env
        self.log = log
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        with self.log.open("ab") as out:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "bot.cli.main", self.command],
                env=self.env, stdout=out, stderr=subprocess.STDOUT, cwd=REPO,
            )

    def kill(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait(timeout=10)


def base_env(data_dir: Path, kb: Path, **extra: str) -> dict[str, str]:
    """The environment of one process: offline models, loopback everything."""
    return {
        "PATH": os.environ["PATH"], "HF_HUB_OFFLINE": "1", **model_env(),
        "SUPPORTBOT_DATA_DIR": str(data_dir), "SUPPORTBOT_KB_DIR": str(kb),
        "SUPPORTBOT_WEBHOOK_SHOP_SECRET": WEBHOOK_SECRET,
        "SUPPORTBOT_AUTO_SEND_THRESHOLD": "0.5", "SUPPORTBOT_OUTBOX_BACKOFF": "0.2",
        "SUPPORTBOT_OUTBOX_MAX_ATTEMPTS": "50", "SUPPORTBOT_LEASE_SECONDS": "3",
        "SUPPORTBOT_SUPPORT_ADDRESS": SUPPORT_ADDRESS, "SUPPORTBOT_MAIL_DOMAINS": DOMAIN,
        "SMTP_STARTTLS": "false", "SUPPORTBOT_LOG_LEVEL": "WARNING",
        # Several workers on one host: each serves its metrics on a port of its own.
        "SUPPORTBOT_WORKER_PORT": "0",
        # Each message is its own customer: the per-sender auto-reply cap must not turn
        # later messages into reviews (that is a policy, not a reliability, question).
        "SUPPORTBOT_AUTO_REPLY_SENDER_CAP": "100000",
        # Auto-send from the first message (it is otherwise earned per topic by approvals).
        "SUPPORTBOT_EARN_MIN_APPROVALS": "0", **extra,
    }


def cli(command: list[str], env: dict[str, str]) -> None:
    """Run a one-shot CLI command (migrate, kb ingest) to completion."""
    subprocess.run([sys.executable, "-m", "bot.cli.main", *command], env=env, check=True,
                   capture_output=True, cwd=REPO)


@dataclass
class Traffic:
    """What the senders did: ids sent per channel, and how often they had to retry."""

    webhook_ids: list[str] = field(default_factory=list)
    mail_ids: list[str] = field(default_factory=list)
    webhook_retries: int = 0
    mail_retries: int = 0
    latencies_ms: list[float] = field(default_factory=list)


async def post_webhook(http: httpx.AsyncClient, urls: list[str], mid: str, text: str,
                       traffic: Traffic, *, deadline: float = 120.0) -> None:
    """Post one signed message, retrying on 503 or a connection error until stored."""
    import json
    import time

    body = json.dumps({"conversation_id": f"c-{mid}", "message_id": mid,
                       "sender": {"id": f"cust-{mid}", "name": "Ada"}, "text": text}).encode()
    attempt = 0
    async with asyncio.timeout(deadline):
        while True:
            url = urls[attempt % len(urls)]
            attempt += 1
            try:
                started = time.perf_counter()
                response = await http.post(f"{url}/webhook/shop", content=body,
                                           headers=sign_webhook(body))
                if response.status_code in (200, 202):
                    traffic.latencies_ms.append((time.perf_counter() - started) * 1000)
                    traffic.webhook_ids.append(mid)
                    return
                if response.status_code != 503:
                    raise AssertionError(f"{mid}: {response.status_code} {response.text}")
            except httpx.TransportError:
                pass
            traffic.webhook_retries += 1
            await asyncio.sleep(0.05)


async def send_mail(ports: list[int], message_id: str, text: str, traffic: Traffic, *,
                    deadline: float = 120.0) -> None:
    """Deliver one mail over SMTP like an MTA: retry on 4xx and refused connections."""
    sender = f"{message_id.strip('<>').split('@')[0]}@example.com"
    raw = mail_bytes(message_id, body=text, sender=sender, subject="Help")

    def once(port: int) -> None:
        with smtplib.SMTP("127.0.0.1", port, timeout=10) as client:
            client.sendmail(sender, [SUPPORT_ADDRESS], raw)

    attempt = 0
    async with asyncio.timeout(deadline):
        while True:
            port = ports[attempt % len(ports)]
            attempt += 1
            try:
                await asyncio.to_thread(once, port)
                traffic.mail_ids.append(message_id)
                return
            except smtplib.SMTPResponseException as exc:
                if exc.smtp_code >= 500:
                    raise
            except (smtplib.SMTPException, OSError):
                pass
            traffic.mail_retries += 1
            await asyncio.sleep(0.1)


async def healthy(http: httpx.AsyncClient, url: str) -> bool:
    try:
        return (await http.get(f"{url}/healthz")).status_code == 200
    except httpx.HTTPError:
        return False


__all__ = ["QUESTIONS", "Process", "Traffic", "base_env", "cli", "free_port", "healthy",
           "post_webhook", "send_mail", "smtp_listening"]
