"""The /support admin command through signed slash-command requests."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from bot.store import kv
from bot.store.models import Draft, Message
from handoff.admin import USAGE
from tests.handoff.conftest import NOW, Desk


async def ask(desk: Desk, text: str, user: str = "UADMIN") -> str:
    response = await desk.edge.command(user=user, text=text,
                                       response_url=desk.slack.response_url())
    assert response.status_code == 200
    # bolt answers a text-only ack as plain text, which Slack shows as an ephemeral message.
    if response.headers.get("content-type", "").startswith("application/json"):
        return str(response.json().get("text", ""))
    return str(response.text)


async def answer_of_slow(desk: Desk, text: str) -> str:
    assert await ask(desk, text) == "Working on it…"
    await desk.settle()
    [answer] = await desk.slack.wait_for("response_url")
    assert answer.params["response_type"] == "ephemeral"
    return str(answer.params["text"])


async def test_only_admins_may_use_it(admin_desk: Desk) -> None:
    assert "Only support admins" in await ask(admin_desk, "stats", user="UAGENT1")
    assert admin_desk.slack.calls_to("response_url") == []


async def test_help_and_unknown_subcommands_answer_with_usage(admin_desk: Desk) -> None:
    assert await ask(admin_desk, "help") == USAGE
    assert await ask(admin_desk, "") == USAGE
    unknown = await ask(admin_desk, "frobnicate now")
    assert unknown.startswith("Unknown command `frobnicate now`") and USAGE in unknown


async def test_autosend_show_off_and_threshold(admin_desk: Desk) -> None:
    shown = await ask(admin_desk, "autosend")
    assert shown.startswith("Auto-send threshold: *off*.")
    assert "No topic has earned auto-send yet (5 unedited approvals" in shown
    assert "0.85" in await ask(admin_desk, "autosend 0.85")
    assert await kv.get_value("auto_send_threshold") == 0.85
    assert (await ask(admin_desk, "autosend")).startswith("Auto-send threshold: *0.85*.")
    assert "*off*" in await ask(admin_desk, "autosend off")
    assert await kv.get_value("auto_send_threshold") == "off"
    assert "Usage" in await ask(admin_desk, "autosend 7")


async def test_pause_and_resume_a_channel(admin_desk: Desk) -> None:
    assert "paused" in await ask(admin_desk, "pause email")
    assert await kv.get_value("paused_channels") == ["email"]
    await ask(admin_desk, "pause slack")
    await ask(admin_desk, "resume email")
    assert await kv.get_value("paused_channels") == ["slack"]
    assert "Usage" in await ask(admin_desk, "pause carrier-pigeon")


async def test_pending_lists_oldest_first_with_links(admin_desk: Desk) -> None:
    first = await admin_desk.draft(question="First question")
    await admin_desk.draft(question="Second question")
    text = await answer_of_slow(admin_desk, "pending")
    assert "2 conversations waiting on us" in text
    link = f"https://fake.slack.com/archives/CAPPROVAL/p{first.approval_ts.replace('.', '')}"  # type: ignore[union-attr]
    assert link in text.splitlines()[1]


async def test_kb_search_and_reindex_use_the_injected_functions(admin_desk: Desk) -> None:
    text = await answer_of_slow(admin_desk, "kb search reset password")
    assert "*Resetting your password* (0.812) About reset password" in text
    assert "Usage" in await ask(admin_desk, "kb search")


async def test_kb_reindex(admin_desk: Desk) -> None:
    assert "3 documents, 12 chunks" in await answer_of_slow(admin_desk, "kb reindex")


async def test_stats_answers_and_uploads_a_chart(admin_desk: Desk) -> None:
    await admin_desk.draft()
    # Rows carry the wall-clock creation time; the desk's clock is fixed: align them.
    await Message.all().update(created_at=NOW - timedelta(hours=2))
    await Draft.all().update(created_at=NOW - timedelta(hours=1))
    text = await answer_of_slow(admin_desk, "stats 7d")
    assert "Inbound messages: *1* (slack: 1) · drafts: *1*" in text
    assert "Top sources: Resetting your password (1)" in text
    [opened] = admin_desk.slack.calls_to("conversations.open")
    assert opened.params["users"] == "UADMIN"
    [upload] = admin_desk.slack.calls_to("upload")
    assert upload.params["bytes"] > 1000
    assert next(iter(admin_desk.slack.uploads.values())).startswith(b"\x89PNG")
    [done] = admin_desk.slack.calls_to("files.completeUploadExternal")
    assert done.params["channel_id"] == "DUADMIN"


async def test_bad_stats_window_says_so(admin_desk: Desk) -> None:
    assert "not a window" in await answer_of_slow(admin_desk, "stats forever")


async def test_learned_answers_can_be_listed_and_forgotten(admin_desk: Desk) -> None:
    listing = await ask(admin_desk, "learned")
    assert "`answer-12` (3×) How do I reset my password?" in listing
    assert "Forgot learned answer `answer-12`" in await ask(admin_desk, "learned delete answer-12")
    assert "No learned answers yet" in await ask(admin_desk, "learned")
    assert "No learned answer `nope`" in await ask(admin_desk, "learned delete nope")
    assert "Usage" in await ask(admin_desk, "learned delete")


async def test_learned_answers_await_review_until_an_admin_accepts_them(admin_desk: Desk) -> None:
    from bot.store import learned_review

    assert "No learned answers await review" in await ask(admin_desk, "learned review")
    await learned_review.propose("answer-40", question="Student discount?",
                                 answer="Students get 50% off.", grounded_in="pricing")
    listing = await ask(admin_desk, "learned review")
    assert "`answer-40` *proposed*" in listing and "Students get 50% off." in listing
    assert "Accepted learned answer `answer-40`" in await ask(admin_desk,
                                                               "learned accept answer-40")
    assert await learned_review.status_of("answer-40") == "accepted"
    assert "No learned answers await review" in await ask(admin_desk, "learned review")
    assert "awaits review" in await ask(admin_desk, "learned accept nope")


async def test_the_command_name_is_a_setting(sqlite_db: object, make_desk: Any) -> None:
    desk: Desk = await make_desk(SUPPORTBOT_SLASH_COMMAND="/helpdesk")
    answer = await desk.edge.command(user="UADMIN", text="help", command="/helpdesk",
                                     response_url=desk.slack.response_url())
    assert "`/helpdesk` commands" in answer.text and "/support" not in answer.text
    unknown = await desk.edge.command(user="UADMIN", text="help",
                                      response_url=desk.slack.response_url())
    assert "/helpdesk" not in unknown.text  # /support is no longer ours
