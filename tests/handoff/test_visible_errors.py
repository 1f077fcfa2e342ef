"""Every failure an agent or admin causes is answered where they see it: signed requests to
the real bolt app, failures scripted on the fake Slack API."""

from __future__ import annotations

import json

from bot.store.models import OutboxItem
from handoff import cards, modals
from handoff.admin import describe_report
from knowledge.types import IngestReport
from tests.handoff.conftest import Desk
from tests.handoff.test_admin import answer_of_slow, ask


def responses(desk: Desk) -> list[str]:
    return [str(c.params.get("text")) for c in desk.slack.calls_to("response_url")]


async def test_an_expired_trigger_id_is_answered_with_a_visible_error(desk: Desk) -> None:
    draft = await desk.draft()
    desk.slack.fail("views.open", "expired_trigger_id")
    value = cards.action_value(draft=draft.id, conversation=draft.conversation_id)  # type: ignore[attr-defined]
    response = await desk.edge.click(user="UAGENT1", action_id=cards.EDIT, value=value,
                                     response_url=desk.slack.response_url("click"))
    await desk.settle()
    assert response.status_code == 200
    [told] = responses(desk)
    assert "3 seconds" in told and "click the button again" in told


async def test_a_click_on_a_vanished_draft_says_so(desk: Desk) -> None:
    value = cards.action_value(draft=99999, conversation=99999)
    response = await desk.edge.click(user="UAGENT1", action_id=cards.APPROVE, value=value,
                                     response_url=desk.slack.response_url("gone"))
    await desk.settle()
    assert response.status_code == 200
    assert any("draft 99999 does not exist" in t for t in responses(desk))


async def test_an_edit_of_a_vanished_draft_stays_open_with_an_error(desk: Desk) -> None:
    meta = json.dumps({"draft": 99999, "conversation": 99999})
    response = await desk.edge.submit(
        user="UAGENT1", callback_id=modals.EDIT_VIEW, private_metadata=meta,
        values={modals.TEXT_BLOCK: {modals.TEXT_ACTION: "My careful answer"}})
    assert response.status_code == 200
    body = json.loads(response.content)
    assert body["response_action"] == "errors"
    assert "does not exist" in body["errors"][modals.TEXT_BLOCK]
    assert await OutboxItem.all().count() == 0


async def test_an_edit_that_loses_the_race_stays_open(desk: Desk) -> None:
    draft = await desk.draft()
    value = cards.action_value(draft=draft.id, conversation=draft.conversation_id)  # type: ignore[attr-defined]
    await desk.edge.click(user="UAGENT2", action_id=cards.EDIT, value=value)
    view = desk.slack.calls_to("views.open")[-1].json("view")
    await desk.edge.click(user="UAGENT1", action_id=cards.APPROVE, value=value)
    response = await desk.edge.submit(
        user="UAGENT2", callback_id=modals.EDIT_VIEW, private_metadata=view["private_metadata"],
        values={modals.TEXT_BLOCK: {modals.TEXT_ACTION: "My careful answer"}})
    body = json.loads(response.content)
    assert body["response_action"] == "errors"  # the modal (and the typed text) stays
    assert "already approved by <@UAGENT1>" in body["errors"][modals.TEXT_BLOCK]


async def test_stats_text_arrives_even_when_the_chart_upload_fails(admin_desk: Desk) -> None:
    admin_desk.slack.fail("files.getUploadURLExternal", "internal_error", times=None)
    assert await ask(admin_desk, "stats 7d") == "Working on it…"
    await admin_desk.settle()
    answers = responses(admin_desk)
    assert "Inbound messages" in answers[0]
    assert any("chart could not be sent" in a and "internal_error" in a for a in answers[1:])


async def test_admin_output_is_readable(admin_desk: Desk) -> None:
    banana = await answer_of_slow(admin_desk, "stats banana")
    assert "Usage: `/support stats" in banana and "ValueError" not in banana
    report = describe_report(IngestReport(added=("faq.md",), chunks=12,
                                          errors={"broken.pdf": "unreadable"}))
    assert "IngestReport(" not in report
    assert "Added: 1 — faq.md" in report and "Chunks: 12" in report
    assert "broken.pdf: unreadable" in report
