"""Pure MIME parsing: raw bytes → ``ParsedMail``, or a clear ``MailRejected``.

Everything here is a function of the bytes alone (no clock, no disk, no network), so the IMAP
poller, the SMTP server and the benchmark share it, and hypothesis can throw anything at it.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from email import policy
from email.message import EmailMessage
from email.parser import BytesParser
from email.utils import parsedate_to_datetime

from channels.mail.body import body_text, strip_quoted
from channels.mail.bounces import Bounce, find_bounce
from channels.mail.headers import clean_display_name, message_ids, parse_addresses
from channels.mail.loops import (
    is_left_reply,
    is_own_mail,
    out_of_office_reason,
    own_address_reason,
    suppress_reason,
)

_PARSER = BytesParser(policy=policy.default)
SYNTHETIC_ID_DOMAIN = "synthesized.supportbot.invalid"


class MailRejected(Exception):
    """A user error: this mail cannot be ingested (SMTP 550, IMAP: skipped). ``reason`` says why."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class OwnMail(MailRejected):
    """Mail we sent ourselves (our header or Message-ID): never ingested, never answered."""


@dataclass(frozen=True, slots=True)
class Attachment:
    """One attachment or inline part; ``payload`` is kept out of metadata (stored on disk)."""

    filename: str | None
    content_type: str
    size: int
    sha256: str
    inline: bool
    content_id: str | None
    payload: bytes = field(repr=False)

    def describe(self) -> dict[str, object]:
        """The JSON-serialisable record kept in the message metadata."""
        return {
            "name": self.filename,
            "type": self.content_type,
            "size": self.size,
            "sha256": self.sha256,
            "inline": self.inline,
            "content_id": self.content_id,
        }


@dataclass(frozen=True, slots=True)
class ParsedMail:
    """What supportbot needs from one mail: identity, threading, people, text, attachments."""

    message_id: str
    synthesized_id: bool
    in_reply_to: tuple[str, ...]
    references: tuple[str, ...]
    subject: str
    from_address: str | None
    from_name: str | None
    reply_to: str | None
    customer_address: str
    customer_name: str | None
    to: tuple[str, ...]
    cc: tuple[str, ...]
    delivered_to: tuple[str, ...]
    date: datetime | None
    text: str
    full_text: str
    from_html: bool
    attachments: tuple[Attachment, ...]
    suppress_reply: str | None
    thread_index: str | None = None
    bounce: Bounce | None = None
    authentication_results: tuple[str, ...] = ()

    @property
    def related_message_ids(self) -> tuple[str, ...]:
        """In-Reply-To values, then References newest first (RFC 5322 3.6.4 order reversed)."""
        ordered: list[str] = []
        for ident in (*self.in_reply_to, *reversed(self.references)):
            if ident != self.message_id and ident not in ordered:
                ordered.append(ident)
        return tuple(ordered)

    @property
    def thread_key(self) -> str:
        """The root of the thread: the first References id, else this message's own id."""
        return self.references[0] if self.references else self.message_id


def load_message(raw: bytes) -> EmailMessage:
    """Bytes → ``EmailMessage`` with the default (RFC 5322 + RFC 2047 aware) policy."""
    msg = _PARSER.parsebytes(raw)
    assert isinstance(msg, EmailMessage)
    return msg


def _raw_header(msg: EmailMessage, name: str) -> str | None:
    for key, value in msg.raw_items():
        if key.lower() == name.lower():
            return str(value)
    return None


def header_text(msg: EmailMessage, name: str) -> str | None:
    """A decoded header value; a header the registry cannot parse falls back to its raw text."""
    try:
        value = msg.get(name)
    except Exception:
        return _raw_header(msg, name)
    return None if value is None else str(value)


