"""Shared test data and helpers: a small help center, signed webhook requests, inbound
messages, free ports. Test modules import these from here, never from each other."""

from __future__ import annotations

import hashlib
import hmac
import json
import socket
import time
from datetime import UTC, datetime
from typing import Any

from bot.domain import Channel, Inbound, Sender

#: A three-article help center the end-to-end tests ingest.
KB = {
    "reset-password.md": "---\ntitle: Reset your password\n---\n# Reset your password\n\n"
    "If you forgot your password, click Forgot password on the sign-in page and follow the "
    "link we email you. The link is valid for 60 minutes.\n",
    "refunds.md": "---\ntitle: Refund policy\n---\n# Refund policy\n\nAnnual plans are "
    "refunded in full within 30 days of purchase. Request a refund from Settings, Billing.\n",
    "shipping.md": "---\ntitle: Shipping times\n---\n# Shipping times\n\nOrders ship within "
    "two business days. Tracking links are emailed when the parcel leaves our warehouse.\n",
}

SECRET = "shop-secret"


def webhook_headers(raw: bytes, *, secret: str = SECRET, ts: int | None = None
                    ) -> dict[str, str]:
    """Headers of a webhook request signed like the contract says."""
    stamp = str(int(time.time()) if ts is None else ts)
    mac = hmac.new(secret.encode(), stamp.encode() + b"." + raw, hashlib.sha256).hexdigest()
    return {"Content-Type": "application/json", "X-Supportbot-Timestamp": stamp,
            "X-Supportbot-Signature": f"sha256={mac}"}


def signed(body: dict[str, Any] | bytes, *, secret: str = SECRET, ts: int | None = None
           ) -> tuple[bytes, dict[str, str]]:
    """A webhook body and its signed headers."""
    raw = body if isinstance(body, bytes) else json.dumps(body).encode()
    return raw, webhook_headers(raw, secret=secret, ts=ts)


def message(mid: str = "m-1", text: str = "I forgot my password, how do I reset it?",
            conversation: str = "c-1") -> dict[str, Any]:
    """A webhook message from one customer."""
    return {"conversation_id": conversation, "message_id": mid,
            "sender": {"id": "cust-7", "email": "ada@example.com", "name": "Ada"}, "text": text}


def inbound(mid: str, *, thread: str = "form:c1", text: str = "Where is my parcel?",
            channel: Channel = Channel.WEBHOOK, related: tuple[str, ...] = (),
            token: str | None = None, sender: str = "cust-1") -> Inbound:
    """An accepted-shape inbound message as a channel hands it to ``accept``."""
    return Inbound(
        channel=channel, thread_key=thread, channel_message_id=mid, text=text,
        sender=Sender(id=sender, email=f"{sender}@example.com", name=sender.title()),
        received_at=datetime.now(UTC), subject="Parcel", related_message_ids=related,
        metadata={"conversation_token": token} if token else {},
    )


def free_port() -> int:
    """A port the kernel just handed out (for servers that take a port, not a socket)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])
