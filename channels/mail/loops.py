"""Loop safety: which mail must never be answered, and which mail is our own.

Answering an auto-reply, a bounce or a list is how mail loops and reply storms start. These
checks are pure functions over the parsed headers so both the IMAP and the SMTP edge use them.
"""

from __future__ import annotations

import re
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
    # RFC 2369/8058: newsletters and marketing carry List-Unsubscribe without List-Id.
    if _header(msg, "List-Unsubscribe") is not None:
        return "bulk mail (List-Unsubscribe)"
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
    if _NO_REPLY.match(local):
        return "sender is a no-reply address"
    return None


_NO_REPLY = re.compile(r"^(?:no|do[-_.]?not)[-_.]?reply(?:[-_.+].*)?$", re.IGNORECASE)


def own_address_reason(
    addresses: Iterable[str], *, own: Iterable[str], support_local: str | None,
    domains: Iterable[str],
) -> str | None:
    """Mail from one of our own addresses (the support address or any plus-address of it, a
    configured own address): answering it would mail ourselves."""
    ours = {a.lower() for a in own}
    our_domains = {d.lower() for d in domains}
    base_local = (support_local or "").split("+", 1)[0].lower()
    for address in addresses:
        local, domain = split_address(address)
        if not domain:
            continue
        base = local.split("+", 1)[0].lower()
        if f"{local.lower()}@{domain}" in ours or f"{base}@{domain}" in ours or (
            base_local and base == base_local and domain in our_domains
        ):
            return "sent from our own address"
    return None


# Out-of-office and "I left" replies that carry no Auto-Submitted header (many clients and
# rules send them bare), in English, German, French and Spanish. Judged by the message's own
# subject, and by the body only when it both says "away" and "until/back/instead" and asks
# nothing: a customer who mentions a holiday in a question must still be answered.
_OOO_SUBJECT = re.compile(
    r"\b(?:out of (?:the )?office|automatic reply|auto[- ]?reply|autoreply|away from (?:the )?"
    r"office|abwesenheitsnotiz|automatische antwort|abwesend|nicht im büro|"
    r"réponse automatique|absence du bureau|absent du bureau|message d'absence|"
    r"respuesta automática|fuera de la oficina|mensaje de ausencia)\b",
    re.IGNORECASE,
)
_OOO_BODY = re.compile(
    r"\b(?:i (?:am|will be|'m|’m) (?:currently |now )?(?:out of (?:the )?office|away from (?:the|"
    r"my) (?:office|desk)|on (?:annual |parental |maternity |sick )?leave|on (?:vacation|holiday)"
    r"|away)|this is an automatic(?:ally generated)? (?:reply|response|message)|"
    r"i (?:have|'ve|’ve) left (?:the company|\w+)|no longer (?:with|works? (?:at|for)) |"
    r"automatische antwort|abwesenheitsnotiz|ich bin (?:[\wäöüß.]+ ){0,6}?(?:nicht im (?:büro|"
    r"hause?)|abwesend|im urlaub|außer haus)|nicht mehr (?:im unternehmen|bei|für)|"
    r"je suis (?:actuellement )?(?:absente?|en congés?|en vacances)|réponse automatique|"
    r"message automatique|hors du bureau|ne fait plus partie|"
    r"estoy (?:actualmente )?(?:fuera de la oficina|de vacaciones|ausente)|respuesta automática|"
    r"mensaje automático|fuera de la oficina|ya no trabaja)",
    re.IGNORECASE,
)
_OOO_WHEN = re.compile(
    r"\b(?:until|till|back on|return(?:ing)?|limited access|instead|please contact|"
    r"bis|zurück|wieder (?:im büro|erreichbar)|vertretung|wenden sie sich|"
    r"jusqu'(?:au|à)|de retour|retour le|contacter|"
    r"hasta|regreso|de vuelta|contacte|póngase)\b",
    re.IGNORECASE,
)


def out_of_office_reason(subject: str, text: str) -> str | None:
    """Why this looks like an out-of-office (or "I left") reply without auto-reply headers."""
    if (hit := _OOO_SUBJECT.search(subject or "")) is not None:
        return f'out-of-office subject "{hit.group(0)}"'
    head = (text or "")[:600]
    body = _OOO_BODY.search(head)
    if body is not None and "?" not in head and _OOO_WHEN.search(head):
        return f'out-of-office reply "{body.group(0)}"'
    return None


def is_own_mail(msg: EmailMessage, domains: Iterable[str]) -> bool:
    """True for mail we sent ourselves (our header, or a Message-ID we minted)."""
    if _header(msg, OUR_HEADER) is not None:
        return True
    ids = message_ids(_header(msg, "Message-ID"))
    return bool(ids) and is_our_message_id(ids[0], domains)


_LEFT = re.compile(
    r"\b(?:i (?:have|'ve|’ve) left|no longer (?:with|works? (?:at|for)|employed)|"
    r"nicht mehr (?:im unternehmen|bei|für)|ne fait plus partie|n'est plus (?:chez|employé)|"
    r"ya no (?:trabaja|forma parte))",
    re.IGNORECASE,
)


def is_left_reply(text: str) -> bool:
    """An automatic "this person has left, write to X instead" reply."""
    return _LEFT.search((text or "")[:600]) is not None
