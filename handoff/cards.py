"""Block Kit cards for the approval channel: pure functions from a ``CardView`` to blocks.

Long texts are shortened on the card (``CARD_EXCERPT``) and posted whole into the card's
thread by the notifier; every value here stays within Slack's documented limits (see
``handoff.text``), which ``tests/handoff/test_cards.py`` checks with the longest inputs.
"""

from __future__ import annotations

import json
from typing import Any

from slack_sdk.models.blocks import (
    ActionsBlock,
    Block,
    ButtonElement,
    ConfirmObject,
    ContextBlock,
    DividerBlock,
    HeaderBlock,
    MarkdownTextObject,
    SectionBlock,
    UserSelectElement,
)

from bot.pipeline.drafting.factory import OFFLINE_INSTEAD_MODEL
from bot.pipeline.learning import edit_ratio, edit_size
from handoff import conversation_view
from handoff.state import CardView, Delivery
from handoff.text import (
    BUTTON_TEXT,
    CARD_EXCERPT,
    FIELD_TEXT,
    HEADER_TEXT,
    MESSAGE_TEXT,
    SECTION_TEXT,
    fit,
    plain,
    quote,
    reveal_links,
    slack_date,
    user,
)

# action_ids the handlers in ``handoff.actions`` listen to.
APPROVE, EDIT, REJECT, TAKE_OVER, RELEASE, REPLY, RETRY, ASSIGN = (
    "sb_approve", "sb_edit", "sb_reject", "sb_take_over", "sb_release", "sb_reply", "sb_retry",
    "sb_assign",
)
CORRECT, STOP_TOPIC = "sb_correct", "sb_stop_topic"
MAX_SOURCES = 5
# Confidence explains itself in about six reasons; the policy's reasons (why not auto, why a
# human) come after them and must not be cut off, so leave room for both.
MAX_REASONS = 12
_OUTCOME = {
    "approved": "✅ Approved",
    "edited": "✏️ Edited",
    "rejected": "🚫 Rejected",
    "superseded": "⏭️ Superseded",
    "auto_sent": "🤖 Sent automatically",
    "expired": "⌛ Expired",
}


def action_value(**ids: int) -> str:
    """A button's value: the ids it acts on, as compact JSON (well under 2000 chars)."""
    return json.dumps(ids, separators=(",", ":"))


def _button(text: str, action_id: str, value: str, style: str | None = None,
            confirm: ConfirmObject | None = None) -> ButtonElement:
    return ButtonElement(text=plain(text, BUTTON_TEXT), action_id=action_id, value=value,
                         style=style, confirm=confirm)


def _urgent(view: CardView) -> bool:
    """Triage saw an outage, many users or a deadline: a priority, shown first."""
    stored = view.triage.get("flags")
    return (isinstance(stored, list) and "urgent" in stored) or view.triage.get("urgent") is True


_HEADER = {"approved": "Approved", "edited": "Edited", "rejected": "Rejected",
           "superseded": "Superseded", "auto_sent": "Sent automatically", "expired": "Expired"}


def current_delivery(view: CardView) -> Delivery | None:
    """The reply the card's state follows: the conversation's newest (a later draft's or an
    agent's own) when there is one, else this draft's."""
    return view.conversation_delivery or view.delivery


def _state(view: CardView) -> str:
    """The card's header: what the conversation is waiting for or what happened to its reply
    (owned, sending, failing, delivered, dead), never "Review draft" once decided."""
    delivery = current_delivery(view)
    if delivery is not None and delivery.status == "dead":
        return f"❌ Delivery failed — {' '.join((delivery.error or 'unknown error').split())}"
    if view.status == "pending":
        kind = "Needs a human" if view.human_only else "Review draft"
    else:
        kind = _HEADER.get(view.status, view.status.replace("_", " ").capitalize())
    if view.assignee:
        owner = f"👤 Owned by {view.assignee_name or 'an agent'}"
        kind = owner if view.status in ("pending", "rejected") else f"{kind} · {owner}"
    if delivery is None:
        return kind
    if delivery.status == "sent":
        return f"{kind} · delivered"
    if delivery.error:
        return f"{kind} · ⚠️ sending is failing"
    return f"{kind} · sending"


