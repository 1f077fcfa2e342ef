"""IMAP poller: watch one folder (IDLE, or polling where IDLE is missing) and accept new mail.

Exactly-once rests on two things. A cursor (UIDVALIDITY and the last accepted UID, RFC 3501
2.3.1.1) is stored only after ``accept`` returned, so a restart or an outage backfills every
UID above it; and ``accept`` dedupes on Message-ID, so a message seen twice (a crash between
accept and the cursor write, a UIDVALIDITY reset) is still stored once. A message is flagged
\\Seen (or moved) only after it was accepted. imapclient is blocking: every call runs in a
worker thread, one at a time per connection.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any

from imapclient import SEEN, IMAPClient

from bot import telemetry
from bot.domain import AcceptError, AcceptFn
from bot.store import kv
from channels.mail.imap_connect import ImapAccount, ImapConnect, TokenProvider, imap_connector
from channels.mail.inbound import MailOptions, to_inbound
from channels.mail.parse import MailRejected, OwnMail
from config import Settings

log = logging.getLogger(__name__)

# RFC 2177 3: servers may drop an IDLE after 30 minutes; re-issue well before.
IDLE_RENEW_SECONDS = 25 * 60


def _is_keepalive(response: Any) -> bool:
    # "* OK Still here" (and friends) only keep NAT boxes awake; they announce no mail.
    return isinstance(response, tuple) and bool(response) and response[0] == b"OK"


def _take_mail_notices(client: IMAPClient) -> bool:
    """Whether the server announced new mail since the last check (and forget the notices).

    imaplib keeps untagged EXISTS/RECENT lines that arrived with other commands' responses;
    imapclient has no public accessor for them, hence the guarded attribute access.
    """
    pending = getattr(getattr(client, "_imap", None), "untagged_responses", None)
    if not isinstance(pending, dict):
        return False
    return bool(pending.pop("EXISTS", None)) | bool(pending.pop("RECENT", None))


class ImapPoller:
    """Fetches new mail from one IMAP folder and hands each message to ``accept``."""

    def __init__(
        self,
        *,
        connect: ImapConnect,
        accept: AcceptFn,
        options: MailOptions,
        cursor_key: str,
        folder: str = "INBOX",
        processed_folder: str | None = None,
        use_idle: bool = True,
        idle_renew_seconds: float = IDLE_RENEW_SECONDS,
        idle_check_seconds: float = 5.0,
        poll_seconds: float = 60.0,
        backoff_initial: float = 1.0,
        backoff_max: float = 300.0,
        batch_size: int = 25,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        now: Callable[[], datetime] = lambda: datetime.now(UTC),
        get_value: Callable[[str, Any], Awaitable[Any]] = kv.get_value,
        put_value: Callable[[str, Any], Awaitable[None]] = kv.put_value,
    ) -> None:
        self._connect = connect
        self._accept = accept
        self._options = options
        self._key = cursor_key
        self._folder = folder
        self._processed_folder = processed_folder
        self._use_idle = use_idle
        self._idle_renew = idle_renew_seconds
        self._idle_check = idle_check_seconds
        self._poll_seconds = poll_seconds
        self._backoff_initial = backoff_initial
        self._backoff_max = backoff_max
        self._batch_size = batch_size
        self._clock = clock
        self._sleep = sleep
        self._now = now
        self._get_value = get_value
        self._put_value = put_value
        self._client: IMAPClient | None = None
        self._uidvalidity = 0
        self._idle_supported = False
        self.connects = 0  # how many sessions were opened: observable reconnects

    @classmethod
    def from_settings(
        cls,
        settings: Settings,
        *,
        accept: AcceptFn,
        oauth2_token: TokenProvider | None = None,
        **overrides: Any,
    ) -> ImapPoller:
        """The poller of IMAP_* settings; the cursor key is ``imap:<user>@<host>/<folder>``."""
        account = ImapAccount.from_settings(settings, oauth2_token=oauth2_token)
        kwargs: dict[str, Any] = {
            "processed_folder": settings.imap_processed_folder,
            **overrides,
        }
        return cls(
            connect=imap_connector(account),
            accept=accept,
            options=MailOptions.from_settings(settings),
            cursor_key=f"imap:{account.cursor_name}/{settings.imap_folder}",
            folder=settings.imap_folder,
            **kwargs,
        )

    # --- the loop -------------------------------------------------------------------------

    async def run(self, stop: asyncio.Event) -> None:
        """Until ``stop`` is set: fetch, wait for mail, repeat; reconnect with exponential
        backoff on any failure (the failure is logged, never swallowed silently)."""
        backoff = self._backoff_initial
        telemetry.IMAP_POLL_AGE.watch()
        try:
            while not stop.is_set():
                try:
                    await self.poll_once()
                    telemetry.IMAP_POLL_AGE.mark()
                    backoff = self._backoff_initial
                    await self._wait_for_mail(stop)
                except (IMAPClient.Error, OSError, AcceptError) as exc:
                    log.warning("IMAP %s: %s; reconnecting in %.1fs", self._folder, exc, backoff)
                    await self._retry_after(backoff, stop)
                    backoff = min(backoff * 2, self._backoff_max)
                except Exception:
                    log.exception("IMAP %s: unexpected failure; reconnecting", self._folder)
                    await self._retry_after(backoff, stop)
                    backoff = min(backoff * 2, self._backoff_max)
        finally:
            await self.close()

    async def poll_once(self) -> int:
        """Connect if needed and accept every message above the cursor; returns how many
        messages were handed to ``accept`` (duplicates included)."""
        client = await self._session()
        handled = 0
        while True:
            _take_mail_notices(client)
            accepted, seen = await self._sync(client)
            handled += accepted
            # Mail announced while we were fetching ("* n EXISTS" during FETCH/STORE) is not
            # announced again inside IDLE: look again until a pass finds nothing new.
            if not seen and not _take_mail_notices(client):
                return handled

    async def close(self) -> None:
        """Log out (best effort) and forget the connection."""
        client, self._client = self._client, None
        if client is None:
            return
        try:
            await asyncio.to_thread(client.logout)
        except Exception:
            try:
                await asyncio.to_thread(client.shutdown)
            except Exception:
                log.debug("IMAP shutdown after a failed logout also failed", exc_info=True)

    async def _retry_after(self, seconds: float, stop: asyncio.Event) -> None:
        await self.close()
        await self._pause(seconds, stop)

    async def _pause(self, seconds: float, stop: asyncio.Event) -> None:
        sleeper = asyncio.ensure_future(self._sleep(seconds))
        stopper = asyncio.ensure_future(stop.wait())
        _, pending = await asyncio.wait({sleeper, stopper}, return_when=asyncio.FIRST_COMPLETED)
        for task in pending:
            task.cancel()
        await asyncio.gather(*pending, return_exceptions=True)

    async def _session(self) -> IMAPClient:
        if self._client is not None:
            return self._client
        client = await asyncio.to_thread(self._connect)
        try:
            info = await asyncio.to_thread(client.select_folder, self._folder)
            if self._processed_folder and not await asyncio.to_thread(
                client.folder_exists, self._processed_folder
            ):
                await asyncio.to_thread(client.create_folder, self._processed_folder)
        except BaseException:
            await asyncio.to_thread(client.shutdown)
            raise
        self._uidvalidity = int(info[b"UIDVALIDITY"])
        self._idle_supported = self._use_idle and bool(client.has_capability("IDLE"))
        self._client = client
        self.connects += 1
        return client

    async def _wait_for_mail(self, stop: asyncio.Event) -> None:
        client = self._client
        if client is None or stop.is_set():
            return
        if not self._idle_supported:
            await self._pause(self._poll_seconds, stop)
            return
        await asyncio.to_thread(client.idle)
        renew_at = self._clock() + self._idle_renew
        try:
            while not stop.is_set() and self._clock() < renew_at:
                started = time.monotonic()
                responses = await asyncio.to_thread(client.idle_check, self._idle_check)
                if any(not _is_keepalive(r) for r in responses):
                    break  # EXISTS, EXPUNGE, BYE …: something changed, go and look
                if not responses and time.monotonic() - started < self._idle_check / 2:
                    # Readable yet nothing parsed: imapclient swallows EOF here, so this is a
                    # closed connection; DONE below fails and the reconnect path takes over.
                    break
                # The server held the IDLE for the whole check: the mailbox is reachable.
                telemetry.IMAP_POLL_AGE.mark()
        finally:
            await asyncio.to_thread(client.idle_done)

    # --- fetching -------------------------------------------------------------------------

    async def _sync(self, client: IMAPClient) -> tuple[int, int]:
        """One pass over the UIDs above the cursor: (messages accepted, UIDs looked at)."""
        cursor = await self._get_value(self._key, None)
        last = 0
        if isinstance(cursor, dict) and cursor.get("uidvalidity") == self._uidvalidity:
            last = int(cursor.get("last_uid", 0))
        elif cursor:
            # RFC 3501 2.3.1.1: old UIDs mean nothing now. Re-scan; Message-ID dedupe in
            # accept keeps messages we already stored from being stored again.
            log.warning("IMAP %s: UIDVALIDITY changed, re-scanning the folder", self._folder)
        if not isinstance(cursor, dict) or cursor.get("uidvalidity") != self._uidvalidity:
            await self._save_cursor(last)
        # "UID n:*" always matches the highest UID even when it is below n (RFC 3501 6.4.8).
        found = await asyncio.to_thread(client.search, ["UID", f"{last + 1}:*"])
        uids = sorted(int(uid) for uid in found if int(uid) > last)
        handled = 0
        for start in range(0, len(uids), self._batch_size):
            batch = uids[start : start + self._batch_size]
            fetched = await asyncio.to_thread(client.fetch, batch, ["BODY.PEEK[]"])
            for uid in batch:
                raw = fetched.get(uid, {}).get(b"BODY[]")
                if isinstance(raw, bytes) and await self._ingest(raw, uid):
                    await self._mark_processed(client, uid)
                    handled += 1
                await self._save_cursor(uid)
        return handled, len(uids)

    async def _ingest(self, raw: bytes, uid: int) -> bool:
        """Accept one message; False for mail we skip. AcceptError propagates (no cursor move)."""
        try:
            inbound = await asyncio.to_thread(
                to_inbound,
                raw,
                options=self._options,
                received_at=self._now(),
                source=f"imap:{self._folder}",
            )
        except OwnMail:
            return False
        except MailRejected as exc:
            log.warning("IMAP %s: skipped UID %s: %s", self._folder, uid, exc.reason)
            return False
        await self._accept(inbound)
        return True

    async def _mark_processed(self, client: IMAPClient, uid: int) -> None:
        if self._processed_folder is None:
            await asyncio.to_thread(client.add_flags, [uid], [SEEN], True)
        elif client.has_capability("MOVE"):
            await asyncio.to_thread(client.move, [uid], self._processed_folder)
        else:  # RFC 6851 is missing: copy, flag deleted, expunge just this UID if we can
            await asyncio.to_thread(client.copy, [uid], self._processed_folder)
            await asyncio.to_thread(client.delete_messages, [uid], True)
            if client.has_capability("UIDPLUS"):
                await asyncio.to_thread(client.uid_expunge, [uid])
            else:
                await asyncio.to_thread(client.expunge)

    async def _save_cursor(self, last_uid: int) -> None:
        await self._put_value(self._key, {"uidvalidity": self._uidvalidity, "last_uid": last_uid})
