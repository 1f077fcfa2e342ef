"""Block Kit for the conversation around a draft: the collapsed view on the card, the
*Show conversation* modal, the history in the Edit and Reply forms, a mail's facts (sender,
CC, SPF/DKIM/DMARC, attachments) and the *Show original mail* modal.

Pure functions of a ``ConversationContext``; every customer-supplied string goes through
``handoff.text`` (escaped for mrkdwn, links spelled out) or into ``plain_text``, and every
value stays within Block Kit's limits (50 blocks a message, 100 a modal, 3000 characters a
section), which ``tests/handoff/test_conversation_view.py`` checks with the longest inputs.
"""

from __future__ import annotations

import json
from collections.abc import Sequence

from slack_sdk.models.blocks import (
    ActionsBlock,
    Block,
    ButtonElement,
    ContextBlock,
    DividerBlock,
    MarkdownTextObject,
    PlainTextObject,
    SectionBlock,
)
from slack_sdk.models.views import View

from handoff.context import AttachmentFact, ConversationContext, Entry, MailFacts, PastLink
from handoff.original_mail import OriginalMail
from handoff.text import (
    BUTTON_TEXT,
    MODAL_BLOCKS,
    SECTION_TEXT,
    fit,
    plain,
    quote,
    slack_date,
    user,
)

SHOW_CONVERSATION, SHOW_ORIGINAL = "sb_show_conversation", "sb_show_original"
CONVERSATION_VIEW, ORIGINAL_VIEW = "sb_conversation_view", "sb_original_view"
#: On the card: the newest earlier messages shown (each cut to ``CARD_ENTRY`` characters).
CARD_ENTRIES, CARD_ENTRY = 2, 400
#: In the Edit and Reply forms: the newest earlier messages and later notes shown.
FORM_ENTRIES, FORM_ENTRY = 8, 700
#: In the conversation modal: each message cut to ``MODAL_ENTRY`` characters, and the whole
#: modal kept under ``MODAL_CHARS`` (the oldest messages give way first).
MODAL_ENTRY, MODAL_CHARS = 1500, 60_000
_STATUS = {"open": "open", "awaiting_approval": "awaiting approval", "answered": "answered",
           "human": "with an agent", "closed": "closed"}


def _who(agent: str) -> str:
    """An agent as a mention; ``auto`` and other words escaped as they are."""
    return user(agent) if agent[:1] in ("U", "W") else fit(agent, 100)


def entry_heading(entry: Entry) -> str:
    """Who wrote an entry, and when (mrkdwn, escaped)."""
    when = slack_date(entry.at)
    if entry.kind == "in":
        who = f"*{fit(entry.author, 200)}*"
        if entry.third_party:
            who += " ⚠️ _(not the customer)_"
        return f"💬 {who} wrote · {when}" + (" · _edited_" if entry.edited else "")
    if entry.kind == "out":
        sent = ("*Reply sent automatically*" if entry.author == "auto"
                else f"*Reply sent* by {_who(entry.author)}")
        return f"📨 {sent} · {when}"
    return f"📝 *Note* by {_who(entry.author)} · {when}"


def _entry_text(entry: Entry, limit: int) -> str:
    heading = entry_heading(entry)
    body, _ = quote(entry.text, max(40, min(limit, SECTION_TEXT - len(heading) - 1)))
    return f"{heading}\n{body}"


def _counts(entries: Sequence[Entry]) -> str:
    asked = sum(1 for e in entries if e.kind == "in")
    replied = sum(1 for e in entries if e.kind == "out")
    noted = sum(1 for e in entries if e.kind == "note")
    parts = []
    if asked:
        parts.append(f"{asked} from the customer" if asked != 1 else "1 from the customer")
    if replied:
        parts.append(f"{replied} {'reply' if replied == 1 else 'replies'} sent")
    if noted:
        parts.append(f"{noted} {'note' if noted == 1 else 'notes'}")
    return ", ".join(parts)