def state_line(view: CardView) -> str | None:
    """The first line under the card's divider: the real state in words, mentioning who must
    act (the owner, else the approvers) when something needs a person."""
    delivery = current_delivery(view)
    who = user(view.assignee) if view.assignee else (view.approvers or "the approvers")
    if delivery is not None and delivery.status == "dead":
        return (f"❌ *Delivery failed* — {fit(delivery.error or 'unknown error', 1200)} "
                f"(after {delivery.attempts} attempt(s)) · {who}: use *Retry sending* or reply "
                "another way")
    if view.customer_waiting_since is not None:
        return (f"🔴 *Customer wrote again {slack_date(view.customer_waiting_since)} — waiting "
                f"on us* · {who} (see the thread)")
    if delivery is not None and delivery.status == "pending" and delivery.error:
        return (f"⚠️ *Sending is failing* (attempt {delivery.attempts}: "
                f"{fit(delivery.error, 500)}) · retrying · {who}")
    if delivery is not None and delivery.status == "pending":
        return "⏳ *Sending* (queued)"
    if view.assignee:
        return (f"👤 *Owned by* {user(view.assignee)}: only they reply here; the bot stops "
                "drafting.")
    if delivery is not None and delivery.status == "sent":
        return f"📬 *Delivered* {slack_date(delivery.sent_at)}"
    if view.status == "pending":
        return f"🟡 *Waiting for {'a reply' if view.human_only else 'review'}* · {who}"
    return None


def _title(view: CardView) -> str:
    kind = _state(view)
    if _urgent(view):
        kind = f"🔴 Urgent · {kind}"
    topic = reveal_links(view.subject or " ".join(view.question.split()))
    return plain(f"{kind} · {topic}" if topic else kind, HEADER_TEXT)


def card_fallback(view: CardView) -> str:
    """The message's top-level ``text``: what notifications and screen readers show."""
    # ``text`` is mrkdwn: the customer's words must not ping (``<!channel>``) or hide links.
    mail = view.context.mail if view.context is not None else None
    sender = (f" (written by {mail.sender}, not the customer)"
              if mail is not None and mail.third_party else "")
    return fit(f"{_title(view)} — {view.customer}{sender}", MESSAGE_TEXT)


def _facts(view: CardView) -> SectionBlock:
    if view.offline and view.error:
        drafted = "offline drafter (Claude failed: fallback)"
    elif view.offline and view.model == OFFLINE_INSTEAD_MODEL:
        drafted = "offline drafter (Claude failed the start-up check)"
    else:
        drafted = "offline drafter (no API key)" if view.offline else (view.model or "?")
    permalink = view.context.permalink if view.context is not None else None
    facts = [
        f"*Customer*\n{fit(view.customer, 300)}",
        f"*Channel*\n{view.channel}" + (f" · {view.where}" if view.where else "")
        + (f" · <{permalink}|their message>" if permalink else ""),
        f"*Conversation*\n#{view.conversation_id}",
        f"*Drafted by*\n{fit(drafted, 200)}",
    ]
    if view.subject:
        facts.insert(2, f"*Subject*\n{fit(view.subject, 500)}")
    # The router stores triage as {"flags": [...], ...}; older drafts as {"angry": True, ...}.
    # Both must show: a prompt-injection or legal flag is the first thing an agent needs.
    stored = view.triage.get("flags")
    listed = [str(f) for f in stored] if isinstance(stored, list) else []
    flags = [*listed, *(str(k) for k, v in view.triage.items() if v is True)]
    if flags:
        facts.append(f"*Triage*\n⚠️ {fit(', '.join(flags).replace('_', ' '), 500)}")
    return SectionBlock(fields=[MarkdownTextObject(text=fit_field(f)) for f in facts[:10]])