def addresses(msg: EmailMessage, name: str) -> list[tuple[str, str]]:
    """``[(display name, addr-spec)]`` of an address header, names decoded and cleaned (see
    ``clean_display_name``); broken entries are dropped.

    The header registry (RFC 5322 + RFC 2047) decides first. When it raises or finds no usable
    address, the raw header is split again with its encoded-words decoded into quoted names, so
    an encoded name never surfaces undecoded and is never mistaken for the address.
    """
    try:
        header = msg.get(name)
        found = [(a.display_name, a.addr_spec) for a in header.addresses] if header else []
    except Exception:
        found = []
    pairs = _usable(found)
    if not pairs:
        raw = _raw_header(msg, name)
        pairs = _usable(parse_addresses(raw)) if raw else []
    return pairs


def _usable(found: list[tuple[str, str]]) -> list[tuple[str, str]]:
    pairs: list[tuple[str, str]] = []
    for display, spec in found:
        spec = spec.strip()
        if "@" in spec and " " not in spec and "=?" not in spec and len(spec) <= 320:
            local, _, domain = spec.rpartition("@")
            pairs.append((clean_display_name(display), f"{local}@{domain.lower()}"))
    return pairs


def _date(msg: EmailMessage) -> datetime | None:
    raw = _raw_header(msg, "Date")
    if not raw:
        return None
    try:
        when = parsedate_to_datetime(raw.strip())
    except (TypeError, ValueError, IndexError, OverflowError):
        return None
    return when if when.tzinfo is not None else None


def _walk_leaves(part: EmailMessage) -> Iterator[EmailMessage]:
    """Leaf parts; an attached message/rfc822 is one leaf (a forwarded mail, not our body)."""
    if part.get_content_maintype() == "multipart":
        payload = part.get_payload()
        if isinstance(payload, list):
            for sub in payload:
                if isinstance(sub, EmailMessage):
                    yield from _walk_leaves(sub)
        return
    yield part


def _payload_bytes(part: EmailMessage) -> bytes:
    if part.get_content_maintype() == "message":
        try:
            return part.as_bytes()
        except Exception:
            return b""
    data = part.get_payload(decode=True)
    return data if isinstance(data, bytes) else b""


def _attachments(msg: EmailMessage, body_parts: set[int]) -> tuple[Attachment, ...]:
    found: list[Attachment] = []
    for part in _walk_leaves(msg):
        if id(part) in body_parts:
            continue
        disposition = part.get_content_disposition()
        try:
            filename = part.get_filename()
        except Exception:
            filename = None
        is_text = part.get_content_maintype() == "text"
        if is_text and disposition != "attachment" and not filename:
            continue  # an alternative rendering of the body, not an attachment
        payload = _payload_bytes(part)
        content_id = header_text(part, "Content-ID")
        found.append(
            Attachment(
                filename=filename,
                content_type=part.get_content_type(),
                size=len(payload),
                sha256=hashlib.sha256(payload).hexdigest(),
                inline=disposition == "inline" or (disposition is None and content_id is not None),
                content_id=content_id.strip() if content_id else None,
                payload=payload,
            )
        )
    return tuple(found)


def _synthetic_id(msg: EmailMessage, text: str) -> str:
    """A stable id for mail without Message-ID: the same mail over IMAP and SMTP hashes alike
    (only headers the transport does not touch, plus the decoded body, go into the hash)."""
    digest = hashlib.sha256()
    for name in ("From", "To", "Cc", "Date", "Subject"):
        digest.update((_raw_header(msg, name) or "").encode("utf-8", "replace") + b"\0")
    digest.update(text.encode("utf-8", "replace"))
    return f"<{digest.hexdigest()[:40]}@{SYNTHETIC_ID_DOMAIN}>"


def parse_mail(
    raw: bytes,
    *,
    our_domains: frozenset[str] = frozenset(),
    own_addresses: frozenset[str] = frozenset(),
    support_local: str | None = None,
) -> ParsedMail:
    """Parse one mail. Raises ``OwnMail`` for our own mail, ``MailRejected`` for anything that
    is not a mail we could answer; never anything else."""
    if not raw or not raw.strip():
        raise MailRejected("empty message")
    try:
        return _parse(load_message(raw), our_domains, own_addresses, support_local)
    except MailRejected:
        raise
    except Exception as exc:  # arbitrary bytes must end in a clear rejection, never a crash
        raise MailRejected(f"unparseable message ({type(exc).__name__})") from exc


