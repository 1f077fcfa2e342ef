"""APScheduler wiring: which job runs when. Jobs themselves live in ``bot.ops.jobs``."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Sequence
from datetime import timedelta

from apscheduler.schedulers.asyncio import AsyncIOScheduler
from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.interval import IntervalTrigger

from bot.ops import jobs
from bot.ops.jobs import Job, JobRunner, OpsChannel
from bot.ports import ApprovalNotifier
from config import Settings

log = logging.getLogger(__name__)


def plan(
    settings: Settings,
    *,
    notifier: ApprovalNotifier,
    ops: OpsChannel,
    ingest: Callable[[], Awaitable[object]] | None,
    refit: Callable[[], Awaitable[object]] | None,
) -> list[tuple[Job, IntervalTrigger | CronTrigger]]:
    """The jobs this deployment runs, each with its trigger."""
    minutes = timedelta(minutes=1)
    planned: list[tuple[Job, IntervalTrigger | CronTrigger]] = []

    def every(name: str, func: jobs.JobFn, period: timedelta) -> None:
        job = Job(name, func, lease=period * 0.9)
        planned.append((job, IntervalTrigger(seconds=period.total_seconds())))

    reminder = timedelta(minutes=settings.reminder_minutes)
    every("remind_pending", jobs.remind_pending(notifier, older_than=reminder),
          max(minutes, reminder / 3))
    every("recover_queues", jobs.recover_queues(notifier), 5 * minutes)
    if ingest is not None:
        every("sync_knowledge", jobs.sync_knowledge(ingest),
              timedelta(minutes=settings.kb_sync_minutes))
    if refit is not None:
        every("refit_confidence", jobs.refit_confidence(refit),
              timedelta(hours=settings.refit_hours))
    if settings.retention_days is not None:
        every("purge_retention", jobs.purge_retention(days=settings.retention_days),
              timedelta(hours=6))
    if settings.digest_hour_utc is not None:
        planned.append((Job("daily_digest", jobs.daily_digest(ops), lease=timedelta(hours=23)),
                        CronTrigger(hour=settings.digest_hour_utc, minute=0, timezone="UTC")))
    return planned


def start(runner: JobRunner, planned: Sequence[tuple[Job, IntervalTrigger | CronTrigger]]
          ) -> AsyncIOScheduler:
    """Start the scheduler on the running loop; the caller shuts it down."""
    scheduler = AsyncIOScheduler(timezone="UTC")
    for job, trigger in planned:
        scheduler.add_job(runner.run, trigger, args=[job], id=job.name, coalesce=True,
                          max_instances=1, misfire_grace_time=300)
    scheduler.start()
    log.info("scheduled jobs: %s", ", ".join(job.name for job, _ in planned))
    return scheduler