def fit_field(text: str) -> str:
    """Field texts are built from escaped parts already; only enforce the length."""
    return text if len(text) <= FIELD_TEXT else text[: FIELD_TEXT - 1] + "…"


def _sources(view: CardView) -> list[Block]:
    if not view.sources:
        return [ContextBlock(elements=[MarkdownTextObject(text="No sources found.")])]
    lines = []
    for source in view.sources[:MAX_SOURCES]:
        title = fit(str(source.get("title") or source.get("source_id") or "?"), 150)
        kind = "learned answer" if source.get("kind") == "learned" else "KB"
        score = source.get("score")
        score_text = f"{float(score):.2f}" if isinstance(score, int | float) else "?"
        lines.append(f"• {title} — {kind}, score {score_text}{_sections_given(source)}")
    more = len(view.sources) - MAX_SOURCES
    if more > 0:
        lines.append(f"…and {more} more")
    return [SectionBlock(text=MarkdownTextObject(text=fit("\n".join(lines), SECTION_TEXT,
                                                         mrkdwn=False)))]


def _sections_given(source: dict[str, Any]) -> str:
    """The sections of an article the drafter was given, by heading (the intro has none)."""
    sections = source.get("sections")
    if not isinstance(sections, list) or not sections:
        return ""
    names = [" > ".join(str(h) for h in s.get("heading_path", [])[1:]) or "introduction"
             for s in sections if isinstance(s, dict)]
    return fit(f" · given: {'; '.join(names)}", 400)


def _confidence(view: CardView) -> ContextBlock:
    reasons = "; ".join(view.reasons[:MAX_REASONS])
    text = f"Confidence *{view.confidence:.2f}*" + (f" · {fit(reasons, 1800)}" if reasons else "")
    elements = [MarkdownTextObject(text=text)]
    if view.error:
        elements.append(MarkdownTextObject(text=f"⚠️ Drafting failed: {fit(view.error, 1000)}"))
    if view.offline and view.error:
        elements.append(MarkdownTextObject(
            text="Claude failed, so this is the offline extractive draft: sections of the "
                 "best articles quoted as written. Check it before sending."))
    elif view.offline and view.model == OFFLINE_INSTEAD_MODEL:
        elements.append(MarkdownTextObject(
            text="Drafted offline because the Claude key or model failed the start-up check "
                 "(see the log): extractive reply quoting the sections of the best articles."))
    elif view.offline:
        elements.append(MarkdownTextObject(
            text="Drafted offline (no Claude API key set): extractive reply quoting the "
                 "sections of the best articles that answer the question."))
    return ContextBlock(elements=elements)


def _buttons(view: CardView) -> list[Block]:
    draft_ids = action_value(draft=view.draft_id, conversation=view.conversation_id)
    conv_ids = action_value(conversation=view.conversation_id, draft=view.draft_id)
    elements: list[ButtonElement] = []
    pending = view.status == "pending"
    if pending and not view.human_only and view.draft.strip():
        elements += [
            _button("Approve & send", APPROVE, draft_ids, "primary"),
            _button("Edit", EDIT, draft_ids),
            _button("Reject", REJECT, draft_ids, "danger"),
        ]
    if pending and view.human_only:
        elements.append(_button("Reply", REPLY, conv_ids, "primary"))
    if view.assignee:
        if not (pending and view.human_only):
            elements.append(_button("Reply", REPLY, conv_ids))
        elements.append(_button("Release to bot", RELEASE, conv_ids))
    elif pending or view.status == "rejected":
        elements.append(_button("Take over", TAKE_OVER, conv_ids))
    if view.delivery is not None and view.delivery.status == "dead":
        elements.append(_button("Retry sending", RETRY,
                                action_value(outbox=view.delivery.outbox_item_id,
                                             draft=view.draft_id), "primary"))
    blocks: list[Block] = []
    if elements:
        blocks.append(ActionsBlock(block_id=f"card:{view.draft_id}", elements=elements))
    if view.status == "pending" or view.assignee or view.status == "rejected":
        blocks.append(assign_block(view.conversation_id, view.assignee))
    return blocks


