"""The original of a mail, read for agents (*Show original mail*): its main headers, all of
its text (nothing stripped, unlike the parse the drafter gets) and its parts.

Pure and stdlib-only (``email`` with the modern policy): ``handoff`` never imports a channel.
When the MIME structure is broken (a multipart whose boundary never occurs) the source after
the headers is shown as it is, so the customer's words are never hidden.
"""

from __future__ import annotations

from dataclasses import dataclass
from email import policy
from email.errors import MessageDefect, StartBoundaryNotFoundDefect
from email.message import EmailMessage
from email.parser import BytesParser

from markdownify import markdownify

#: The headers an agent checks first, in this order (every occurrence).
SHOWN_HEADERS = ("From", "Sender", "Reply-To", "To", "Cc", "Date", "Subject", "Message-ID",
                 "In-Reply-To", "Authentication-Results", "Auto-Submitted", "List-Id")
_HEADER_VALUE = 500


@dataclass(frozen=True, slots=True)
class OriginalMail:
    """What the modal shows: ``(name, value)`` headers, the text, ``(name, type, size)`` of
    each attached part, the original's size, and whether parsing gave up."""

    headers: tuple[tuple[str, str], ...]
    text: str
    parts: tuple[tuple[str, str, int], ...]
    size: int
    unparsed: bool = False


def _decoded(part: EmailMessage) -> str:
    try:
        content = part.get_content()
        if isinstance(content, str):
            return content
    except (LookupError, ValueError, AssertionError):  # unknown charset, broken encoding
        pass
    payload = part.get_payload(decode=True)
    return payload.decode("utf-8", "replace") if isinstance(payload, bytes) else ""


def _header(message: EmailMessage, name: str) -> list[str]:
    values = []
    for value in message.get_all(name) or []:
        try:
            text = str(value)
        except Exception:  # a header the policy cannot render: show its raw form
            text = repr(value)
        values.append(" ".join(text.split())[:_HEADER_VALUE])
    return values


def _broken(message: EmailMessage) -> bool:
    defects: list[MessageDefect] = [*message.defects]
    for part in message.walk():
        defects += part.defects
    return any(isinstance(d, StartBoundaryNotFoundDefect) for d in defects)


def _source_body(raw: bytes) -> str:
    _, sep, body = raw.partition(b"\r\n\r\n")
    if not sep:
        _, _, body = raw.partition(b"\n\n")
    return body.decode("utf-8", "replace")


def read_original(raw: bytes) -> OriginalMail:
    """Parse ``raw`` (the bytes as received) for the *Show original mail* modal."""
    message = BytesParser(policy=policy.default).parsebytes(raw)
    assert isinstance(message, EmailMessage)
    headers = tuple((name, value) for name in SHOWN_HEADERS for value in _header(message, name))
    if _broken(message):
        return OriginalMail(headers, _source_body(raw), (), len(raw), unparsed=True)
    plain: list[str] = []
    html: list[str] = []
    parts: list[tuple[str, str, int]] = []
    for part in message.walk():
        if not isinstance(part, EmailMessage) or part.is_multipart():
            continue
        kind = part.get_content_type()
        filename = part.get_filename()
        if filename or part.get_content_disposition() == "attachment" or not kind.startswith(
                "text/"):
            payload = part.get_payload(decode=True)
            size = len(payload) if isinstance(payload, bytes) else 0
            parts.append((filename or "(unnamed)", kind, size))
        elif kind == "text/plain":
            plain.append(_decoded(part))
        elif kind == "text/html":
            html.append(_decoded(part))
    if plain:
        text = "\n\n".join(t.strip() for t in plain)
    elif html:
        text = "\n\n".join(markdownify("".join(html), strip=["img"]).split("\n\n"))
    else:
        text = ""
    return OriginalMail(headers, text, tuple(parts), len(raw))