def _past_line(past: PastLink) -> str:
    label = fit(f"#{past.conversation_id} · {past.subject or past.channel}", 120)
    title = f"<{past.link}|{label}>" if past.link else label
    status = _STATUS.get(past.status, past.status.replace("_", " "))
    words = f" — “{fit(past.first_words, 160)}”" if past.first_words else ""
    return f"• {title} ({past.channel}, {status}, {slack_date(past.at)}){words}"


def previous_block(context: ConversationContext) -> ContextBlock | None:
    """The customer's earlier conversations (newest first), linked to their card threads."""
    if not context.previous:
        return None
    lines = [_past_line(p) for p in context.previous]
    return ContextBlock(elements=[MarkdownTextObject(
        text=_cap("🗂 *Earlier conversations of this customer*\n" + "\n".join(lines)))])


def _cap(text: str, limit: int = SECTION_TEXT) -> str:
    """Text built from escaped parts: only the length is enforced (cut at a line end)."""
    if len(text) <= limit:
        return text
    cut = text[: limit - 1]
    return cut[: cut.rfind("\n")] + "\n…" if "\n" in cut else cut + "…"


# --- the card ---------------------------------------------------------------------------------


def card_blocks(context: ConversationContext) -> list[Block]:
    """The conversation, collapsed: how many earlier messages, the newest two of them, notes
    since, and the customer's earlier conversations. *Show conversation* opens the rest."""
    blocks: list[Block] = []
    earlier, later = context.earlier, context.later
    if earlier or context.not_loaded:
        total = len(earlier) + context.not_loaded
        lines = [f"*Earlier in this conversation* · {total} "
                 f"{'message' if total == 1 else 'messages'}"
                 + (f" ({_counts(earlier)})" if earlier and not context.not_loaded else "")]
        shown = earlier[-CARD_ENTRIES:]
        if len(earlier) > len(shown) or context.not_loaded:
            lines.append(f"_{total - len(shown)} older: *Show conversation*_")
        lines += [_entry_text(e, CARD_ENTRY) for e in shown]
        blocks.append(SectionBlock(text=MarkdownTextObject(text=_cap("\n".join(lines)))))
    if later:
        blocks.append(ContextBlock(elements=[MarkdownTextObject(
            text=f"Since this message: {_counts(later)} (in this card's thread and under "
                 "*Show conversation*)")]))
    past = previous_block(context)
    if past is not None:
        blocks.append(past)
    return blocks


def _human_size(size: int) -> str:
    if size < 1024:
        return f"{size} bytes"
    if size < 1 << 20:
        return f"{size / 1024:.0f} KB"
    return f"{size / (1 << 20):.1f} MB"


def _attachment(a: AttachmentFact) -> str:
    text = f"{fit(a.name, 150)} ({fit(a.type, 80)}, {_human_size(a.size)})"
    if a.skipped:
        text += f" — *not kept*: {fit(a.skipped, 150)}"
    return text


def authentication_line(mail: MailFacts) -> str:
    """SPF, DKIM and DMARC as a trusted receiving host judged them (``none``: not evaluated,
    or no trusted host said anything)."""
    auth = mail.authentication
    if auth is None:
        return ("🔓 SPF none · DKIM none · DMARC none — no Authentication-Results from a "
                "trusted mail host (SUPPORTBOT_MAIL_AUTHSERV_IDS)")
    results = {k: str(auth.get(k) or "none") for k in ("spf", "dkim", "dmarc")}
    passed = (results["dmarc"] == "pass" if auth.get("dmarc")
              else results["dkim"] == "pass")
    icon = "🔐" if passed else "⚠️"
    line = " · ".join(f"{k.upper()} {fit(v, 20)}" for k, v in results.items())
    checked = fit(str(auth.get("authserv_id") or "?"), 100)
    verdict = "" if passed else " — *sender not authenticated*"
    return f"{icon} {line} (checked by {checked}){verdict}"


