"""Modals: Edit (prefilled draft), Reject (optional reason), Reply (take over / human-only).

Edit and Reply show the conversation around the question (``handoff.conversation_view``):
the customer's earlier conversations, the newest earlier messages and replies, the question
being answered, and the notes written in the card thread since.

``private_metadata`` carries the ids the submission acts on; submissions are parsed by
``submitted_text`` so handlers never dig through ``view.state`` themselves.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from slack_sdk.models.blocks import (
    Block,
    ContextBlock,
    InputBlock,
    MarkdownTextObject,
    PlainTextInputElement,
    SectionBlock,
)
from slack_sdk.models.views import View

from handoff.context import ConversationContext
from handoff.conversation_view import form_history, form_since
from handoff.text import INPUT_MAX, SECTION_TEXT, fit, plain, quote

EDIT_VIEW, REJECT_VIEW, REPLY_VIEW = "sb_edit_view", "sb_reject_view", "sb_reply_view"
TEXT_BLOCK, TEXT_ACTION = "reply", "text"
REASON_BLOCK, REASON_ACTION = "reason", "reason"


def _context(question: str, context: ConversationContext | None = None) -> list[Block]:
    mail = context.mail if context is not None else None
    label = (f"*{fit(mail.sender, 400)} wrote* ⚠️ _(not the customer)_"
             if mail is not None and mail.third_party else "*Customer wrote*")
    if context is not None:
        label += " · the message this reply answers"
    text, _ = quote(question, SECTION_TEXT - len(label) - 1)
    return [*form_history(context),
            SectionBlock(text=MarkdownTextObject(text=f"{label}\n{text}")),
            *form_since(context)]


def _reply_input(initial: str, label: str) -> tuple[list[Block], bool]:
    # plain_text_input holds at most 3000 characters; a longer draft is cut and the agent is
    # told so, instead of Slack refusing to open the modal.
    cut = len(initial) > INPUT_MAX
    element = PlainTextInputElement(
        action_id=TEXT_ACTION, multiline=True, max_length=INPUT_MAX,
        initial_value=initial[:INPUT_MAX] if initial else None,
    )
    blocks: list[Block] = [InputBlock(block_id=TEXT_BLOCK, label=label, element=element)]
    if cut:
        blocks.append(ContextBlock(elements=[MarkdownTextObject(
            text="The draft is longer than Slack's 3000-character input; its end was cut. "
                 "The full draft is in the card's thread.")]))
    return blocks, cut


def edit_modal(*, draft_id: int, conversation_id: int, draft: str, question: str,
               context: ConversationContext | None = None) -> View:
    """Edit the draft (prefilled), then send the edited text; shows the question it answers
    in its conversation."""
    blocks, _ = _reply_input(draft, "Reply to the customer")
    return View(
        type="modal", callback_id=EDIT_VIEW, title="Edit reply", submit="Send", close="Cancel",
        private_metadata=json.dumps({"draft": draft_id, "conversation": conversation_id}),
        blocks=[*_context(question, context), *blocks],
    )


def reject_modal(*, draft_id: int, conversation_id: int) -> View:
    """Reject with an optional reason (it lowers confidence for near questions)."""
    return View(
        type="modal", callback_id=REJECT_VIEW, title="Reject draft", submit="Reject",
        close="Cancel",
        private_metadata=json.dumps({"draft": draft_id, "conversation": conversation_id}),
        blocks=[
            SectionBlock(text=MarkdownTextObject(
                text="The draft will not be sent; the conversation stays with humans.")),
            InputBlock(block_id=REASON_BLOCK, label="Why? (optional)", optional=True,
                       element=PlainTextInputElement(action_id=REASON_ACTION, multiline=True,
                                                     max_length=INPUT_MAX)),
        ],
    )


def reply_modal(*, conversation_id: int, question: str, initial: str = "",
                draft_id: int | None = None, seen_reply: int | None = None,
                context: ConversationContext | None = None) -> View:
    """Write the reply yourself (Take over, or a human-only card's Reply). ``seen_reply`` is
    the newest reply when the form opened: one sent after it refuses this form's send."""
    blocks, _ = _reply_input(initial, "Your reply to the customer")
    return View(
        type="modal", callback_id=REPLY_VIEW, title=plain("Reply to customer", 24),
        submit="Send", close="Cancel",
        private_metadata=json.dumps({"conversation": conversation_id, "draft": draft_id,
                                     "seen_reply": seen_reply}),
        blocks=[*_context(question, context), *blocks],
    )


def metadata(view: Mapping[str, Any]) -> dict[str, Any]:
    """The ids stored in a submitted view's ``private_metadata``."""
    raw = view.get("private_metadata") or "{}"
    data = json.loads(raw)
    return data if isinstance(data, dict) else {}


def submitted_text(view: Mapping[str, Any], block_id: str, action_id: str) -> str:
    """The value typed into one input of a submitted view ('' when left empty)."""
    values = (view.get("state") or {}).get("values") or {}
    value = (values.get(block_id) or {}).get(action_id) or {}
    return str(value.get("value") or "")
