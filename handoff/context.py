"""The conversation around a draft, as the card and its forms show it: earlier messages and
replies, agents' notes, the customer's earlier conversations, a link to the customer's own
Slack message, and what a mail says about itself (sender, CC, authentication, attachments,
its original). Loaded from the store into plain values, so the builders stay pure."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from bot.store import conversations, history
from handoff.links import SlackLinks

log = logging.getLogger(__name__)

#: How much of a conversation is loaded for a card or a form (newest first); a longer one
#: says how many older messages are not shown.
LOADED = 60
PREVIOUS = 3


@dataclass(frozen=True, slots=True)
class Entry:
    """One message of the conversation: the customer's (``in``), a reply (``out``) or an
    internal note (``note``). ``author`` is a display name (``in``) or a Slack user id /
    ``auto`` (``out``, ``note``)."""

    message_id: int
    kind: str
    author: str
    text: str
    at: datetime | None
    third_party: bool = False
    edited: bool = False


@dataclass(frozen=True, slots=True)
class PastLink:
    """An earlier conversation of the customer, with a link to its card thread when it has one."""

    conversation_id: int
    channel: str
    subject: str | None
    first_words: str
    status: str
    at: datetime | None
    link: str | None


@dataclass(frozen=True, slots=True)
class AttachmentFact:
    """An attachment as the mail arrived with it; ``skipped`` says why it was not kept."""

    name: str
    type: str
    size: int
    inline: bool = False
    skipped: str | None = None


@dataclass(frozen=True, slots=True)
class MailFacts:
    """What a mail says about itself, from its stored metadata (``channels.mail.inbound``)."""

    message_id: int
    sender: str
    third_party: bool
    customer_address: str | None
    to: tuple[str, ...] = ()
    cc: tuple[str, ...] = ()
    #: ``{"spf", "dkim", "dmarc", "authserv_id"}`` from a trusted Authentication-Results,
    #: None when no trusted host judged the mail.
    authentication: dict[str, Any] | None = None
    attachments: tuple[AttachmentFact, ...] = ()
    raw_sha256: str | None = None
    raw_size: int | None = None


@dataclass(frozen=True, slots=True)
class ConversationContext:
    """Everything around the answered message; ``entries`` excludes that message itself."""

    answered_id: int
    entries: tuple[Entry, ...] = ()
    #: Messages of the conversation not loaded (older than the ``LOADED`` newest).
    not_loaded: int = 0
    previous: tuple[PastLink, ...] = ()
    #: The customer's own Slack message (None for other channels, or without a workspace URL).
    permalink: str | None = None
    mail: MailFacts | None = None

    @property
    def earlier(self) -> tuple[Entry, ...]:
        """Entries before the answered message, oldest first."""
        return tuple(e for e in self.entries if e.message_id < self.answered_id)

    @property
    def later(self) -> tuple[Entry, ...]:
        """Entries after it (notes written in the card thread, replies, follow-ups)."""
        return tuple(e for e in self.entries if e.message_id > self.answered_id)

    @property
    def notes(self) -> tuple[Entry, ...]:
        return tuple(e for e in self.entries if e.kind == "note")

    @property
    def is_empty(self) -> bool:
        return not (self.entries or self.previous or self.not_loaded)


def _address(name: object, address: object) -> str:
    name_s, address_s = str(name or "").strip(), str(address or "").strip()
    if name_s and address_s and name_s.lower() != address_s.lower():
        return f"{name_s} <{address_s}>"
    return address_s or name_s or "unknown sender"


def _entry(row: history.TimelineEntry) -> Entry:
    meta = row.metadata
    third_party = meta.get("participant") == "third_party"
    author = row.author
    if row.direction == "in" and third_party:
        author = _address(meta.get("from_name"), meta.get("from"))
    return Entry(message_id=row.message_id, kind=row.direction, author=author, text=row.text,
                 at=row.at, third_party=third_party, edited=bool(meta.get("edits")))


def mail_facts(message_id: int, meta: dict[str, Any]) -> MailFacts:
    """A mail's facts from its stored metadata (pure: tested without a database)."""
    attachments = tuple(
        AttachmentFact(name=str(a.get("name") or "unnamed"),
                       type=str(a.get("type") or "application/octet-stream"),
                       size=int(a.get("size") or 0), inline=bool(a.get("inline")),
                       skipped=str(a["skipped"]) if a.get("skipped") else None)
        for a in meta.get("attachments") or [] if isinstance(a, dict))
    raw = meta.get("raw") if isinstance(meta.get("raw"), dict) else None
    auth = meta.get("authentication")
    return MailFacts(
        message_id=message_id,
        sender=_address(meta.get("from_name"), meta.get("from")),
        third_party=meta.get("participant") == "third_party",
        customer_address=str(meta.get("conversation_customer") or "") or None,
        to=tuple(str(a) for a in meta.get("to") or []),
        cc=tuple(str(a) for a in meta.get("cc") or []),
        authentication=dict(auth) if isinstance(auth, dict) else None,
        attachments=attachments,
        raw_sha256=str(raw["sha256"]) if raw and raw.get("sha256") else None,
        raw_size=int(raw["size"]) if raw and raw.get("size") else None,
    )


async def load_context(*, conversation_id: int, channel: str, answered_id: int,
                       links: SlackLinks | None, customer_id: int | None = None,
                       customer_email: str | None = None) -> ConversationContext:
    """The context of the draft answering message ``answered_id`` in a conversation of the
    customer ``customer_id`` (None: no earlier conversations looked up)."""
    rows, total = await history.timeline(conversation_id, newest=LOADED)
    answered = next((r for r in rows if r.message_id == answered_id), None)
    entries = tuple(_entry(r) for r in rows if r.message_id != answered_id)
    past = await history.previous_conversations(conversation_id, customer_id=customer_id,
                                                email=customer_email, limit=PREVIOUS)
    previous = tuple([
        PastLink(conversation_id=p.conversation_id, channel=p.channel, subject=p.subject,
                 first_words=p.first_words, status=p.status, at=p.created_at,
                 link=await links.message(p.approval_channel, p.approval_thread_ts)
                 if links is not None else None)
        for p in past])
    permalink = None
    mail = None
    # The answered message is nearly always among the newest loaded; else read it alone.
    meta = (answered.metadata if answered is not None
            else await history.message_metadata(answered_id)
            if channel in ("slack", "email") else {})
    if channel == "slack" and links is not None:
        permalink = await links.message(str(meta.get("channel") or "") or None,
                                        str(meta.get("ts") or "") or None,
                                        str(meta.get("thread_ts") or "") or None)
    if channel == "email":
        mail = mail_facts(answered_id, meta)
    return ConversationContext(
        answered_id=answered_id, entries=entries,
        not_loaded=max(0, total - len(rows)), previous=previous, permalink=permalink,
        mail=mail)



async def form_context(conversation_id: int, answered_id: int | None,
                       links: SlackLinks | None) -> ConversationContext | None:
    """The conversation around ``answered_id`` for the Edit and Reply forms; None when it
    cannot be loaded (the form then opens without it rather than not at all: its trigger id
    expires 3 seconds after the click)."""
    if answered_id is None:
        return None
    try:
        conversation = await conversations.with_customer(conversation_id)
        if conversation is None:
            return None
        customer = conversation.customer
        return await load_context(conversation_id=conversation_id, channel=conversation.channel,
                                  answered_id=answered_id, links=links,
                                  customer_id=customer.id if customer is not None else None,
                                  customer_email=customer.email if customer is not None
                                  else None)
    except Exception:
        log.exception("could not load conversation %s for a form", conversation_id)
        return None
