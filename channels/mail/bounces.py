"""Bounces of our replies: a delivery report (RFC 3464) or an "I have left" reply that
concerns a reply we sent marks that delivery failed instead of opening a new conversation.

Pure: ``find_bounce`` reads the report; ``inbound.bounce_recorder`` is the callback the
edges call (the app wires it with the approval notifier so the card shows the failure).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from email.message import EmailMessage, Message
from typing import Any

from channels.mail.headers import is_our_message_id, message_ids


@dataclass(frozen=True, slots=True)
class Bounce:
    """Our reply ``message_id`` did not reach ``recipient``."""

    message_id: str
    action: str  # "failed" (a delivery report) or "left" (the person is gone)
    status: str | None = None
    recipient: str | None = None
    diagnostic: str | None = None

    @property
    def reason(self) -> str:
        """One line for the card and the outbox item's error."""
        if self.action == "left":
            return f"the recipient no longer reads this address: {self.diagnostic or ''}".strip()
        parts = [p for p in (self.status, self.recipient, self.diagnostic) if p]
        return "delivery failed" + (f" ({'; '.join(parts)})" if parts else "")

    def describe(self) -> dict[str, Any]:
        return {"message_id": self.message_id, "action": self.action, "status": self.status,
                "recipient": self.recipient, "diagnostic": self.diagnostic}


def _field(block: Message, name: str) -> str | None:
    value = block.get(name)
    if value is None:
        return None
    text = " ".join(str(value).split())
    return text.split(";", 1)[1].strip() if name in ("Final-Recipient", "Diagnostic-Code") \
        and ";" in text else text


def _original_ids(msg: EmailMessage) -> list[str]:
    """Message-IDs of the returned original (message/rfc822 or text/rfc822-headers)."""
    found: list[str] = []
    for part in msg.walk():
        kind = part.get_content_type()
        if kind == "message/rfc822":
            inner = part.get_payload()
            if isinstance(inner, list) and inner and isinstance(inner[0], Message):
                found += message_ids(str(inner[0].get("Message-ID") or ""))
        elif kind == "text/rfc822-headers":
            payload = part.get_payload(decode=True)
            text = payload.decode("utf-8", "replace") if isinstance(payload, bytes) else ""
            for line in text.splitlines():
                if line.lower().startswith("message-id:"):
                    found += message_ids(line.split(":", 1)[1])
    return found


def find_bounce(msg: EmailMessage, *, domains: Iterable[str], text: str = "",
                in_reply_to: Iterable[str] = (), left: bool = False) -> Bounce | None:
    """The failed delivery of one of our replies this mail reports, or None.

    Call it for mail already judged automatic (a report, a mailer daemon, an auto-reply).
    ``left``: an "I have left / no longer here" reply, matched by its In-Reply-To. A
    delayed-delivery report (Action: delayed) is not a failure. Non-standard bounces (plain
    text from a mailer daemon) are matched by our Message-ID quoted in their text.
    """
    domains = list(domains)
    if left:
        replied = [i for i in in_reply_to if is_our_message_id(i, domains)]
        return Bounce(replied[0], "left", diagnostic=text[:300] or None) if replied else None
    ours = [i for i in _original_ids(msg) if is_our_message_id(i, domains)]
    if msg.get_content_type() != "multipart/report":
        ours = ours or [i for i in message_ids(text) if is_our_message_id(i, domains)]
        return Bounce(ours[0], "failed") if ours else None
    blocks: list[Message] = []
    for part in msg.walk():
        payload = part.get_payload()
        if part.get_content_type() == "message/delivery-status" and isinstance(payload, list):
            blocks += [block for block in payload if isinstance(block, Message)]
    failed = [b for b in blocks if (_field(b, "Action") or "").lower() == "failed"]
    if not ours or (blocks and not failed):
        return None
    if not failed:
        return Bounce(ours[0], "failed")
    first = failed[0]
    return Bounce(ours[0], "failed", status=_field(first, "Status"),
                  recipient=_field(first, "Final-Recipient"),
                  diagnostic=(_field(first, "Diagnostic-Code") or "")[:300] or None)
