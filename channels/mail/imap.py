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
from typing import Any, TypeVar

from imapclient import SEEN, IMAPClient

from bot import telemetry
from bot.domain import AcceptError, AcceptFn
from bot.store import kv
from bot.store import mail as mail_store
from channels.mail.imap_connect import ImapAccount, ImapConnect, TokenProvider, imap_connector
from channels.mail.imap_health import Alert, MailboxHealth, MailboxStalled
from channels.mail.imap_start import StartPolicy, rescan_criteria
from channels.mail.inbound import (
    CustomerOf,
    MailOptions,
    OnBounce,
    email_customer_of,
    keep_raw_copy,
    mark_participant,
    prepare_mail,
    report_bounce,
)
from channels.mail.oauth2 import OAuth2Error, RefreshingToken
from channels.mail.parse import MailRejected, OwnMail
from channels.mail.raw import KeepRaw
from config import Settings

log = logging.getLogger(__name__)
T = TypeVar("T")

# RFC 2177 3: servers may drop an IDLE after 30 minutes. We re-issue it every few minutes: the
# DONE/IDLE round trip is the keepalive that proves the server still answers (a hung server
# keeps the TCP connection open and says nothing, which IDLE alone cannot tell from no mail).
KEEPALIVE_SECONDS = 4 * 60


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
        start: StartPolicy | None = None,
        processed_folder: str | None = None,
        use_idle: bool = True,
        idle_renew_seconds: float = KEEPALIVE_SECONDS,
        timeout_seconds: float = 30.0,
        alert: Alert | None = None,
        keep_raw: KeepRaw | None = None,
        on_bounce: OnBounce | None = None,
        customer_of: CustomerOf | None = None,
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
        self._start = start or StartPolicy()
        self._processed_folder = processed_folder
        self._use_idle = use_idle
        self._idle_renew = idle_renew_seconds
        self._timeout = timeout_seconds
        self._keep_raw = keep_raw
        self._on_bounce = on_bounce
        self._customer_of = customer_of
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
        self.health = MailboxHealth(mailbox=f"{cursor_key.removeprefix('imap:')}", alert=alert,
                                    clock=clock)

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
        account = ImapAccount.from_settings(
            settings, oauth2_token=oauth2_token or RefreshingToken.from_settings(settings))
        kwargs: dict[str, Any] = {
            "processed_folder": settings.imap_processed_folder,
            "idle_renew_seconds": settings.imap_keepalive_seconds,
            "timeout_seconds": settings.imap_timeout_seconds,
            "keep_raw": mail_store.keep_raw_mail,
            "customer_of": email_customer_of,
            "start": StartPolicy.from_settings(settings),
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
                    await self.health.succeeded()
                    telemetry.IMAP_POLL_AGE.mark()
                    backoff = self._backoff_initial
                    await self._wait_for_mail(stop)
                except AcceptError as exc:  # our database, not the mailbox
                    log.warning("IMAP %s: %s; retrying in %.1fs", self._folder, exc, backoff)
                    await self._retry_after(backoff, stop)
                    backoff = min(backoff * 2, self._backoff_max)
                except (IMAPClient.Error, OSError, OAuth2Error) as exc:
                    log.warning("IMAP %s: %s; reconnecting in %.1fs", self._folder, exc, backoff)
                    await self.health.failed(exc)
                    await self._retry_after(backoff, stop)
                    backoff = min(backoff * 2, self._backoff_max)
                except Exception as exc:
                    log.exception("IMAP %s: unexpected failure; reconnecting", self._folder)
                    await self.health.failed(exc)
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

    async def close(self, *, graceful: bool = True) -> None:
        """Log out (best effort; ``graceful=False`` just drops the connection) and forget it."""
        client, self._client = self._client, None
        if client is None:
            return
        try:
            if not graceful:
                raise ConnectionAbortedError("dropping a failed connection")
            await self._io(client, client.logout)
        except Exception:
            try:
                await asyncio.to_thread(client.shutdown)
            except Exception:
                log.debug("IMAP shutdown after a failed logout also failed", exc_info=True)

    async def _io(self, client: IMAPClient | None, call: Callable[..., T], *args: Any,
                  extra: float = 0.0) -> T:
        """Run one blocking imapclient call in a thread, within the timeout.

        The socket timeout normally ends a call to a silent server; this is the backstop for
        the paths it does not cover (TLS reads, a half-open socket): the connection is shut
        down, which unblocks the thread, and ``MailboxStalled`` reports the stall.
        """
        try:
            return await asyncio.wait_for(asyncio.to_thread(call, *args),
                                          self._timeout + extra)
        except TimeoutError:
            if client is not None:
                try:
                    await asyncio.to_thread(client.shutdown)
                except Exception:
                    log.debug("IMAP shutdown of a stalled connection failed", exc_info=True)
            raise MailboxStalled(
                f"no answer from the server within {self._timeout + extra:.1f}s") from None

    async def _retry_after(self, seconds: float, stop: asyncio.Event) -> None:
        await self.close(graceful=False)
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
        # Connecting is several round trips (greeting, STARTTLS, login), each within the
        # socket timeout; the backstop allows for all of them.
        client = await self._io(None, self._connect, extra=3 * self._timeout)
        try:
            info = await self._io(client, client.select_folder, self._folder)
            if self._processed_folder and not await self._io(
                client, client.folder_exists, self._processed_folder
            ):
                await self._io(client, client.create_folder, self._processed_folder)
        except BaseException:
            await asyncio.to_thread(client.shutdown)
            raise
        self._uidvalidity = int(info[b"UIDVALIDITY"])
        # CAPABILITY may need a round trip: in the thread, so has_capability() is cached later.
        capabilities = await self._io(client, client.capabilities)
        self._idle_supported = self._use_idle and b"IDLE" in capabilities
        self._client = client
        self.connects += 1
        return client

    async def _wait_for_mail(self, stop: asyncio.Event) -> None:
        client = self._client
        if client is None or stop.is_set():
            return
        if not self._idle_supported:
            # The next poll's SEARCH is the keepalive: poll at least that often.
            await self._pause(min(self._poll_seconds, self._idle_renew), stop)
            return
        await self._io(client, client.idle)
        renew_at = self._clock() + self._idle_renew
        try:
            while not stop.is_set() and self._clock() < renew_at:
                started = time.monotonic()
                responses = await self._io(client, client.idle_check, self._idle_check,
                                           extra=self._idle_check)
                if any(not _is_keepalive(r) for r in responses):
                    break  # EXISTS, EXPUNGE, BYE …: something changed, go and look
                if not responses and time.monotonic() - started < self._idle_check / 2:
                    # Readable yet nothing parsed: imapclient swallows EOF here, so this is a
                    # closed connection; DONE below fails and the reconnect path takes over.
                    break
                # The server held the IDLE for the whole check: the mailbox is reachable.
                telemetry.IMAP_POLL_AGE.mark()
        finally:
            # DONE must be answered within the timeout: a hung server is found here.
            await self._io(client, client.idle_done)
        await self.health.succeeded()

    # --- fetching -------------------------------------------------------------------------

    async def _sync(self, client: IMAPClient) -> tuple[int, int]:
        """One pass: the backlog of a first start, then the UIDs above the cursor.
        Returns (messages accepted, UIDs looked at)."""
        last, backlog = await self._cursor(client)
        # "UID n:*" always matches the highest UID even when it is below n (RFC 3501 6.4.8).
        found = await self._io(client, client.search, ["UID", f"{last + 1}:*"])
        todo = [*backlog, *sorted(int(uid) for uid in found if int(uid) > last)]
        handled = 0
        for start in range(0, len(todo), self._batch_size):
            batch = todo[start : start + self._batch_size]
            fetched = await self._io(client, client.fetch, batch, ["BODY.PEEK[]"])
            for uid in batch:
                raw = fetched.get(uid, {}).get(b"BODY[]")
                if isinstance(raw, bytes) and await self._ingest(raw, uid):
                    await self._mark_processed(client, uid)
                    handled += 1
                if backlog and uid == backlog[0]:
                    backlog.pop(0)
                else:
                    last = max(last, uid)
                await self._save_cursor(last, backlog)
        return handled, len(todo)

    async def _cursor(self, client: IMAPClient) -> tuple[int, list[int]]:
        """(last UID taken, backlog UIDs still to take); set up on a first start or after a
        UIDVALIDITY change without ever taking mail that was already read (unless asked)."""
        cursor = await self._get_value(self._key, None)
        if isinstance(cursor, dict) and cursor.get("uidvalidity") == self._uidvalidity:
            backlog = [int(uid) for uid in cursor.get("backlog") or []]
            return int(cursor.get("last_uid", 0)), backlog
        highest = await self._highest_uid(client)
        if cursor:
            criteria: list[Any] | None = rescan_criteria()
            log.warning("IMAP %s: UIDVALIDITY changed; taking the unseen mail again, "
                        "read mail is left alone", self._folder)
        else:
            criteria = self._start.backlog_criteria(self._now().date())
            log.info("IMAP %s: first start (IMAP_START=%s): %s", self._folder,
                     self._start.mode, self._start.describe())
        taken: list[int] = []
        if criteria is not None:
            found = await self._io(client, client.search, criteria)
            taken = sorted(int(uid) for uid in found if int(uid) <= highest)
        log.info("IMAP %s: cursor at UID %s, %s earlier message(s) to take", self._folder,
                 highest, len(taken))
        await self._save_cursor(highest, taken)
        return highest, taken

    async def _highest_uid(self, client: IMAPClient) -> int:
        found = await self._io(client, client.search, ["ALL"])
        return max((int(uid) for uid in found), default=0)

    async def _ingest(self, raw: bytes, uid: int) -> bool:
        """Accept one message; False for mail we skip. AcceptError propagates (no cursor move)."""
        try:
            prepared = await asyncio.to_thread(
                prepare_mail,
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
        await keep_raw_copy(self._keep_raw, prepared.raw)
        if await report_bounce(self._on_bounce, prepared.bounce):
            return True  # recorded against our reply; no new conversation
        await self._accept(await mark_participant(prepared.inbound, self._customer_of))
        return True

    async def _mark_processed(self, client: IMAPClient, uid: int) -> None:
        if self._processed_folder is None:
            await self._io(client, client.add_flags, [uid], [SEEN], True)
        elif client.has_capability("MOVE"):
            await self._io(client, client.move, [uid], self._processed_folder)
        else:  # RFC 6851 is missing: copy, flag deleted, expunge just this UID if we can
            await self._io(client, client.copy, [uid], self._processed_folder)
            await self._io(client, client.delete_messages, [uid], True)
            if client.has_capability("UIDPLUS"):
                await self._io(client, client.uid_expunge, [uid])
            else:
                await self._io(client, client.expunge)

    async def _save_cursor(self, last_uid: int, backlog: list[int] | None = None) -> None:
        await self._put_value(self._key, {"uidvalidity": self._uidvalidity, "last_uid": last_uid,
                                          "backlog": list(backlog or [])})
