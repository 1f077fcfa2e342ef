"""Raw mail → ``Inbound``: the one translation both mail edges (IMAP, SMTP) share.

Parsing is pure (``parse.py``); this module adds the two side effects of ingesting a mail:
attachments written under the data dir, and the reply metadata the sender needs later.
"""

from __future__ import annotations

import logging
import os
import tempfile
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from pathlib import Path
from typing import Any

from bot.domain import AcceptError, Channel, Inbound, Sender
from bot.ports import ApprovalNotifier
from bot.store import mail as mail_store
from channels.mail.auth_results import read_verdict, review_reason
from channels.mail.bounces import Bounce
from channels.mail.headers import addressed_to, find_token, split_address
from channels.mail.parse import Attachment, ParsedMail, parse_mail
from channels.mail.raw import KeepRaw, RawCopy
from config import Settings

log = logging.getLogger(__name__)

OnBounce = Callable[[Bounce], Awaitable[bool]]
# (related Message-IDs, reply token) → the address of the customer of the conversation joined.
CustomerOf = Callable[[list[str], str | None], Awaitable[str | None]]


@dataclass(frozen=True, slots=True)
class MailOptions:
    """What ingesting mail needs to know about us: our domains, the support address, where
    attachments go and how much of them we keep."""

    our_domains: frozenset[str]
    support_local: str | None = None
    # Every support address (the main one first): mail to any is ours, replies come from it.
    support_addresses: tuple[str, ...] = ()
    own_addresses: frozenset[str] = frozenset()
    # Customer text as the card, the triage and the LLM see it; the original stays whole.
    text_max_chars: int = 20_000
    trusted_authserv_ids: frozenset[str] = frozenset()
    attachments_dir: Path | None = None
    max_attachment_bytes: int = 10 * 1024 * 1024
    max_stored_bytes_per_message: int = 25 * 1024 * 1024

    @classmethod
    def from_settings(cls, settings: Settings) -> MailOptions:
        """Our domains are the accepted mail domains plus the support address's domain."""
        domains = set(settings.mail_domains)
        support_local: str | None = None
        if settings.support_address:
            support_local, support_domain = split_address(settings.support_address)
            if support_domain:
                domains.add(support_domain)
        support = support_addresses(settings)
        domains.update(split_address(a)[1] for a in support)
        own = {a.lower() for a in settings.own_addresses} | set(support)
        for address in (settings.support_address, settings.imap_user, settings.smtp_user):
            if address and split_address(address)[1]:
                own.add(address.lower())
        return cls(
            our_domains=frozenset(domains),
            support_local=support_local or None,
            support_addresses=support,
            own_addresses=frozenset(own),
            text_max_chars=settings.mail_text_max_chars,
            trusted_authserv_ids=frozenset(a.lower() for a in settings.mail_authserv_ids),
            attachments_dir=settings.data_dir / "attachments",
        )


def support_addresses(settings: Settings) -> tuple[str, ...]:
    """``SUPPORTBOT_SUPPORT_ADDRESS`` then ``SUPPORTBOT_MAIL_ADDRESSES``, lowercased, once each."""
    found: list[str] = []
    for address in [settings.support_address or "", *settings.mail_addresses]:
        if split_address(address)[1] and address.lower() not in found:
            found.append(address.lower())
    return tuple(found)


def cut_text(text: str, limit: int) -> str:
    """``text`` up to ``limit`` characters, cut at a line or word end, with a note saying so."""
    if len(text) <= limit:
        return text
    head = text[:limit]
    cut = max(head.rfind("\n"), head.rfind(" "))
    head = head[:cut] if cut > limit // 2 else head
    return (f"{head.rstrip()}\n\n[… cut at {limit:,} of {len(text):,} characters; "
            "the original mail is kept whole]")


def attachment_note(records: Sequence[dict[str, Any]]) -> str:
    """The attachments (not inline images) as a line the card and the drafter see: names,
    types and sizes, and which ones were too large to keep."""
    listed = []
    for record in records:
        if record.get("inline") or not record.get("name"):
            continue
        size = int(record.get("size") or 0)
        human = (f"{size} bytes" if size < 1024 else f"{size / 1024:.0f} KB"
                 if size < 1 << 20 else f"{size / (1 << 20):.1f} MB")
        skipped = " — not kept: " + str(record["skipped"]) if record.get("skipped") else ""
        listed.append(f"{record['name']} ({record.get('type')}, {human}{skipped})")
    return ("\n\n[Attachments: " + "; ".join(listed[:20]) + "]") if listed else ""


