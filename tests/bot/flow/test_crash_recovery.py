"""Crash safety with real processes: SIGKILL between accept and routing, and between routing and
sending; after a restart every message is answered exactly once."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.conftest import model_env
from tests.fakes.http import callback_receiver, wait_for
from tests.fakes.support import KB, SECRET, free_port, message, signed

pytestmark = pytest.mark.slow


class Process:
    """One ``supportbot`` process with its own environment, killed hard on exit."""

    def __init__(self, command: str, env: dict[str, str], log: Path) -> None:
        self.log = log
        with log.open("ab") as out:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "bot.cli.main", command],
                env=env, stdout=out, stderr=subprocess.STDOUT,
            )

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(timeout=10)


@pytest.fixture
def procs() -> Iterator[list[Process]]:
    started: list[Process] = []
    yield started
    for p in started:
        p.kill()


async def test_nothing_accepted_is_lost_and_nothing_is_sent_twice(
    tmp_path: Path, procs: list[Process]
) -> None:
    kb = tmp_path / "kb"
    kb.mkdir()
    for name, text in KB.items():
        (kb / name).write_text(text)
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    async with callback_receiver(failures=10**6, fail_with=503) as receiver, \
            httpx.AsyncClient(timeout=5) as http:
        env = {
            "PATH": os.environ["PATH"], "HF_HUB_OFFLINE": "1", **model_env(),
            "SUPPORTBOT_DATA_DIR": str(tmp_path / "data"), "SUPPORTBOT_KB_DIR": str(kb),
            "SUPPORTBOT_WEBHOOK_SHOP_SECRET": SECRET,
            "SUPPORTBOT_WEBHOOK_SHOP_CALLBACK_URL": receiver.url,
            "SUPPORTBOT_AUTO_SEND_THRESHOLD": "0.5", "SUPPORTBOT_EARN_MIN_APPROVALS": "0",
            "SUPPORTBOT_OUTBOX_BACKOFF": "0.1",
            "SUPPORTBOT_OUTBOX_MAX_ATTEMPTS": "50", "SUPPORTBOT_LEASE_SECONDS": "2",
            "PORT": str(port),
        }
        log = tmp_path / "supportbot.log"
        await asyncio.to_thread(subprocess.run, [sys.executable, "-m", "bot.cli.main", "migrate"],
                                env=env, check=True, capture_output=True)

        async def healthy() -> bool:
            try:
                return (await http.get(f"{base}/healthz")).status_code == 200
            except httpx.HTTPError:
                return False

        # 1. Only the web process runs: messages are accepted, nobody routes them. Crash.
        procs.append(Process("web", env, log))
        await wait_for(healthy, timeout=60)
        questions = ["How do I reset my password?", "I forgot my password, help me reset it",
                     "How long does a refund of my annual plan take?"]
        for i, text in enumerate(questions):
            raw, headers = signed(message(mid=f"m-{i}", conversation=f"c-{i}", text=text))
            response = await http.post(f"{base}/webhook/shop", content=raw, headers=headers)
            assert response.status_code == 202
        procs[-1].kill()

        # 2. The full product routes them; the receiver is down, so replies wait. Crash.
        procs.append(Process("run", env, log))
        await wait_for(lambda: len({r.json()["reply_id"] for r in receiver.requests}) == 3,
                       timeout=120)
        procs[-1].kill()

        # 3. Restart with the receiver back: every reply arrives, each exactly once.
        receiver.failures = 0
        procs.append(Process("run", env, log))
        await wait_for(lambda: len(receiver.delivered) >= 3, timeout=120)

        async def drained() -> bool:
            try:
                text = (await http.get(f"{base}/metrics")).text
            except httpx.HTTPError:
                return False
            return "supportbot_outbox_depth 0.0" in text and "supportbot_inbox_depth 0.0" in text

        await wait_for(drained, timeout=60)
    delivered = [r.json() for r in receiver.delivered]
    assert sorted(d["in_reply_to"] for d in delivered) == ["m-0", "m-1", "m-2"], \
        json.dumps(delivered)
    # Every attempt for one message carried the same reply_id, so receivers can dedupe too.
    by_message: dict[str, set[str]] = {}
    for r in receiver.requests:
        by_message.setdefault(r.json()["in_reply_to"], set()).add(r.json()["reply_id"])
    assert all(len(ids) == 1 for ids in by_message.values())
