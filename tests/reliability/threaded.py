"""The product's web app served from a background thread with its own event loop.

Hypothesis and schemathesis drive *synchronous* test functions, so the server (uvicorn, the
database, the fake Slack API) cannot share the test's loop; here it runs in a thread and the
tests talk to it over loopback HTTP with a blocking client.
"""

from __future__ import annotations

import asyncio
import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import uvicorn

from bot.app import build_services, create_web_app
from bot.store.db import migrate
from config import Settings
from tests.fakes.slack_api import FakeSlackAPI
from tests.reliability.conftest import APPROVAL, APPROVER


@dataclass
class ThreadedServer:
    """Where the server listens, and the fake Slack it talks to (``None`` without Slack)."""

    url: str
    slack_api_url: str | None


@contextmanager
def serve_in_thread(settings_for: Any, *, slack: bool = True) -> Iterator[ThreadedServer]:
    """Run ``create_web_app`` (and a fake Slack API) in a thread until the block ends.

    ``settings_for(slack_api_url)`` builds the settings once the fake Slack's URL is known.
    """
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    ready = threading.Event()
    failed: list[BaseException] = []
    holder: dict[str, Any] = {}

    async def main() -> None:
        async with FakeSlackAPI() as fake:
            fake.members[APPROVAL] = [APPROVER]
            holder["slack"] = fake.api_url if slack else None
            settings: Settings = settings_for(fake.api_url if slack else None)
            await migrate(settings)
            async with build_services(settings, with_knowledge=False) as services:
                server = uvicorn.Server(uvicorn.Config(create_web_app(services),
                                                       log_level="warning", lifespan="off"))
                holder["server"] = server
                task = asyncio.create_task(server.serve(sockets=[sock]))
                # uvicorn exposes no readiness event, only the ``started`` flag.
                while not server.started and not task.done():  # noqa: ASYNC110
                    await asyncio.sleep(0.01)
                ready.set()
                await task

    def run() -> None:
        try:
            asyncio.run(main())
        except BaseException as exc:  # surfaced to the test below
            failed.append(exc)
            ready.set()

    thread = threading.Thread(target=run, name="threaded-web", daemon=True)
    thread.start()
    if not ready.wait(60) or failed:
        raise RuntimeError("the threaded server did not start") from (failed[0] if failed
                                                                       else None)
    try:
        yield ThreadedServer(url=f"http://127.0.0.1:{port}", slack_api_url=holder["slack"])
    finally:
        holder["server"].should_exit = True
        thread.join(timeout=20)
        sock.close()