def assign_block(conversation_id: int, assignee: str | None) -> ActionsBlock:
    """*Assign to…*: give the conversation to one agent (its owner or an admin may reassign).
    The block id carries the conversation (a select has no value of its own)."""
    select = UserSelectElement(action_id=ASSIGN, placeholder="Assign to…",
                               initial_user=assignee if assignee else None)
    return ActionsBlock(block_id=f"assign:{conversation_id}", elements=[select])


def _outcome(view: CardView) -> list[Block]:
    state = state_line(view)
    lines: list[str] = [state] if state else []
    if view.status in _OUTCOME:
        who = "a newer customer message" if view.decided_by == "customer" else user(view.decided_by)
        label = _OUTCOME[view.status]
        if view.status == "superseded" and view.decided_by != "customer":
            label = "✍️ Answered by hand"  # an agent's own reply replaced the draft
        line = f"{label} by {who} · {slack_date(view.decided_at)}"
        if view.status in ("approved", "edited") and view.delivery is None:
            line += " · queued for sending"
        if view.status == "edited" and view.final_text is not None:
            ratio = edit_ratio(view.draft, view.final_text)
            line += f" · edit {edit_size(view.draft, view.final_text)} (ratio {ratio:.2f})"
        if view.status == "rejected" and view.reject_reason:
            line += f"\nReason: {fit(view.reject_reason, 1000)}"
        lines.append(line)
    if view.assignee and not (state or "").startswith("👤"):
        lines.append(f"👤 Owned by {user(view.assignee)}: only they reply here.")
    if not lines:
        return []
    return [SectionBlock(text=MarkdownTextObject(text=fit_field("\n".join(lines))))]


def draft_card(view: CardView) -> tuple[list[Block], bool]:
    """The card of a draft in its current state; True when texts were shortened (the notifier
    then posts them whole in the thread)."""
    question, q_cut = quote(view.question, CARD_EXCERPT)
    context = view.context
    mail = context.mail if context is not None else None
    blocks: list[Block] = [HeaderBlock(text=_title(view)), _facts(view)]
    if mail is not None:
        blocks.append(conversation_view.mail_block(mail))
    if context is not None:
        blocks += conversation_view.card_blocks(context)
    wrote = (f"*{fit(mail.sender, 400)} wrote* ⚠️ _(not the customer)_"
             if mail is not None and mail.third_party else "*Customer wrote*")
    blocks.append(SectionBlock(text=MarkdownTextObject(text=f"{wrote}\n{question}")))
    d_cut = False
    if view.draft.strip():
        shown = view.final_text if view.status == "edited" and view.final_text else view.draft
        label = "Sent reply (edited)" if view.status == "edited" else "Draft reply"
        text, d_cut = quote(shown, CARD_EXCERPT)
        blocks.append(SectionBlock(text=MarkdownTextObject(text=f"*{label}*\n{text}")))
    elif view.human_only:
        blocks.append(SectionBlock(text=MarkdownTextObject(
            text="*No draft*: this conversation was escalated to a human.")))
    if q_cut or d_cut:
        blocks.append(ContextBlock(elements=[MarkdownTextObject(
            text="Shortened here: the full texts are in this card's thread.")]))
    blocks += [*_sources(view), _confidence(view), DividerBlock(), *_outcome(view),
               *_buttons(view)]
    if context is not None:
        viewers = conversation_view.context_buttons(context, draft_id=view.draft_id)
        if viewers is not None:
            blocks.append(viewers)
    return blocks, q_cut or d_cut


