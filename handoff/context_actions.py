"""The read-only buttons of a card: *Show conversation* and *Show original mail*.

Both open a modal with ``views.open`` right after the click (the trigger id is valid for 3
seconds), for agents who may decide drafts and for admins; a failure reaches the agent as an
ephemeral message, never a bare HTTP error.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from slack_bolt.async_app import AsyncAck, AsyncApp
from slack_sdk.errors import SlackApiError

from bot.store import cards as card_store
from bot.store import history
from bot.store import mail as mail_store
from handoff.actions import REFUSAL, Handoff
from handoff.context import load_context
from handoff.conversation_view import (
    SHOW_CONVERSATION,
    SHOW_ORIGINAL,
    conversation_modal,
    original_mail_modal,
)
from handoff.original_mail import read_original
from handoff.state import customer_label

log = logging.getLogger(__name__)
_EXPIRED = ("Slack allows 3 seconds to open a form after a click and that time ran out. "
            "Please click the button again.")


def _value(action: dict[str, Any]) -> dict[str, int]:
    data = json.loads(str(action.get("value") or "{}"))
    return {k: int(v) for k, v in data.items() if v is not None}


def _channel(body: dict[str, Any]) -> str | None:
    return (body.get("channel") or {}).get("id") or (body.get("container") or {}).get(
        "channel_id")


def register_context_actions(app: AsyncApp, h: Handoff) -> None:
    """Register *Show conversation* and *Show original mail*."""

    def viewer(action_id: str) -> Callable[[Callable[..., Awaitable[None]]], Any]:
        def decorate(listener: Callable[..., Awaitable[None]]) -> Any:
            @app.action(action_id)
            async def guarded(ack: AsyncAck, body: dict[str, Any],
                              action: dict[str, Any]) -> None:
                await ack()
                agent = str(body["user"]["id"])
                if not (h.access.is_admin(agent) or await h.access.may_decide(agent)):
                    h.ephemeral(_channel(body), agent, REFUSAL, body)
                    return
                try:
                    await listener(body, _value(action))
                except SlackApiError as error:
                    log.exception("%s failed", action_id)
                    code = str(error.response.get("error") or "")
                    h.ephemeral(_channel(body), agent,
                                _EXPIRED if code in ("expired_trigger_id", "invalid_trigger_id")
                                else f"⚠️ Slack refused that ({code or 'error'}). "
                                     "Please try again.", body)
                except Exception:
                    log.exception("%s failed", action_id)
                    h.ephemeral(_channel(body), agent,
                                "⚠️ That could not be shown. Please try again.", body)

            return guarded

        return decorate

    @viewer(SHOW_CONVERSATION)
    async def show_conversation(body: dict[str, Any], ids: dict[str, int]) -> None:
        draft = await card_store.draft_for_card(ids["draft"])
        if draft is None:
            h.ephemeral(_channel(body), str(body["user"]["id"]),
                        "This draft no longer exists.", body)
            return
        conversation, message = draft.conversation, draft.message
        customer = conversation.customer
        context = await load_context(
            conversation_id=conversation.id, channel=conversation.channel,
            answered_id=message.id, links=h.notifier.links,
            customer_id=customer.id if customer is not None else None,
            customer_email=customer.email if customer is not None else None)
        view = conversation_modal(context, customer=customer_label(conversation, message),
                                  channel=conversation.channel, subject=conversation.subject,
                                  question=message.text, question_author=message.author)
        await h.client.views_open(trigger_id=body["trigger_id"], view=view)

    @viewer(SHOW_ORIGINAL)
    async def show_original(body: dict[str, Any], ids: dict[str, int]) -> None:
        meta = await history.message_metadata(ids["message"])
        raw_ref = meta.get("raw")
        sha256 = str(raw_ref.get("sha256") or "") if isinstance(raw_ref, dict) else ""
        raw = await mail_store.raw_mail(sha256) if sha256 else None
        # Parsing a large original is CPU work: off the event loop, so acks stay fast.
        original = await asyncio.to_thread(read_original, raw) if raw is not None else None
        await h.client.views_open(trigger_id=body["trigger_id"],
                                  view=original_mail_modal(original))
