"""Build the reply mail (pure): headers that keep the customer's thread, text + HTML bodies."""

from __future__ import annotations

import html
import re
from collections.abc import Callable, Iterable, Mapping
from datetime import datetime
from email import policy
from email.errors import HeaderParseError
from email.header import decode_header, make_header
from email.headerregistry import Address
from email.message import EmailMessage
from email.utils import format_datetime
from typing import Any

from bot.domain import Reply
from channels.mail.headers import (
    message_ids,
    our_message_id,
    plus_address,
    reply_subject,
    split_address,
)
from channels.mail.loops import OUR_HEADER
from channels.mail.parse import SYNTHETIC_ID_DOMAIN

# RFC 5322 3.6.4 allows trimming References; keep the root and the newest ids so clients
# can still thread, without growing the header without bound on long conversations.
_MAX_REFERENCES = 20


_CONTROL = re.compile(r"[\x00-\x1f\x7f]+")


def inert_header_text(value: str | None) -> str:
    """A customer-controlled value (name, subject) made safe for a header of ours.

    ``email``'s header registry decodes RFC 2047 encoded-words in values we set, so a name
    such as ``=?utf-8?b?<base64 of "Jane\\r\\nBcc: x@evil">?=`` would be written out as a
    raw CR/LF and a new ``Bcc:`` header. Decode words ourselves (repeatedly: they nest),
    turn control characters into spaces, and break any ``=?`` left so nothing decodes later.
    """
    text = value or ""
    for _ in range(5):
        try:
            decoded = str(make_header(decode_header(text)))
        except (HeaderParseError, LookupError, UnicodeDecodeError, ValueError):
            break
        if decoded == text:
            break
        text = decoded
    text = _CONTROL.sub(" ", text).replace("=?", "= ?")
    return " ".join(text.split())


class ComposeError(ValueError):
    """The reply cannot be addressed (no recipient, no support address): retrying won't help."""


def _ids(values: Iterable[Any]) -> list[str]:
    found: list[str] = []
    for value in values:
        for ident in message_ids(str(value)) if value else []:
            if ident not in found:
                found.append(ident)
    return found


def _synthesized(ident: str) -> bool:
    # Ids we synthesised for mail without a Message-ID mean nothing to anyone else.
    return ident.endswith(f"@{SYNTHETIC_ID_DOMAIN}>")


def parent_id(meta: Mapping[str, Any], in_reply_to: str | None = None) -> str | None:
    """The Message-ID of the mail we answer, or None when it had none of its own."""
    ids = [i for i in _ids([meta.get("message_id"), in_reply_to]) if not _synthesized(i)]
    return ids[0] if ids else None


def references_chain(meta: Mapping[str, Any], related: Iterable[str]) -> list[str]:
    """RFC 5322 3.6.4: the parent's References (else its In-Reply-To), then the parent.

    Ids the conversation knows that the parent's References lost (a client that drops
    headers) go first (they are older), so the parent is always last and threads stay whole.
    """
    parent = parent_id(meta)
    base = _ids(list(meta.get("references") or [])) or _ids(list(meta.get("in_reply_to") or []))
    known = [i for i in _ids(related) if i not in base and i != parent]
    chain = [i for i in _ids([*known, *base, parent]) if not _synthesized(i)]
    if len(chain) > _MAX_REFERENCES:
        chain = [chain[0], *chain[-(_MAX_REFERENCES - 1) :]]
    return chain


def cc_participants(reply: Reply, *, to: str, ours: Callable[[str], bool]) -> list[str]:
    """Reply-all minus us: everyone on the answered mail except the recipient and our own
    addresses (``ours``), in the order they appeared."""
    meta = reply.thread_metadata
    found: list[str] = []
    seen = {to.lower()}
    for value in [meta.get("from"), meta.get("reply_to"), *(meta.get("to") or []),
                  *(meta.get("cc") or [])]:
        if not isinstance(value, str) or not split_address(value)[1]:
            continue
        if value.lower() in seen or ours(value):
            continue
        seen.add(value.lower())
        found.append(value)
    return found[:50]


def recipient(reply: Reply) -> str:
    """Where the answer goes: the customer's address (Reply-To was already preferred at parse)."""
    meta = reply.thread_metadata
    for candidate in (
        reply.recipient.email,
        meta.get("customer_address"),
        meta.get("reply_to"),
        meta.get("from"),
    ):
        if isinstance(candidate, str) and split_address(candidate)[1]:
            return candidate
    raise ComposeError("reply has no recipient address")


def _html(text: str) -> str:
    paragraphs = [p for p in text.replace("\r\n", "\n").split("\n\n") if p.strip()]
    body = "".join(f"<p>{html.escape(p).replace(chr(10), '<br>')}</p>" for p in paragraphs)
    return f'<!DOCTYPE html><html><body style="font-family:sans-serif">{body}</body></html>'


def build_reply(
    reply: Reply,
    *,
    support_address: str,
    sender_name: str | None,
    now: datetime,
    cc: Iterable[str] = (),
    plus_addressing: bool = True,
) -> EmailMessage:
    """The complete reply message; ``Message-ID`` derives from ``reply.reply_id`` (stable).

    With ``plus_addressing`` the Reply-To is ``<support>+<conversation token>@``, which
    threads an answer even when the customer's client drops In-Reply-To and References; a
    mail system that does not deliver plus-addresses would bounce it, so without it there is
    no Reply-To and the headers alone thread."""
    local, domain = split_address(support_address)
    if not domain:
        raise ComposeError("SUPPORTBOT_SUPPORT_ADDRESS is not a mail address")
    meta = reply.thread_metadata
    msg = EmailMessage(policy=policy.default)
    msg["From"] = Address(display_name=inert_header_text(sender_name), username=local,
                          domain=domain)
    if plus_addressing:
        msg["Reply-To"] = plus_address(support_address, reply.conversation_token)
    msg["To"] = Address(display_name=inert_header_text(reply.recipient.name),
                        addr_spec=recipient(reply))
    subject = reply.subject or meta.get("subject")
    cc = list(cc)
    if cc:
        msg["Cc"] = ", ".join(cc)
    msg["Subject"] = reply_subject(inert_header_text(subject) if isinstance(subject, str)
                                   else None)
    msg["Date"] = format_datetime(now)
    msg["Message-ID"] = our_message_id(reply.reply_id, domain)
    parent = parent_id(meta, reply.in_reply_to)
    if parent:  # never a synthesized id: the customer's mail had no Message-ID
        msg["In-Reply-To"] = parent
    chain = references_chain(meta, reply.related_message_ids)
    if chain:
        msg["References"] = " ".join(chain)
    if reply.auto:
        msg["Auto-Submitted"] = "auto-replied"  # RFC 3834 5.1: sent without human review
    msg[OUR_HEADER] = "1"
    msg.set_content(reply.text)
    msg.add_alternative(_html(reply.text), subtype="html")
    return msg
