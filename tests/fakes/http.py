"""Real HTTP on loopback for tests: serve an ASGI app with uvicorn on a random port, and a
recording callback receiver (aiohttp) that can be told to fail."""

from __future__ import annotations

import asyncio
import json
import socket
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

import uvicorn
from aiohttp import web


@asynccontextmanager
async def serve_asgi(app: Any) -> AsyncIterator[str]:
    """Serve ``app`` on 127.0.0.1 with a kernel-chosen port; yield its base URL."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="off"))
    task = asyncio.create_task(server.serve(sockets=[sock]))
    async with asyncio.timeout(10):
        # uvicorn offers no event for "started", only the flag, so poll it with a deadline.
        while not server.started:  # noqa: ASYNC110
            await asyncio.sleep(0.01)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        await task
        sock.close()


@dataclass
class Received:
    """One request the receiver got, and what it answered."""

    headers: dict[str, str]
    body: bytes
    status: int

    def json(self) -> Any:
        return json.loads(self.body)


@dataclass
class CallbackReceiver:
    """Records every POST; answers ``fail_with`` for the first ``failures`` requests."""

    failures: int = 0
    fail_with: int = 500
    requests: list[Received] = field(default_factory=list)
    url: str = ""

    async def handle(self, request: web.Request) -> web.Response:
        body = await request.read()
        status = self.fail_with if self.failures > 0 else 200
        self.failures = max(0, self.failures - 1)
        self.requests.append(Received(dict(request.headers), body, status))
        return web.json_response({"ok": status == 200}, status=status)

    @property
    def delivered(self) -> list[Received]:
        return [r for r in self.requests if r.status == 200]


@asynccontextmanager
async def callback_receiver(**options: Any) -> AsyncIterator[CallbackReceiver]:
    """A running receiver at ``receiver.url`` (POST anything under it)."""
    receiver = CallbackReceiver(**options)
    app = web.Application()
    app.router.add_post("/{tail:.*}", receiver.handle)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    receiver.url = f"http://127.0.0.1:{port}/hooks/replies"
    try:
        yield receiver
    finally:
        await runner.cleanup()


# The deadline is this helper's purpose (callers pass it per effect); it is enforced with
# asyncio.timeout below, which is what ASYNC109 asks callers to do.
async def wait_for(
    predicate: Any, *, timeout: float = 20.0, interval: float = 0.02  # noqa: ASYNC109
) -> None:
    """Poll ``predicate`` (sync or async) until true, failing after ``timeout`` seconds."""
    async with asyncio.timeout(timeout):
        while True:
            result = predicate()
            if asyncio.iscoroutine(result):
                result = await result
            if result:
                return
            await asyncio.sleep(interval)


async def smtp_listening(port: int) -> bool:
    """True once something accepts TCP connections on ``127.0.0.1:port`` (an SMTP server)."""
    try:
        _, writer = await asyncio.open_connection("127.0.0.1", port)
    except OSError:
        return False
    writer.close()
    await writer.wait_closed()
    return True
