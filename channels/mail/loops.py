"""Loop safety: which mail must never be answered, and which mail is our own.

Answering an auto-reply, a bounce or a list is how mail loops and reply storms start. These
checks are pure functions over the parsed headers so both the IMAP and the SMTP edge use them.
"""

from __future__ import annotations

from collections.abc import Iterable
from email.message import EmailMessage

from channels.mail.headers import is_our_message_id, message_ids, split_address

OUR_HEADER = "X-Supportbot"
_ROBOT_LOCALS = {"mailer-daemon", "postmaster", "mail-daemon", "mailerdaemon"}
_BULK_PRECEDENCE = {"bulk", "junk", "list", "auto_reply"}


def _header(msg: EmailMessage, name: str) -> str | None:
    try:
        value = msg.get(name)
    except Exception:  # a header too broken for the registry counts as absent
        return None
    return None if value is None else str(value).strip()


def suppress_reason(msg: EmailMessage, sender_address: str | None) -> str | None:
    """Why this message must never be answered, or ``None`` when a reply is fine."""
    auto = _header(msg, "Auto-Submitted")
    # RFC 3834 5: any value other than "no" marks automatically generated mail.
    if auto is not None and auto.split(";")[0].strip().lower() not in ("", "no"):
        return f"auto-submitted: {auto.split(';')[0].strip().lower()}"
    for name in ("X-Autoreply", "X-Autorespond", "X-Autoresponse"):
        if _header(msg, name) is not None:
            return f"auto-reply ({name})"
    precedence = (_header(msg, "Precedence") or "").lower()
    if precedence in _BULK_PRECEDENCE:
        return f"precedence: {precedence}"
    if _header(msg, "List-Id") is not None:
        return "mailing list (List-Id)"
    # RFC 5321 4.5.5: notifications are sent with a null reverse-path, shown as Return-Path <>.
    return_path = _header(msg, "Return-Path")
    if return_path is not None and return_path.replace(" ", "") in ("<>", ""):
        return "null return path (bounce or notification)"
    # RFC 3462/6522: delivery status notifications are multipart/report.
    if msg.get_content_type() == "multipart/report":
        report = msg.get_param("report-type")
        return f"delivery report ({report})" if isinstance(report, str) else "delivery report"
    local, _ = split_address(sender_address or "")
    if local.lower() in _ROBOT_LOCALS:
        return f"sender is {local.lower()}"
    return None


def is_own_mail(msg: EmailMessage, domains: Iterable[str]) -> bool:
    """True for mail we sent ourselves (our header, or a Message-ID we minted)."""
    if _header(msg, OUR_HEADER) is not None:
        return True
    ids = message_ids(_header(msg, "Message-ID"))
    return bool(ids) and is_our_message_id(ids[0], domains)
