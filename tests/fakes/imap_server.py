"""A real IMAP server for tests: pymap's in-memory (dict) backend on a loopback port.

It runs on its own event loop in a thread, so tests can stop it mid-IDLE, deliver mail while
it is down, and start it again on the same port, exactly like a mail server restart.
"""

from __future__ import annotations

import asyncio
import ssl
import threading
from argparse import Namespace
from collections.abc import Coroutine
from concurrent.futures import Future
from datetime import UTC, datetime
from typing import Any, TypeVar

from proxyprotocol.reader import ProxyProtocolReader
from pymap.backend.dict import Config, DictBackend, Login
from pymap.backend.dict.filter import FilterSet
from pymap.backend.dict.mailbox import MailboxData, MailboxSet
from pymap.config import BackendCapability
from pymap.imap import IMAPServer
from pymap.parsing.message import AppendMessage
from pymap.parsing.specials.flag import Seen

T = TypeVar("T")


class _NoIdleConfig(Config):
    """The dict backend without the IDLE capability: for the polling fallback."""

    @property
    def backend_capability(self) -> BackendCapability:
        return BackendCapability(idle=False, object_id=True, multi_append=True)


class FakeImapServer:
    """pymap on 127.0.0.1:<random port>; ``user``/``password`` log in; plain unless an
    ``ssl_context`` (server side) is given."""

    def __init__(
        self,
        *,
        user: str = "support",
        password: str = "secret",
        idle: bool = True,
        ssl_context: ssl.SSLContext | None = None,
    ) -> None:
        self.user = user
        self.password = password
        self.host = "127.0.0.1"
        self.port = 0
        self._idle = idle
        self._ssl = ssl_context  # implicit TLS (port 993 style) when set
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(
            target=self._loop.run_forever, name="fake-imap", daemon=True
        )
        self._server: asyncio.Server | None = None
        self._config: Config | None = None
        self._login: Login | None = None

    # --- lifecycle (called from the test's thread) ----------------------------------------

    def _call(self, coro: Coroutine[Any, Any, T]) -> T:
        future: Future[T] = asyncio.run_coroutine_threadsafe(coro, self._loop)
        return future.result(timeout=10)

    def start(self) -> None:
        """Start listening (the first start picks the port; restarts reuse it)."""
        if not self._thread.is_alive():
            self._thread.start()
            self._call(self._init_backend())
        self._call(self._listen())

    def stop(self) -> None:
        """Stop listening and drop every open connection (clients see EOF)."""
        self._call(self._stop())

    def close(self) -> None:
        """Stop and end the server thread."""
        if self._thread.is_alive():
            self.stop()
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(timeout=5)
        self._loop.close()

    def __enter__(self) -> FakeImapServer:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # --- mailbox access -------------------------------------------------------------------

    def deliver(
        self,
        raw: bytes,
        folder: str = "INBOX",
        *,
        seen: bool = False,
        when: datetime | None = None,
    ) -> None:
        """Put a message into a folder server-side (works while the server is stopped);
        ``seen`` delivers it already read, ``when`` sets its internal (arrival) date."""
        self._call(self._append(raw, folder, seen=seen, when=when))

    def flags(self, folder: str = "INBOX") -> dict[int, set[str]]:
        """UID → flags of every message in ``folder``."""
        return self._call(self._flags(folder))

    def reset_mailboxes(self) -> None:
        """Forget all mailboxes: the next session sees a new UIDVALIDITY (a rebuilt store)."""
        assert self._config is not None
        self._loop.call_soon_threadsafe(self._config.set_cache.pop, self.user, None)

    # --- on the server loop ---------------------------------------------------------------

    async def _init_backend(self) -> None:
        args = Namespace(
            host=self.host,
            port=0,
            debug=False,
            cert=None,
            key=None,
            tls=False,
            passlib_cfg=None,
            proxy_protocol=None,
            demo_data=False,
            demo_user=self.user,
            demo_password=self.password,
        )
        config_type = Config if self._idle else _NoIdleConfig
        self._config = config_type.from_args(args, reject_dnsbl=False, invalid_user_sleep=0.0)
        self._config.apply_context()
        self._login = Login(self._config)
        await DictBackend._add_demo_user(self._config, self._login)

    async def _listen(self) -> None:
        assert self._config is not None and self._login is not None
        handler = ProxyProtocolReader(self._config.proxy_protocol).get_callback(
            IMAPServer(self._login, self._config)
        )

        self._server = await asyncio.start_server(handler, self.host, self.port, ssl=self._ssl)
        self.port = self._server.sockets[0].getsockname()[1]

    async def _stop(self) -> None:
        if self._server is not None:
            self._server.close()
            self._server = None
        # Cancelling the connection tasks is what a server shutdown does: pymap answers
        # "* BYE [UNAVAILABLE]" and closes each socket.
        current = asyncio.current_task()
        tasks = [t for t in asyncio.all_tasks() if t is not current]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    async def _mailbox(self, folder: str) -> MailboxData:
        assert self._config is not None
        mailbox_set, _ = self._config.set_cache.setdefault(self.user, (MailboxSet(), FilterSet()))
        if folder.upper() != "INBOX" and (await mailbox_set.list_mailboxes()).get(folder) is None:
            await mailbox_set.add_mailbox(folder)
        return await mailbox_set.get_mailbox(folder)

    async def _append(
        self, raw: bytes, folder: str, *, seen: bool, when: datetime | None
    ) -> None:
        mailbox = await self._mailbox(folder)
        flags = frozenset({Seen}) if seen else frozenset()
        await mailbox.append(AppendMessage(raw, when or datetime.now(UTC), flags), recent=True)

    async def _flags(self, folder: str) -> dict[int, set[str]]:
        mailbox = await self._mailbox(folder)
        return {
            message.uid: {bytes(flag).decode() for flag in message.permanent_flags}
            async for message in mailbox.messages()
        }
