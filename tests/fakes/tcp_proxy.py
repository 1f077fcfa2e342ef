"""A loopback TCP proxy that can *hang*: the connection stays open and nothing gets through.

That is what a stuck mail server, a dead NAT mapping or a half-open firewall session looks like
to a client (no RST, no FIN, no answer), and what keepalives must detect. While frozen, new
connections are accepted and then left silent too (no greeting).
"""

from __future__ import annotations

import asyncio
import contextlib


class HangingProxy:
    """Forwards 127.0.0.1:<port> to ``target`` until ``freeze()``; ``thaw()`` lets new traffic
    through again. Runs on the test's event loop."""

    def __init__(self, target_host: str, target_port: int) -> None:
        self.target = (target_host, target_port)
        self.host = "127.0.0.1"
        self.port = 0
        self.connections = 0
        self._open = asyncio.Event()
        self._open.set()
        self._server: asyncio.Server | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        self._writers: list[asyncio.StreamWriter] = []

    async def start(self) -> HangingProxy:
        self._server = await asyncio.start_server(self._handle, self.host, 0)
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    def freeze(self) -> None:
        """From now on nothing passes in either direction; sockets stay open."""
        self._open.clear()

    def thaw(self) -> None:
        self._open.set()

    async def close(self) -> None:
        if self._server is not None:
            self._server.close()
        for writer in self._writers:
            writer.close()
        current = asyncio.current_task()
        for task in list(self._tasks):
            if task is not current:
                task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        self._writers.append(writer)
        handler = asyncio.current_task()
        if handler is not None:
            self._tasks.add(handler)
            handler.add_done_callback(self._tasks.discard)
        try:
            await self._open.wait()  # frozen: the TCP handshake worked, no greeting comes
            up_reader, up_writer = await asyncio.open_connection(*self.target)
        except asyncio.CancelledError:
            return
        self._writers.append(up_writer)
        for src, dst in ((reader, up_writer), (up_reader, writer)):
            task = asyncio.create_task(self._pipe(src, dst))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    async def _pipe(self, src: asyncio.StreamReader, dst: asyncio.StreamWriter) -> None:
        with contextlib.suppress(ConnectionError, asyncio.CancelledError):
            while data := await src.read(65536):
                await self._open.wait()
                dst.write(data)
                await dst.drain()
        with contextlib.suppress(Exception):
            dst.close()
