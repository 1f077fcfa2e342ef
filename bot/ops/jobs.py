"""Scheduled jobs: plain async functions of an injected clock, run under a database lease.

``JobRunner.run`` takes the job's lease (so with several workers one runs it), logs a failure
with its traceback, and reports it in the approval channel once — not on every failing run —
and says so again when the job recovers.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Protocol

from bot.clock import Clock, utcnow
from bot.ops.stats import Stats, compute_stats
from bot.ports import ApprovalNotifier
from bot.store import drafts, inbox, kv, leases, retention

log = logging.getLogger(__name__)

JobFn = Callable[[datetime], Awaitable[str]]


class OpsChannel(Protocol):
    """Where operational news goes (the Slack approval channel, or the log)."""

    async def post_digest(self, stats: Stats) -> None: ...

    async def report_problem(self, text: str) -> None: ...


class LogOps:
    """Without Slack: operational news goes to the log."""

    async def post_digest(self, stats: Stats) -> None:
        log.info("daily digest: %s inbound, %s drafts, shares %s", stats.inbound, stats.drafts,
                 stats.shares)

    async def report_problem(self, text: str) -> None:
        log.error("%s", text)


@dataclass(frozen=True)
class Job:
    """A named job and how long its lease lasts (a little less than its interval)."""

    name: str
    func: JobFn
    lease: timedelta


@dataclass(frozen=True)
class JobResult:
    name: str
    ran: bool
    ok: bool
    detail: str


class JobRunner:
    """Runs jobs under leases and reports failures once."""

    def __init__(self, *, owner: str, ops: OpsChannel, clock: Clock = utcnow) -> None:
        self._owner = owner
        self._ops = ops
        self._clock = clock

    async def run(self, job: Job) -> JobResult:
        now = self._clock()
        if not await leases.acquire(f"job:{job.name}", self._owner, ttl=job.lease, now=now):
            return JobResult(job.name, ran=False, ok=True, detail="another worker holds it")
        flag = f"job_failing:{job.name}"
        try:
            detail = await job.func(now)
        except Exception as exc:
            log.exception("scheduled job %s failed", job.name)
            if await kv.get_value(flag) is None:
                await kv.put_value(flag, {"since": now.isoformat(), "error": repr(exc)[:500]})
                await self._ops.report_problem(
                    f":warning: Scheduled job `{job.name}` failed: {exc.__class__.__name__}: "
                    f"{str(exc)[:300]}. It keeps retrying; this is reported once.")
            return JobResult(job.name, ran=True, ok=False, detail=repr(exc))
        if await kv.get_value(flag) is not None:
            await kv.delete_value(flag)
            await self._ops.report_problem(f":white_check_mark: Scheduled job `{job.name}` "
                                           "works again.")
        log.info("job %s: %s", job.name, detail)
        return JobResult(job.name, ran=True, ok=True, detail=detail)


# --- the jobs -----------------------------------------------------------------------------


def remind_pending(notifier: ApprovalNotifier, *, older_than: timedelta) -> JobFn:
    """Nudge drafts waiting longer than ``older_than`` (in the card's thread)."""

    async def job(now: datetime) -> str:
        return f"{await notifier.remind_stale(older_than=older_than, now=now)} reminded"

    return job


def daily_digest(ops: OpsChannel) -> JobFn:
    """Yesterday's figures (the ``/support stats`` summary and chart) in the approval channel."""

    async def job(now: datetime) -> str:
        stats = await compute_stats(timedelta(days=1), now)
        await ops.post_digest(stats)
        return f"digest of {stats.inbound} messages posted"

    return job


def sync_knowledge(ingest: Callable[[], Awaitable[object]]) -> JobFn:
    """Re-ingest the knowledge folder: changed files re-indexed, removed files dropped."""

    async def job(now: datetime) -> str:
        return str(await ingest())

    return job


def recover_queues(notifier: ApprovalNotifier) -> JobFn:
    """Make every message end visibly: routing that gave up without a human card gets one,
    and pending drafts whose card never reached Slack are posted."""

    async def job(now: datetime) -> str:
        handed = 0
        for message_id, conversation_id, error in await inbox.failed_without_draft():
            draft = await drafts.hand_to_humans(message_id=message_id,
                                                conversation_id=conversation_id,
                                                error=error or "routing failed")
            await notifier.draft_ready(draft.id)
            handed += 1
        posted = await notifier.post_missing_cards()
        return f"{handed} failed messages handed to humans, {posted} missing cards posted"

    return job


def refit_confidence(refit: Callable[[], Awaitable[object]]) -> JobFn:
    """Fit the confidence combination again from the latest learning signals."""

    async def job(now: datetime) -> str:
        return str(await refit())

    return job


def purge_retention(*, days: int) -> JobFn:
    """Blank message bodies and draft texts older than ``days``; rows and figures stay, so the
    stats keep working."""

    async def job(now: datetime) -> str:
        purged = await retention.purge_before(now - timedelta(days=days))
        return (f"purged {purged.messages} messages, {purged.drafts} drafts, "
                f"{purged.signals} signals")

    return job