def _parse(
    msg: EmailMessage,
    our_domains: frozenset[str],
    own_addresses: frozenset[str] = frozenset(),
    support_local: str | None = None,
) -> ParsedMail:
    if is_own_mail(msg, our_domains):
        raise OwnMail("our own outgoing mail")
    sender = addresses(msg, "From") or addresses(msg, "Sender")
    reply_to = addresses(msg, "Reply-To")
    customer = (reply_to or sender or [("", "")])[0]
    if not customer[1]:
        raise MailRejected("no sender address (From/Reply-To)")
    body = body_text(msg)
    # RFC 5322 2.1.1: 998 characters is the longest line a header may have.
    subject = " ".join((header_text(msg, "Subject") or "").split())[:998]
    own_text = body.text if _forwarded(subject) else strip_quoted(body.text)
    full_text = "\n\n".join(filter(None, (body.text, body.forwarded)))
    text = "\n\n".join(filter(None, (own_text, body.forwarded)))
    own_id = message_ids(header_text(msg, "Message-ID"))
    message_id = own_id[0] if own_id else _synthetic_id(msg, full_text)
    attachments = _attachments(msg, body.part_ids)
    in_reply_to = tuple(message_ids(header_text(msg, "In-Reply-To")))
    sender_address = sender[0][1] if sender else customer[1]
    suppress = (
        suppress_reason(msg, sender_address)
        or own_address_reason([a for _, a in sender] + [customer[1]], own=own_addresses,
                              support_local=support_local, domains=our_domains)
        or out_of_office_reason(subject, full_text)
    )
    bounce = None
    if suppress:
        bounce = find_bounce(msg, domains=our_domains, text=full_text)
        if bounce is None and is_left_reply(full_text):
            bounce = find_bounce(msg, domains=our_domains, text=full_text,
                                 in_reply_to=in_reply_to, left=True)
    return ParsedMail(
        message_id=message_id,
        synthesized_id=not own_id,
        in_reply_to=in_reply_to,
        references=tuple(message_ids(header_text(msg, "References"))),
        subject=subject,
        from_address=sender[0][1] if sender else None,
        from_name=(sender[0][0] or None) if sender else None,
        reply_to=reply_to[0][1] if reply_to else None,
        customer_address=customer[1],
        customer_name=customer[0] or (sender[0][0] if sender else "") or None,
        to=tuple(a for _, a in addresses(msg, "To")),
        cc=tuple(a for _, a in addresses(msg, "Cc")),
        delivered_to=tuple(
            a for name in ("Delivered-To", "X-Original-To") for _, a in addresses(msg, name)
        ),
        date=_date(msg),
        text=text or full_text or _attachment_note(attachments),
        full_text=full_text,
        from_html=body.from_html,
        attachments=attachments,
        suppress_reply=suppress,
        thread_index=header_text(msg, "Thread-Index"),
        bounce=bounce,
        authentication_results=_all_headers(msg, "Authentication-Results"),
    )


def _all_headers(msg: EmailMessage, name: str) -> tuple[str, ...]:
    return tuple(str(v) for k, v in msg.raw_items() if k.lower() == name.lower())[:20]


def _forwarded(subject: str) -> bool:
    # A forward's "quoted" part is the customer's actual question; stripping it loses it.
    return subject.lower().lstrip().startswith(("fwd", "fw:", "fw ", "wg:", "tr:"))


def _attachment_note(attachments: tuple[Attachment, ...]) -> str:
    names = [a.filename for a in attachments if a.filename]
    return f"(no text; attachments: {', '.join(names)})" if names else ""
