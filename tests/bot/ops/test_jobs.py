"""Scheduled jobs on SQLite and PostgreSQL: leases, failure reports, recovery, retention."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from bot.ops import jobs
from bot.ops.jobs import Job, JobRunner
from bot.ops.scheduler import plan
from bot.ops.stats import Stats, compute_stats
from bot.ports import NullNotifier
from bot.store import inbox
from bot.store.models import Draft, InboxItem, Message, QueueStatus
from config import Settings
from tests.conftest import SettingsFactory
from tests.fakes.support import inbound


class RecordingOps:
    def __init__(self) -> None:
        self.problems: list[str] = []
        self.digests: list[Stats] = []

    async def post_digest(self, stats: Stats) -> None:
        self.digests.append(stats)

    async def report_problem(self, text: str) -> None:
        self.problems.append(text)


class RecordingNotifier(NullNotifier):
    def __init__(self) -> None:
        self.ready: list[int] = []

    async def draft_ready(self, draft_id: int) -> None:
        self.ready.append(draft_id)


NOW = datetime(2026, 11, 21, 9, 0, tzinfo=UTC)


async def test_only_one_worker_runs_a_job_per_lease(db: Settings) -> None:
    runs: list[str] = []

    async def work(now: datetime) -> str:
        runs.append("ran")
        return "ok"

    job = Job("sync", work, lease=timedelta(minutes=9))
    a = JobRunner(owner="a", ops=RecordingOps(), clock=lambda: NOW)
    b = JobRunner(owner="b", ops=RecordingOps(), clock=lambda: NOW)
    results = [await a.run(job), await b.run(job)]
    assert [r.ran for r in results] == [True, False] and runs == ["ran"]
    later = JobRunner(owner="b", ops=RecordingOps(), clock=lambda: NOW + timedelta(minutes=10))
    assert (await later.run(job)).ran and runs == ["ran", "ran"]


async def test_a_failing_job_is_reported_once_and_its_recovery_too(db: Settings) -> None:
    failing = True

    async def work(now: datetime) -> str:
        if failing:
            raise ConnectionError("qdrant unreachable")
        return "ok"

    ops = RecordingOps()
    job = Job("sync_knowledge", work, lease=timedelta(seconds=1))
    for minute in range(3):
        runner = JobRunner(owner="w", ops=ops, clock=lambda m=minute: NOW + timedelta(minutes=m))
        result = await runner.run(job)
        assert result.ran and not result.ok
    assert len(ops.problems) == 1 and "qdrant unreachable" in ops.problems[0]
    failing = False
    await JobRunner(owner="w", ops=ops, clock=lambda: NOW + timedelta(minutes=5)).run(job)
    await JobRunner(owner="w", ops=ops, clock=lambda: NOW + timedelta(minutes=6)).run(job)
    assert len(ops.problems) == 2 and "works again" in ops.problems[1]


async def test_recovery_hands_failed_routing_to_humans_once(db: Settings) -> None:
    accepted = await inbox.accept(inbound("form:m1"))
    await InboxItem.filter(message_id=accepted.message_id).update(
        status=QueueStatus.FAILED, last_error="TimeoutError: qdrant")
    notifier = RecordingNotifier()
    job = jobs.recover_queues(notifier)
    assert (await job(NOW)).startswith("1 failed")
    assert (await job(NOW)).startswith("0 failed")
    draft = await Draft.get(message_id=accepted.message_id)
    assert draft.decision == "human" and draft.error == "TimeoutError: qdrant"
    assert notifier.ready == [draft.id]


async def test_retention_blanks_old_bodies_and_keeps_the_figures(db: Settings) -> None:
    now = datetime.now(UTC) + timedelta(minutes=1)
    old = await inbox.accept(inbound("form:old", thread="form:c-old", text="my card 4242"))
    await inbox.accept(inbound("form:new", thread="form:c-new", text="recent question"))
    await Message.filter(id=old.message_id).update(created_at=now - timedelta(days=40))
    before = await compute_stats(timedelta(days=365), now)
    result = await jobs.purge_retention(days=30)(now)
    assert result.startswith("purged 1 messages")
    assert (await Message.get(id=old.message_id)).text == ""
    assert (await Message.get(channel_message_id="form:new")).text == "recent question"
    after = await compute_stats(timedelta(days=365), now)
    assert after.inbound == before.inbound == 2


async def test_the_digest_posts_yesterdays_figures(db: Settings) -> None:
    await inbox.accept(inbound("form:m1"))
    ops = RecordingOps()
    await jobs.daily_digest(ops)(datetime.now(UTC) + timedelta(minutes=1))
    assert ops.digests and ops.digests[0].inbound == 1


def test_the_plan_follows_the_settings(make_settings: SettingsFactory) -> None:
    async def noop() -> object:
        return None

    names = {job.name for job, _ in plan(make_settings(), notifier=NullNotifier(),
                                         ops=RecordingOps(), ingest=noop, refit=None)}
    assert names == {"remind_pending", "recover_queues", "sync_knowledge", "daily_digest"}
    settings = make_settings(SUPPORTBOT_RETENTION_DAYS="90", SUPPORTBOT_DIGEST_HOUR="off")
    names = {job.name for job, _ in plan(settings, notifier=NullNotifier(), ops=RecordingOps(),
                                         ingest=None, refit=noop)}
    assert names == {"remind_pending", "recover_queues", "refit_confidence", "purge_retention"}