def mail_block(mail: MailFacts) -> ContextBlock:
    """Who a mail is from (a third party flagged), CC, the authentication verdict and the
    attachments (with the ones not kept)."""
    if mail.third_party:
        customer = fit(mail.customer_address or "the customer", 320)
        sender = (f"⚠️ *From: {fit(mail.sender, 400)} (not the customer)* — the "
                  f"conversation's customer is {customer}; a person reviews this before "
                  "anything is sent, and replies go to the customer")
    else:
        sender = f"📧 From: {fit(mail.sender, 400)}"
    elements = [sender]
    recipients = []
    if len(mail.to) > 1:
        recipients.append("To: " + fit(", ".join(mail.to), 1200))
    if mail.cc:
        recipients.append("CC: " + fit(", ".join(mail.cc), 1200))
    if recipients:
        elements.append(" · ".join(recipients))
    elements.append(authentication_line(mail))
    files = [a for a in mail.attachments if not a.inline or a.skipped]
    inline = len(mail.attachments) - len(files)
    if files or inline:
        listed = "; ".join(_attachment(a) for a in files[:20])
        more = f"; …and {len(files) - 20} more" if len(files) > 20 else ""
        images = f" (+{inline} inline {'image' if inline == 1 else 'images'})" if inline else ""
        count = f"{len(files)} {'attachment' if len(files) == 1 else 'attachments'}"
        elements.append(_cap(f"📎 {count}{images}: {listed}{more}", 3000))
    return ContextBlock(elements=[MarkdownTextObject(text=_cap(e, 3000)) for e in elements])


def context_buttons(context: ConversationContext, *, draft_id: int) -> ActionsBlock | None:
    """*Show conversation* and *Show original mail*: read-only, in every state of the card."""
    buttons: list[ButtonElement] = []
    if not context.is_empty:
        buttons.append(ButtonElement(text=plain("Show conversation", BUTTON_TEXT),
                                     action_id=SHOW_CONVERSATION,
                                     value=json.dumps({"draft": draft_id})))
    if context.mail is not None and context.mail.raw_sha256:
        buttons.append(ButtonElement(text=plain("Show original mail", BUTTON_TEXT),
                                     action_id=SHOW_ORIGINAL,
                                     value=json.dumps({"message": context.mail.message_id})))
    if not buttons:
        return None
    return ActionsBlock(block_id=f"context:{draft_id}", elements=buttons)


# --- the forms (Edit, Reply) ------------------------------------------------------------------


def form_history(context: ConversationContext | None) -> list[Block]:
    """What the Edit and Reply forms show above the question: the customer's earlier
    conversations and the newest earlier messages, replies and notes, oldest first."""
    if context is None:
        return []
    blocks: list[Block] = []
    past = previous_block(context)
    if past is not None:
        blocks.append(past)
    earlier = context.earlier
    if context.permalink:
        blocks.append(ContextBlock(elements=[MarkdownTextObject(
            text=f"<{context.permalink}|Open the customer's message in Slack>")]))
    if not earlier and not context.not_loaded:
        return blocks
    shown = earlier[-FORM_ENTRIES:]
    hidden = len(earlier) - len(shown) + context.not_loaded
    total = len(earlier) + context.not_loaded
    blocks.append(SectionBlock(text=MarkdownTextObject(
        text=f"*Earlier in this conversation* · {total} "
             f"{'message' if total == 1 else 'messages, oldest first'}"
             + (f" (the {hidden} oldest under *Show conversation* on the card)"
                if hidden else ""))))
    blocks += [SectionBlock(text=MarkdownTextObject(text=_entry_text(e, FORM_ENTRY)))
               for e in shown]
    blocks.append(DividerBlock())
    return blocks


def form_since(context: ConversationContext | None) -> list[Block]:
    """Below the question: notes written in the card thread (and anything else) since."""
    if context is None or not context.later:
        return []
    later = context.later[-FORM_ENTRIES:]
    hidden = len(context.later) - len(later)
    heading = "*Since this message* (notes from the card thread)" + (
        f" · {hidden} older not shown" if hidden else "")
    return [SectionBlock(text=MarkdownTextObject(text=heading)),
            *(SectionBlock(text=MarkdownTextObject(text=_entry_text(e, FORM_ENTRY)))
              for e in later)]


# --- the conversation modal -------------------------------------------------------------------


