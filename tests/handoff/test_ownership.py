"""One owner per conversation, and exactly one reply when agents race: signed requests to the
real bolt app, the fake Slack API, a real database (SQLite and PostgreSQL)."""

from __future__ import annotations

import asyncio
import json
from typing import Any

from bot.store.models import Conversation, Draft, OutboxItem
from handoff import cards, modals
from tests.handoff.conftest import Desk


def ids(draft: Draft) -> str:
    return cards.action_value(draft=draft.id, conversation=draft.conversation_id)  # type: ignore[attr-defined]


def conv_ids(draft: Draft) -> str:
    return cards.action_value(conversation=draft.conversation_id, draft=draft.id)  # type: ignore[attr-defined]


def ephemerals(desk: Desk, agent: str) -> list[str]:
    return [str(c.params["text"]) for c in desk.slack.calls_to("chat.postEphemeral")
            if c.params.get("user") == agent]


def modal_error(response: Any) -> str:
    """The error a submission's answer shows in the still-open modal ('' when it closed)."""
    if not response.content:
        return ""
    body = json.loads(response.content)
    return " ".join(str(v) for v in (body.get("errors") or {}).values())


def reply(text: str) -> dict[str, dict[str, str]]:
    return {modals.TEXT_BLOCK: {modals.TEXT_ACTION: text}}


async def open_modal(desk: Desk, agent: str, action_id: str, value: str) -> dict[str, Any]:
    before = len(desk.slack.calls_to("views.open"))
    await desk.edge.click(user=agent, action_id=action_id, value=value)
    opened = desk.slack.calls_to("views.open")
    assert len(opened) == before + 1, f"{action_id} opened no modal for {agent}"
    view: dict[str, Any] = opened[-1].json("view")
    return view


async def test_after_a_take_over_others_cannot_approve_edit_or_reply(desk: Desk) -> None:
    draft = await desk.draft()
    view = await open_modal(desk, "UAGENT1", cards.TAKE_OVER, conv_ids(draft))
    opened = len(desk.slack.calls_to("views.open"))
    await desk.edge.click(user="UAGENT2", action_id=cards.APPROVE, value=ids(draft))
    await desk.edge.click(user="UAGENT2", action_id=cards.EDIT, value=ids(draft))
    await desk.edge.click(user="UAGENT2", action_id=cards.REPLY, value=conv_ids(draft))
    await desk.settle()
    assert len(desk.slack.calls_to("views.open")) == opened  # no form for the non-owner
    assert await OutboxItem.all().count() == 0
    assert (await Draft.get(id=draft.id)).status == "pending"
    told = ephemerals(desk, "UAGENT2")
    assert len(told) == 3 and all("<@UAGENT1> owns this conversation" in t for t in told)
    await desk.edge.submit(user="UAGENT1", callback_id=modals.REPLY_VIEW,
                           private_metadata=view["private_metadata"], values=reply("On it."))
    await desk.settle()
    [item] = await OutboxItem.all()
    assert (item.payload["text"], item.payload["decided_by"]) == ("On it.", "UAGENT1")


async def test_racing_approve_edit_and_reply_send_exactly_one_reply(desk: Desk) -> None:
    draft = await desk.draft()
    edit_view = await open_modal(desk, "UAGENT2", cards.EDIT, ids(draft))
    reply_view = await open_modal(desk, "UGROUPIE", cards.REPLY, conv_ids(draft))
    approved, edited, replied = await asyncio.gather(
        desk.edge.click(user="UAGENT1", action_id=cards.APPROVE, value=ids(draft)),
        desk.edge.submit(user="UAGENT2", callback_id=modals.EDIT_VIEW,
                         private_metadata=edit_view["private_metadata"],
                         values=reply("Edited answer.")),
        desk.edge.submit(user="UGROUPIE", callback_id=modals.REPLY_VIEW,
                         private_metadata=reply_view["private_metadata"],
                         values=reply("My own answer.")),
    )
    await desk.settle()
    assert (approved.status_code, edited.status_code, replied.status_code) == (200, 200, 200)
    [item] = await OutboxItem.all()
    winner = str(item.payload["decided_by"])
    losers = {"UAGENT1", "UAGENT2", "UGROUPIE"} - {winner}
    errors = {"UAGENT2": modal_error(edited), "UGROUPIE": modal_error(replied)}
    told = {agent: errors.get(agent, "") + " ".join(ephemerals(desk, agent)) for agent in losers}
    for agent, text in told.items():
        assert f"<@{winner}>" in text, (agent, text)  # each loser is told who won