def store_attachments(
    attachments: Sequence[Attachment], options: MailOptions
) -> list[dict[str, Any]]:
    """Write attachments content-addressed (``<dir>/<sha256>``) up to the limits; describe all.

    Content addressing makes a re-delivered mail free and a partial write harmless: files are
    written to a temporary name and renamed into place atomically.
    """
    records: list[dict[str, Any]] = []
    budget = options.max_stored_bytes_per_message
    for attachment in attachments:
        record: dict[str, Any] = {**attachment.describe(), "stored": None, "skipped": None}
        fits = attachment.size <= min(options.max_attachment_bytes, budget)
        if not fits:
            record["skipped"] = (f"larger than the {options.max_attachment_bytes:,}-byte limit"
                                 if attachment.size > options.max_attachment_bytes
                                 else "over this mail's storage budget")
        if options.attachments_dir is not None and attachment.size and fits:
            target = options.attachments_dir / attachment.sha256
            try:
                if not target.exists():
                    options.attachments_dir.mkdir(parents=True, exist_ok=True)
                    fd, tmp = tempfile.mkstemp(dir=options.attachments_dir, prefix=".part-")
                    with os.fdopen(fd, "wb") as handle:
                        handle.write(attachment.payload)
                    os.replace(tmp, target)
                record["stored"] = str(target)
                budget -= attachment.size
            except OSError:
                log.exception("could not store attachment %s", attachment.sha256)
        records.append(record)
    return records


def reply_metadata(
    mail: ParsedMail,
    token: str | None,
    attachments: list[dict[str, Any]],
    source: str,
    raw: RawCopy | None = None,
) -> dict[str, Any]:
    """The JSON metadata kept with the message; ``SmtpSender`` reads it back to reply."""
    return {
        "message_id": mail.message_id,
        "synthesized_message_id": mail.synthesized_id,
        "in_reply_to": list(mail.in_reply_to),
        "references": list(mail.references),
        "subject": mail.subject,
        "from": mail.from_address,
        "from_name": mail.from_name,
        "reply_to": mail.reply_to,
        "customer_address": mail.customer_address,
        "to": list(mail.to),
        "cc": list(mail.cc),
        "date": mail.date.isoformat() if mail.date else None,
        "attachments": attachments,
        "full_text": mail.full_text,
        "from_html": mail.from_html,
        "thread_index": mail.thread_index,
        "conversation_token": token,
        "source": source,
        "raw": raw.describe() if raw is not None else None,
        "bounce": mail.bounce.describe() if mail.bounce is not None else None,
    }


def to_inbound(
    raw: bytes,
    *,
    options: MailOptions,
    received_at: datetime,
    source: str,
    envelope_recipients: Sequence[str] = (),
    raw_copy: RawCopy | None = None,
) -> Inbound:
    """Parse ``raw`` and build the ``Inbound`` the core accepts.

    Raises ``MailRejected`` (or its ``OwnMail`` subclass) for mail that must not be ingested.
    """
    mail = parse_mail(raw, our_domains=options.our_domains, own_addresses=options.own_addresses,
                      support_local=options.support_local)
    # The envelope says where the mail was delivered; Delivered-To/X-Original-To where an
    # alias or group forwarded it into the mailbox; To and Cc what the customer typed.
    recipients = [*envelope_recipients, *mail.delivered_to, *mail.to, *mail.cc]
    locals_ = [split_address(a)[0] for a in options.support_addresses]
    token = find_token(
        recipients,
        support_local=locals_ or options.support_local,
        domains=options.our_domains,
    )
    attachments = store_attachments(mail.attachments, options)
    metadata = reply_metadata(mail, token, attachments, source, raw_copy)
    metadata["support_address"] = addressed_to(recipients, options.support_addresses)
    text = cut_text(mail.text, options.text_max_chars) + attachment_note(attachments)
    if len(mail.full_text) > 5 * options.text_max_chars:
        metadata["full_text"] = cut_text(mail.full_text, 5 * options.text_max_chars)
    metadata["text_cut"] = text != mail.text
    verdict = read_verdict(mail.authentication_results, options.trusted_authserv_ids)
    metadata["authentication"] = verdict.describe() if verdict is not None else None
    unauthenticated = review_reason(verdict, options.trusted_authserv_ids)
    if unauthenticated is not None:
        metadata["review_reasons"] = [unauthenticated]
    return Inbound(
        channel=Channel.EMAIL,
        thread_key=mail.thread_key,
        channel_message_id=mail.message_id,
        text=text,
        sender=Sender(
            id=mail.customer_address, email=mail.customer_address, name=mail.customer_name
        ),
        received_at=received_at,
        subject=mail.subject or None,
        related_message_ids=mail.related_message_ids,
        suppress_reply=mail.suppress_reply,
        metadata=metadata,
    )