def conversation_modal(context: ConversationContext, *, customer: str, channel: str,
                       subject: str | None, question: str, question_author: str) -> View:
    """The whole conversation, oldest first, the answered message marked; older messages
    give way when Block Kit's 100 blocks or the modal's size budget would be exceeded."""
    head = [f"*{fit(customer, 300)}* · {channel}" + (f" · {fit(subject, 300)}" if subject else "")]
    if context.permalink:
        head.append(f"<{context.permalink}|Open the customer's message in Slack>")
    top: list[Block] = [SectionBlock(text=MarkdownTextObject(text=_cap("\n".join(head))))]
    past = previous_block(context)
    if past is not None:
        top.append(past)
    top.append(DividerBlock())
    answered = Entry(message_id=context.answered_id, kind="in", author=question_author,
                     text=question, at=None)
    marked = (f"▶ *The message this draft answers* — *{fit(question_author, 200)}*\n"
              + quote(question, MODAL_ENTRY)[0])
    bodies: list[tuple[Entry, str]] = [(e, _entry_text(e, MODAL_ENTRY)) for e in context.earlier]
    bodies.append((answered, marked))
    bodies += [(e, _entry_text(e, MODAL_ENTRY)) for e in context.later]
    # Room: the blocks above, one notice, and the entries; keep the newest that fit.
    room = MODAL_BLOCKS - len(top) - 1
    size = sum(len(str(b.to_dict())) for b in top)
    kept: list[str] = []
    for _, text in reversed(bodies):
        if len(kept) >= room or size + len(text) > MODAL_CHARS:
            break
        kept.append(text)
        size += len(text)
    kept.reverse()
    hidden = len(bodies) - len(kept) + context.not_loaded
    blocks = list(top)
    if hidden:
        blocks.append(ContextBlock(elements=[MarkdownTextObject(
            text=f"{hidden} older {'message is' if hidden == 1 else 'messages are'} not shown "
                 "here (the conversation is longer than a Slack form holds).")]))
    blocks += [SectionBlock(text=MarkdownTextObject(text=text)) for text in kept]
    return View(type="modal", callback_id=CONVERSATION_VIEW, title="Conversation",
                close="Close", blocks=blocks)


# --- the original mail ------------------------------------------------------------------------

#: The original's text in the modal: sections of ``_CHUNK`` characters, at most ``_CHUNKS``.
_CHUNK, _CHUNKS = 2900, 12


def original_mail_modal(original: OriginalMail | None) -> View:
    """The mail as it arrived: its headers and text (``plain_text``: nothing in it is read as
    markup), and its parts; or why the original is no longer there."""
    if original is None:
        blocks: list[Block] = [SectionBlock(text=MarkdownTextObject(
            text="The original of this mail is no longer kept (the retention job purges "
                 "originals after the configured time), or it was never stored."))]
        return View(type="modal", callback_id=ORIGINAL_VIEW, title="Original mail",
                    close="Close", blocks=blocks)
    headers = "\n".join(f"{name}: {value}" for name, value in original.headers) or "(none)"
    blocks = [
        SectionBlock(text=MarkdownTextObject(
            text=f"*Original mail* · {_human_size(original.size)} as received"
                 + (" · _shown as source: it could not be parsed_" if original.unparsed
                    else ""))),
        SectionBlock(text=PlainTextObject(text=plain(headers, SECTION_TEXT), emoji=False)),
        DividerBlock(),
    ]
    text = original.text.strip() or "(no text)"
    chunks = [text[i:i + _CHUNK] for i in range(0, len(text), _CHUNK)]
    blocks += [SectionBlock(text=PlainTextObject(text=c, emoji=False))
               for c in chunks[:_CHUNKS] if c.strip()]
    if len(chunks) > _CHUNKS:
        blocks.append(ContextBlock(elements=[MarkdownTextObject(
            text=f"The text goes on: {_CHUNK * _CHUNKS:,} of {len(text):,} characters shown.")]))
    if original.parts:
        listed = "\n".join(f"• {fit(name, 200)} ({fit(kind, 100)}, {_human_size(size)})"
                           for name, kind, size in original.parts[:30])
        blocks.append(SectionBlock(text=MarkdownTextObject(
            text=_cap(f"*Attachments in the original*\n{listed}"))))
    return View(type="modal", callback_id=ORIGINAL_VIEW, title="Original mail", close="Close",
                blocks=blocks)
