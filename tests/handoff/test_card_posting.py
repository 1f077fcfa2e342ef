"""One draft, one live card, even when the process dies between Slack's post and the
recording of its ts (issue 16): the card carries a claim token in its message metadata and is
found again on restart instead of being posted a second time."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import sys
from datetime import timedelta
from typing import Any

from slack_sdk.web.async_client import AsyncWebClient

from bot.clock import utcnow
from bot.store.models import Draft
from config import Settings
from handoff.notifier import CARD_EVENT, SlackApprovalNotifier
from tests.conftest import REPO
from tests.fakes.slack_api import Call, FakeSlackAPI
from tests.handoff.conftest import APPROVAL, Desk, DeskFactory


def cards_of(slack: FakeSlackAPI, draft_id: int) -> list[dict[str, Any]]:
    """The cards of one draft that Slack really holds (top level and in threads)."""
    return [m for messages in slack.messages.values() for m in messages
            if f'"card:{draft_id}"' in json.dumps(m.get("blocks"))]


def restarted(desk: Desk, *, after: timedelta) -> SlackApprovalNotifier:
    """A fresh notifier, as a restarted worker builds it, whose clock is ``after`` later."""
    client = AsyncWebClient(token="xoxb-test", base_url=desk.slack.api_url)
    return SlackApprovalNotifier(client=client, settings=desk.settings,
                                 clock=lambda: utcnow() + after)


async def post_in_a_process_killed_after_the_post(desk: Desk, db: Settings,
                                                  draft_id: int) -> int:
    """Run the real notifier in a child process; Slack applies its card post, then the child
    is SIGKILLed before it reads the answer (so before it can record the ts)."""
    env = {"PATH": os.environ["PATH"], "HF_HUB_OFFLINE": "1",
           "SUPPORTBOT_DATA_DIR": str(db.data_dir), "SLACK_BOT_TOKEN": "xoxb-test",
           "SLACK_SIGNING_SECRET": "s", "SLACK_API_URL": desk.slack.api_url,
           "SUPPORTBOT_APPROVAL_CHANNEL": APPROVAL}
    if db.database_url is not None:
        env["DATABASE_URL"] = db.database_url.get_secret_value()
    child = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "tests.handoff.card_poster", str(draft_id), cwd=REPO, env=env,
        stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.PIPE)

    def kill(call: Call) -> None:
        os.kill(child.pid, signal.SIGKILL)

    desk.slack.after_applied("chat.postMessage", kill)
    async with asyncio.timeout(60):
        _, stderr = await child.communicate()
    desk.slack.after_applied("chat.postMessage", lambda call: None)
    assert child.returncode == -signal.SIGKILL, stderr.decode()
    return child.returncode


async def test_a_crash_between_posting_and_recording_leaves_one_live_card(
    db: Settings, make_desk: DeskFactory
) -> None:
    desk: Desk = await make_desk()
    draft = await desk.draft(post=False)

    await post_in_a_process_killed_after_the_post(desk, db, draft.id)
    crashed = await Draft.get(id=draft.id)
    assert len(cards_of(desk.slack, draft.id)) == 1, "Slack holds the card"
    assert crashed.approval_ts is None, "the process died before recording it"
    posted = desk.slack.messages[APPROVAL][-1]
    assert posted["metadata"] == {"event_type": CARD_EVENT,
                                  "event_payload": {"draft_id": draft.id,
                                                    "token": crashed.card_token}}

    # Restarted right away, the claim looks in flight (it may be another worker's): no post.
    assert await restarted(desk, after=timedelta(0)).post_missing_cards() == 0
    # Once the claim is older than a lease, the restarted worker finds the card, records it
    # and brings it up to date: still one card, and it is the live one.
    notifier = restarted(desk, after=timedelta(seconds=desk.settings.lease_seconds + 1))
    assert await notifier.post_missing_cards() == 1
    recovered = await Draft.get(id=draft.id)
    assert len(cards_of(desk.slack, draft.id)) == 1
    assert recovered.approval_ts == posted["ts"]
    assert [c.params["ts"] for c in desk.slack.calls_to("chat.update")] == [posted["ts"]]
    # The next recovery pass has nothing left to do.
    assert await notifier.post_missing_cards() == 0
    assert len(desk.slack.calls_to("chat.postMessage")) == 1


async def test_a_card_whose_answer_was_lost_is_found_not_posted_again(
    sqlite_db: Settings, make_desk: DeskFactory
) -> None:
    desk: Desk = await make_desk()
    # Slack posts the card, then answers 503: we cannot know the card is there.
    desk.slack.fail("chat.postMessage", "service_unavailable", status=503, applied=True)
    draft = await desk.draft()
    assert draft.approval_ts is None and len(cards_of(desk.slack, draft.id)) == 1

    assert await desk.handle.notifier.post_missing_cards() == 1
    assert len(cards_of(desk.slack, draft.id)) == 1
    assert (await Draft.get(id=draft.id)).approval_ts == desk.slack.messages[APPROVAL][-1]["ts"]
    assert desk.slack.calls_to("conversations.history")


async def test_a_followup_card_lost_in_its_thread_is_found_there(
    sqlite_db: Settings, make_desk: DeskFactory
) -> None:
    desk: Desk = await make_desk()
    first = await desk.draft()
    thread = first.approval_ts
    desk.slack.fail("chat.postMessage", "internal_error", status=500, applied=True)
    # The customer writes again in the same Slack thread: the same conversation.
    followup = await desk.draft(question="And my invoice?", thread="1700000100.000100")
    assert followup.conversation_id == first.conversation_id  # type: ignore[attr-defined]
    assert followup.approval_ts is None

    assert await desk.handle.notifier.post_missing_cards() == 1
    assert len(cards_of(desk.slack, followup.id)) == 1
    assert desk.slack.calls_to("conversations.replies")[-1].params["ts"] == thread


async def test_a_refused_post_is_retried_at_once_and_posted_once(
    sqlite_db: Settings, make_desk: DeskFactory
) -> None:
    desk: Desk = await make_desk()
    desk.slack.fail("chat.postMessage", "internal_error", status=500)  # not applied
    draft = await desk.draft()
    assert draft.approval_ts is None and not cards_of(desk.slack, draft.id)

    assert await desk.handle.notifier.post_missing_cards() == 1
    assert len(cards_of(desk.slack, draft.id)) == 1
    assert (await Draft.get(id=draft.id)).approval_ts is not None


async def test_a_card_being_posted_is_not_posted_again_by_the_recovery_job(
    sqlite_db: Settings, make_desk: DeskFactory
) -> None:
    desk: Desk = await make_desk()
    draft = await desk.draft(post=False)
    desk.slack.slow("chat.postMessage", 0.5, times=1)
    posting = asyncio.create_task(desk.handle.notifier.draft_ready(draft.id))
    await desk.slack.wait_for("chat.postMessage")  # the router's post is on its way
    # The scheduled recovery runs meanwhile: the draft has no card yet, but its post is
    # claimed and recent, so the job leaves it alone.
    assert await desk.handle.notifier.post_missing_cards() == 0
    await posting
    assert len(cards_of(desk.slack, draft.id)) == 1
    assert (await Draft.get(id=draft.id)).approval_ts is not None


async def test_an_auto_sent_card_whose_answer_was_lost_is_found_not_posted_again(
    sqlite_db: Settings, make_desk: DeskFactory
) -> None:
    from bot.store import drafts, outbox
    from tests.handoff.conftest import NOW

    desk: Desk = await make_desk()
    draft = await desk.draft(decision="auto", post=False)
    await drafts.mark_auto_sent(draft, channel="slack", now=NOW, enqueue=outbox.enqueue_reply)
    desk.slack.fail("chat.postMessage", "service_unavailable", status=503, applied=True)
    await desk.handle.notifier.auto_sent(draft.id)
    assert (await Draft.get(id=draft.id)).approval_ts is None

    assert await desk.handle.notifier.post_missing_cards() == 1
    [card] = [m for m in desk.slack.messages[APPROVAL]]
    assert "Sent automatically" in json.dumps(card["blocks"])
    assert (await Draft.get(id=draft.id)).approval_ts == card["ts"]
    assert await desk.handle.notifier.post_missing_cards() == 0