async def test_a_reply_written_while_someone_approved_is_refused_and_kept(desk: Desk) -> None:
    draft = await desk.draft()
    view = await open_modal(desk, "UAGENT2", cards.REPLY, conv_ids(draft))
    await desk.edge.click(user="UAGENT1", action_id=cards.APPROVE, value=ids(draft))
    response = await desk.edge.submit(user="UAGENT2", callback_id=modals.REPLY_VIEW,
                                      private_metadata=view["private_metadata"],
                                      values=reply("Late answer."))
    await desk.settle()
    assert "<@UAGENT1> replied to the customer" in modal_error(response)
    assert [i.payload["text"] for i in await OutboxItem.all()] == [draft.text]


async def test_two_replies_at_once_one_owner(desk: Desk) -> None:
    draft = await desk.draft(decision="human", text="")
    first = await open_modal(desk, "UAGENT1", cards.REPLY, conv_ids(draft))
    second = await open_modal(desk, "UAGENT2", cards.REPLY, conv_ids(draft))
    a, b = await asyncio.gather(
        desk.edge.submit(user="UAGENT1", callback_id=modals.REPLY_VIEW,
                         private_metadata=first["private_metadata"], values=reply("From one")),
        desk.edge.submit(user="UAGENT2", callback_id=modals.REPLY_VIEW,
                         private_metadata=second["private_metadata"], values=reply("From two")),
    )
    await desk.settle()
    [item] = await OutboxItem.all()
    winner = str(item.payload["decided_by"])
    conversation = await Conversation.get(id=draft.conversation_id)  # type: ignore[attr-defined]
    assert conversation.assignee == winner
    loser_error = modal_error(b) if winner == "UAGENT1" else modal_error(a)
    assert f"<@{winner}>" in loser_error


async def test_assign_and_release_only_by_the_owner_or_an_admin(desk: Desk) -> None:
    draft = await desk.draft()
    conversation_id = draft.conversation_id  # type: ignore[attr-defined]
    block = f"assign:{conversation_id}"
    await desk.edge.select_user(user="UAGENT1", action_id=cards.ASSIGN, block_id=block,
                                selected="UAGENT1")
    await desk.edge.select_user(user="UAGENT2", action_id=cards.ASSIGN, block_id=block,
                                selected="UAGENT2")
    await desk.edge.click(user="UAGENT2", action_id=cards.RELEASE, value=conv_ids(draft))
    await desk.settle()
    conversation = await Conversation.get(id=conversation_id)
    assert conversation.assignee == "UAGENT1"
    assert all("<@UAGENT1> owns" in t for t in ephemerals(desk, "UAGENT2"))
    assert len(ephemerals(desk, "UAGENT2")) == 2
    await desk.edge.select_user(user="UADMIN", action_id=cards.ASSIGN, block_id=block,
                                selected="UAGENT2")
    await desk.edge.click(user="UAGENT2", action_id=cards.APPROVE, value=ids(draft))
    await desk.settle()
    [item] = await OutboxItem.all()
    assert item.payload["decided_by"] == "UAGENT2"
    notes = [c.params["text"] for c in desk.slack.calls_to("chat.postMessage")]
    assert any("<@UADMIN> assigned this conversation to <@UAGENT2>" in str(n) for n in notes)
    card = desk.slack.calls_to("chat.update")[-1].json("blocks")
    assign = next(b for b in card if b.get("block_id") == block)
    assert assign["elements"][0]["initial_user"] == "UAGENT2"
