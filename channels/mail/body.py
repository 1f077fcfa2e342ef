"""Body text of a mail: part choice, charset decoding, HTML → text, quoted-reply stripping."""

from __future__ import annotations

import codecs
import re
from dataclasses import dataclass, field
from email.message import EmailMessage

from mailparser_reply import EmailReplyParser
from markdownify import MarkdownConverter

# Languages whose reply headers ("On … wrote:", "Am … schrieb:", …) the stripper knows.
_REPLY_LANGUAGES = ["en", "de", "fr", "es", "it", "nl", "pt", "sv", "da", "pl", "cs", "ja", "zh"]
_REPLY_PARSER = EmailReplyParser(languages=_REPLY_LANGUAGES)
# Quote stripping is regex-heavy; beyond this size we keep the text as it is.
_STRIP_LIMIT = 200_000
# WHATWG Encoding Standard: labels "iso-8859-1"/"ascii" mean windows-1252 in practice
# (Outlook and many webmails send smart quotes and € under those labels).
_AS_CP1252 = {"iso-8859-1", "latin-1", "latin1", "us-ascii", "ascii", "iso8859-1", "l1"}


@dataclass(frozen=True, slots=True)
class BodyText:
    """The readable text of a mail, whether it came from HTML, and which parts made it."""

    text: str
    from_html: bool
    part_ids: set[int]
    forwarded: str = field(default="")  # attached message/rfc822 mail, rendered (never stripped)


def decode_part(part: EmailMessage) -> str:
    """A text part's content as ``str``, whatever its charset label says.

    The declared charset is tried strictly, then UTF-8, then windows-1252, and finally
    latin-1 (which cannot fail): mislabelled and unknown charsets are common in real mail.
    """
    try:
        data = part.get_payload(decode=True)
    except Exception:
        data = None
    if not isinstance(data, bytes):
        payload = part.get_payload()
        return payload if isinstance(payload, str) else ""
    return _decode_bytes(data, part.get_content_charset())


class _MailConverter(MarkdownConverter):
    """HTML mail → plain text: links kept as Markdown links, the <head> (title, styles) dropped."""

    def convert_head(self, el: object, text: str, parent_tags: set[str]) -> str:
        return ""


_MAIL_CONVERTER = _MailConverter(
    heading_style="ATX",
    # Images and emphasis are noise for the drafter and for Slack; links are evidence.
    bullets="-",
    strip=["img", "b", "strong", "i", "em", "u"],
    # Plain text, not Markdown to be rendered: no backslash escapes in customers' words.
    escape_asterisks=False,
    escape_underscores=False,
    escape_misc=False,
)


def html_to_text(html: str) -> str:
    """HTML → readable plain text (Markdown-ish), keeping links and dropping images."""
    try:
        text = _MAIL_CONVERTER.convert(html)
    except Exception:  # hostile markup (e.g. nesting past the recursion limit): keep the raw text
        return html.strip()
    # Paragraph breaks survive; the trailing-space line breaks Markdown uses do not matter here.
    return re.sub(r"[ \t]+\n", "\n", text).strip()


def body_text(msg: EmailMessage) -> BodyText:
    """The body, text/plain preferred; HTML-only mail (or an empty plain part) is converted.

    Two shapes that used to lose the customer's words: a multipart whose boundary never occurs
    (the whole payload is then the text), and a forward sent as a message/rfc822 part (its own
    body is rendered into ``forwarded``).
    """
    own = _own_body(msg)
    forwarded = "\n\n".join(filter(None, (render_forward(m) for m in _attached_mails(msg))))
    return BodyText(own.text, own.from_html, own.part_ids, forwarded)


