"""The worker loops: route accepted messages and dispatch the outbox, until told to stop.

Both loops poll the database (so several workers and web processes cooperate through it) and
can be woken early in-process with ``kick()`` after an edge accepted something.
"""

from __future__ import annotations

import asyncio
import logging
import os
import socket
import uuid
from collections.abc import Awaitable, Callable
from typing import Any

from bot.clock import Clock, utcnow
from bot.domain import Decision
from bot.flow.outbox import OutboxDispatcher
from bot.flow.router import Router
from bot.flow.wakeup import WakeUp
from bot.ports import ApprovalNotifier
from bot.store import drafts, inbox
from config import Settings

log = logging.getLogger(__name__)


def worker_id() -> str:
    """A name for this process's leases: host, pid and a random part."""
    return f"{socket.gethostname()[:24]}:{os.getpid()}:{uuid.uuid4().hex[:6]}"


class Worker:
    """Runs the inbox processor and the outbox dispatcher."""

    def __init__(
        self,
        *,
        settings: Settings,
        router: Router,
        dispatcher: OutboxDispatcher,
        notifier: ApprovalNotifier,
        owner: str,
        wake: WakeUp | None = None,
        clock: Clock = utcnow,
        concurrency: int = 4,
        idle_seconds: float = 0.5,
    ) -> None:
        self._settings = settings
        self._router = router
        self._dispatcher = dispatcher
        self._notifier = notifier
        self._owner = owner
        self._clock = clock
        self._concurrency = concurrency
        self._idle = idle_seconds
        self._wake = wake or WakeUp()
        self._wake_inbox = self._wake.inbox
        self._wake_outbox = self._wake.outbox

    @property
    def owner(self) -> str:
        """This worker's lease name."""
        return self._owner

    def kick(self) -> None:
        """Something was accepted or enqueued in this process: look now, not at the next poll."""
        self._wake.kick()

    async def _claim(self, limit: int) -> list[inbox.Claimed]:
        """Lease up to ``limit`` claimable items; none (logged) when the database fails."""
        try:
            return await inbox.claim(self._owner, limit=limit,
                                     lease_seconds=self._settings.lease_seconds,
                                     clock=self._clock)
        except Exception:
            log.exception("claiming inbox items failed; retrying")
            return []

    async def _mark_done(self, items: list[inbox.Claimed]) -> list[inbox.Claimed]:
        """Mark ``items`` done in one statement; return what is still to mark (all of them,
        logged, when the database fails: they are retried with the next batch)."""
        if not items:
            return []
        try:
            await inbox.complete_many(items, self._owner, clock=self._clock)
        except Exception:
            log.exception("marking %s inbox items done failed; retrying", len(items))
            return items
        return []

    async def _route_continuously(self, stop: asyncio.Event) -> None:
        """Keep up to ``concurrency`` messages in flight until ``stop``: ``run``'s inbox loop.

        Unlike claiming a batch and waiting for all of it, one slow message does not hold the
        other slots idle: once half of them are free they are refilled, in one claim, after
        each finished message, a wake-up or the poll interval (a finished message may free
        its conversation's next one; another process may have accepted new ones). Finished
        items are marked done in one statement just before each claim (an item finished but
        not yet marked when the process dies is claimed again later and resumed, not
        re-drafted).
        """
        running: dict[asyncio.Future[bool], inbox.Claimed] = {}
        finished: list[inbox.Claimed] = []
        refill = max(1, self._concurrency // 2)
        look = True  # something may have become claimable since the last claim
        try:
            while not stop.is_set() or running:
                free = self._concurrency - len(running)
                may_claim = not stop.is_set() and free >= refill
                if may_claim and (look or self._wake_inbox.is_set()):
                    self._wake_inbox.clear()
                    look = False
                    finished = await self._mark_done(finished)
                    for item in await self._claim(free):
                        running[asyncio.ensure_future(self._route(item))] = item
                if not running:
                    finished = await self._mark_done(finished)
                    if not stop.is_set():
                        await self._idle_wait(self._wake_inbox, stop)
                    look = True
                    continue
                # Wait for a message to finish; with free slots, also for a wake-up or a poll.
                waits: set[asyncio.Future[Any]] = set(running)
                waker = asyncio.ensure_future(self._wake_inbox.wait()) if may_claim else None
                if waker is not None:
                    waits.add(waker)
                try:
                    await asyncio.wait(waits, timeout=self._idle if may_claim else None,
                                       return_when=asyncio.FIRST_COMPLETED)
                finally:
                    if waker is not None:
                        waker.cancel()
                look = True
                for task in [t for t in running if t.done()]:
                    item = running.pop(task)
                    try:
                        routed = task.result()
                    except Exception:
                        log.exception("routing message %s failed", item.message_id)
                        continue
                    if routed:
                        finished.append(item)
            await self._mark_done(finished)
        finally:
            for task in running:
                task.cancel()

    async def _route(self, item: inbox.Claimed) -> bool:
        """Route one item; True when it is done (its completion is batched by the caller)."""
        if item.attempts > 1 and await self._resume(item):
            return True
        try:
            draft = await self._router.process(item.message_id)
            if draft is not None and draft.decision == Decision.AUTO.value:
                self._wake_outbox.set()  # only an automatic reply puts something in the outbox
        except Exception as exc:
            log.exception("routing message %s failed (attempt %s)", item.message_id, item.attempts)
            gave_up = await inbox.fail(
                item, self._owner, f"{exc.__class__.__name__}: {exc}",
                max_attempts=self._settings.inbox_max_attempts, clock=self._clock,
            )
            if gave_up:
                await self._hand_to_humans(item, exc)
            return False
        return True

    async def _resume(self, item: inbox.Claimed) -> bool:
        """True when an earlier attempt already routed this message.

        A worker that died (or lost the database) after routing a message but before marking
        its inbox item done leaves its draft behind; the router stores a draft, its decision
        and an automatic reply's outbox item in one transaction, so that draft is the
        message's final state and routing it again would draft, and maybe send, a second
        answer.
        """
        draft = await drafts.latest_for_message(item.message_id)
        if draft is None:
            return False
        log.warning("message %s was already routed (draft %s); not drafting it again",
                    item.message_id, draft.id)
        return True

    async def _hand_to_humans(self, item: inbox.Claimed, exc: Exception) -> None:
        """The router kept failing: a human-only card with the error, never a silent drop."""
        try:
            draft = await drafts.hand_to_humans(
                message_id=item.message_id, conversation_id=item.conversation_id,
                error=f"routing failed {item.attempts} times: {exc.__class__.__name__}: {exc}")
            await self._notifier.draft_ready(draft.id)
        except Exception:
            log.exception("could not hand message %s to humans", item.message_id)

    async def dispatch_outbox_once(self) -> int:
        """Send what is due; return how many were tried."""
        return await self._dispatcher.run_once()

    async def _loop(self, name: str, step: Callable[[], Awaitable[int]], wake: asyncio.Event,
                    stop: asyncio.Event) -> None:
        while not stop.is_set():
            try:
                busy = await step()
            except Exception:
                log.exception("%s loop failed; retrying", name)
                busy = 0
            if busy:
                continue
            wake.clear()
            await self._idle_wait(wake, stop)

    async def _idle_wait(self, wake: asyncio.Event, stop: asyncio.Event) -> None:
        """Wait for ``wake``, ``stop`` or the poll interval, whichever comes first."""
        stopper = asyncio.ensure_future(stop.wait())
        waker = asyncio.ensure_future(wake.wait())
        try:
            await asyncio.wait({stopper, waker}, timeout=self._idle,
                               return_when=asyncio.FIRST_COMPLETED)
        finally:
            stopper.cancel()
            waker.cancel()

    async def run(self, stop: asyncio.Event) -> None:
        """Run both loops until ``stop`` is set; a loop's crash is logged, not swallowed."""
        async with asyncio.TaskGroup() as group:
            group.create_task(self._route_continuously(stop))
            group.create_task(
                self._loop("outbox", self.dispatch_outbox_once, self._wake_outbox, stop)
            )