@dataclass(frozen=True, slots=True)
class PreparedMail:
    """One parsed mail, ready for the edge: the ``Inbound``, its original, and the failed
    delivery of ours it reports (if it is a bounce)."""

    inbound: Inbound
    raw: RawCopy
    bounce: Bounce | None


def prepare_mail(
    raw: bytes,
    *,
    options: MailOptions,
    received_at: datetime,
    source: str,
    envelope_recipients: Sequence[str] = (),
) -> PreparedMail:
    """``to_inbound`` plus the compressed original (CPU work: call it in a worker thread)."""
    copy = RawCopy.of(raw)
    inbound = to_inbound(raw, options=options, received_at=received_at, source=source,
                         envelope_recipients=envelope_recipients, raw_copy=copy)
    found = inbound.metadata.get("bounce")
    bounce = Bounce(**found) if isinstance(found, dict) else None
    return PreparedMail(inbound, copy, bounce)


async def keep_raw_copy(keep: KeepRaw | None, copy: RawCopy) -> None:
    """Store the original before the message is accepted; failing to is a system error
    (``AcceptError``: the edge answers 451 / leaves the IMAP message for the next pass)."""
    if keep is None:
        return
    try:
        await keep(copy.sha256, copy.size, copy.compressed)
    except Exception as exc:
        log.exception("could not keep the raw copy %s", copy.sha256)
        raise AcceptError(f"could not keep the raw mail: {type(exc).__name__}") from exc


def bounce_recorder(
    notifier: ApprovalNotifier,
    *,
    record: Callable[[str, str], Awaitable[int | None]] = mail_store.record_bounce,
) -> OnBounce:
    """The edges' ``on_bounce``: mark the delivery failed and show it on the card. Returns
    False when the report concerns no reply of ours (the mail is then stored as usual)."""

    async def on_bounce(bounce: Bounce) -> bool:
        item_id = await record(bounce.message_id, bounce.reason)
        if item_id is None:
            return False
        log.warning("reply %s bounced: %s", bounce.message_id, bounce.reason)
        try:
            await notifier.delivery_failed(item_id)
        except Exception:  # the failure is recorded; the card catches up on the next refresh
            log.exception("could not show the bounce of outbox item %s", item_id)
        return True

    return on_bounce


async def report_bounce(on_bounce: OnBounce | None, bounce: Bounce | None) -> bool:
    """True when ``bounce`` was recorded against a reply of ours (then nothing is accepted);
    a storage failure is an ``AcceptError`` like any other."""
    if on_bounce is None or bounce is None:
        return False
    try:
        return await on_bounce(bounce)
    except Exception as exc:
        log.exception("could not record the bounce of %s", bounce.message_id)
        raise AcceptError(f"could not record a bounce: {type(exc).__name__}") from exc


async def email_customer_of(related_ids: list[str], token: str | None) -> str | None:
    """The production ``CustomerOf``: reads the conversation an inbound mail will join."""
    return await mail_store.thread_customer_email(Channel.EMAIL.value, related_ids, token)


async def mark_participant(inbound: Inbound, customer_of: CustomerOf | None) -> Inbound:
    """``inbound`` flagged as a third party's when its sender is not the customer of the
    conversation it joins (a CC'd colleague, a forward recipient, an attacker who learnt the
    plus-address): shown as itself, reviewed by a person, never answered automatically."""
    if customer_of is None:
        return inbound
    token = inbound.metadata.get("conversation_token")
    try:
        customer = await customer_of(list(inbound.related_message_ids),
                                     token if isinstance(token, str) and token else None)
    except Exception as exc:
        log.exception("could not look up the conversation of %s", inbound.channel_message_id)
        raise AcceptError(f"could not look up the conversation: {type(exc).__name__}") from exc
    sender = (inbound.sender.email or "").lower()
    if not customer or not sender or customer.lower() == sender:
        return inbound
    return third_party(inbound, customer)


def third_party(inbound: Inbound, customer: str) -> Inbound:
    """``inbound`` marked as written by someone other than the conversation's ``customer``."""
    sender = inbound.sender.email or inbound.sender.id
    why = (f"written by {sender}, not by the conversation's customer {customer}: "
           "a person reviews it before anything is sent")
    existing = inbound.metadata.get("review_reasons")
    reasons = [why, *(existing if isinstance(existing, list) else [])]
    return replace(inbound, metadata={**inbound.metadata, "participant": "third_party",
                                      "conversation_customer": customer,
                                      "review_reasons": reasons})