def _own_body(msg: EmailMessage) -> BodyText:
    try:
        plain = msg.get_body(preferencelist=("plain",))
        html = msg.get_body(preferencelist=("html",))
    except Exception:
        return BodyText("", False, set())
    ids = {id(p) for p in (plain, html) if p is not None}
    if isinstance(plain, EmailMessage):
        text = decode_part(plain).replace("\r\n", "\n").strip()
        if text or not isinstance(html, EmailMessage):
            return BodyText(text, False, ids)
    if isinstance(html, EmailMessage):
        return BodyText(html_to_text(decode_part(html)), True, ids)
    if msg.get_content_maintype() == "multipart" and isinstance(msg.get_payload(), str):
        return _boundaryless(msg)
    return BodyText("", False, ids)


def _boundaryless(msg: EmailMessage) -> BodyText:
    """A multipart whose boundary never occurs: the parser keeps the body as one string."""
    payload = msg.get_payload()
    assert isinstance(payload, str)
    raw = payload.encode("ascii", "surrogateescape")
    charset = msg.get_param("charset")
    text = _decode_bytes(raw, charset if isinstance(charset, str) else None)
    text = text.replace("\r\n", "\n").strip()
    if re.search(r"<(html|body|p|div|br)\b", text, re.IGNORECASE):
        return BodyText(html_to_text(text), True, set())
    return BodyText(text, False, set())


def _attached_mails(msg: EmailMessage) -> list[EmailMessage]:
    found: list[EmailMessage] = []
    for part in msg.walk():
        if part.get_content_type() == "message/rfc822":
            inner = part.get_payload()
            if isinstance(inner, list) and inner and isinstance(inner[0], EmailMessage):
                found.append(inner[0])
    return found[:3]


def render_forward(inner: EmailMessage) -> str:
    """An attached mail as a reader sees a forward: a few headers, then its body."""
    lines = ["---------- Forwarded message ----------"]
    for name in ("From", "Date", "Subject", "To"):
        try:
            value = inner.get(name)
        except Exception:
            value = None
        if value:
            lines.append(f"{name}: {' '.join(str(value).split())}")
    body = _own_body(inner).text
    return "\n".join(lines) + ("\n\n" + body if body else "")


def _decode_bytes(data: bytes, declared: str | None) -> str:
    declared = (declared or "utf-8").strip().lower()
    for name in ["cp1252" if declared in _AS_CP1252 else declared, "utf-8", "cp1252"]:
        try:
            codecs.lookup(name)
            return data.decode(name)
        except (LookupError, UnicodeDecodeError, ValueError):
            continue
    return data.decode("latin-1")


def strip_quoted(text: str) -> str:
    """The newest reply only: quoted history, reply headers and signatures removed.

    Conservative: what the stripper took for a signature (after ``--``, "Sent from my
    iPhone", a sign-off) is kept when it holds a question, a PS or prose, or when the reply
    itself announces it ("Order details:"); only quoted history is always dropped.
    """
    if not text or len(text) > _STRIP_LIMIT:
        return text
    try:
        latest = _REPLY_PARSER.read(text).replies
    except Exception:  # the stripper is heuristics; on failure the full text is safe
        return text
    if not latest:
        return text
    body = latest[0].body.strip()
    tail = (latest[0].signatures or "").strip()
    if body and tail and keep_tail(body, tail):
        return (latest[0].content or f"{body}\n\n{tail}").strip()
    return body or text


_PS = re.compile(r"^\s*(?:p\.?\s?p?\.?\s?s\b\.?|nb\b|n\.b\.)\s*[:.\-]?",
                 re.IGNORECASE | re.MULTILINE)
_URL = re.compile(r"\S+://\S+|www\.\S+")
_PROSE_WORDS = 8


def keep_tail(body: str, tail: str) -> bool:
    """Whether the part the stripper cut off after ``body`` is the customer's text."""
    if body.rstrip().endswith(":"):
        return True  # "Order details:" announces what follows the separator
    if _PS.search(tail):
        return True
    if "?" in _URL.sub(" ", tail):
        return True
    # Signatures are short lines (name, title, phone); a sentence is text.
    return any(len(line.split()) >= _PROSE_WORDS and not _URL.search(line)
               for line in tail.splitlines())