def auto_sent_card(view: CardView) -> list[Block]:
    """The compact card of a reply sent automatically: what was asked and answered, on what
    grounds, with *Correct* (a follow-up through the same channel) and *Stop auto-send for
    this topic*."""
    question, _ = quote(view.question, 700)
    reply, _ = quote(view.final_text or view.draft, 1200)
    ids = action_value(draft=view.draft_id, conversation=view.conversation_id)
    buttons = [_button("Correct", CORRECT, ids)]
    if view.topic:
        buttons.append(_button("Stop auto-send for this topic", STOP_TOPIC, ids, "danger",
                               confirm=ConfirmObject(
                                   title="Stop auto-send?",
                                   text="Drafts for this topic will wait for an agent again.",
                                   confirm="Stop", deny="Cancel")))
    sources = ", ".join(fit(str(s.get("title") or s.get("source_id") or "?"), 80)
                        for s in view.sources[:3]) or "no sources"
    lines = [f"🤖 *Sent automatically* to {fit(view.customer, 200)} · {view.channel} · "
             f"confidence *{view.confidence:.2f}* · {slack_date(view.decided_at)}",
             f"*Customer wrote*\n{question}", f"*Reply sent*\n{reply}"]
    delivery = view.delivery
    state = ("📬 Delivered" if delivery and delivery.status == "sent" else
             f"❗ *Not delivered*: {fit(delivery.error or 'unknown error', 500)}"
             if delivery and delivery.status == "dead" else "⏳ Sending")
    return [
        SectionBlock(text=MarkdownTextObject(text=fit_field("\n".join(lines)))),
        ContextBlock(elements=[MarkdownTextObject(text=f"Sources: {sources} · {state}")]),
        ActionsBlock(block_id=f"auto:{view.draft_id}", elements=buttons),
    ]


def auto_sent_fallback(view: CardView) -> str:
    """The notification text of an auto-sent card."""
    return fit(f"Sent automatically to {view.customer}: {' '.join(view.question.split())}",
               300)


def full_text_message(view: CardView) -> str:
    """The thread message holding the full customer message and draft (escaped mrkdwn, so
    ``<!channel>`` or a disguised link in them stay inert; ≤ 39,000)."""
    parts = [f"Full customer message:\n{view.question}"]
    if view.draft.strip():
        parts.append(f"Full draft:\n{view.draft}")
    return fit("\n\n".join(parts), MESSAGE_TEXT)


def followup_blocks(*, author: str, text: str, conversation_id: int,
                    assignee: str | None) -> list[Block]:
    """A customer's follow-up in a conversation humans own, posted into its card thread."""
    body, _ = quote(text, SECTION_TEXT - 300)  # leaves room for the author line
    ids = action_value(conversation=conversation_id)
    buttons = [_button("Reply", REPLY, ids, "primary")]
    if assignee:
        buttons.append(_button("Release to bot", RELEASE, ids))
    return [
        SectionBlock(text=MarkdownTextObject(text=f"💬 *{fit(author, 200)} wrote*\n{body}")),
        ActionsBlock(elements=buttons),
        assign_block(conversation_id, assignee),
    ]


def failure_blocks(*, error: str, outbox_item_id: int, conversation_id: int) -> list[Block]:
    """A dead-lettered reply without its own card (manual replies): the error and Retry."""
    return [
        SectionBlock(text=MarkdownTextObject(
            text=f"❗ *A reply could not be delivered*: {fit(error, 2500)}")),
        ActionsBlock(elements=[_button(
            "Retry sending", RETRY,
            action_value(outbox=outbox_item_id, conversation=conversation_id), "primary")]),
    ]


def as_dicts(blocks: list[Block]) -> list[dict[str, Any]]:
    """Serialise (slack_sdk validates the documented limits while doing so)."""
    return [b.to_dict() for b in blocks]
