"""Body text of a mail: part choice, charset decoding, HTML → text, quoted-reply stripping."""

from __future__ import annotations

import codecs
import re
from dataclasses import dataclass
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
    declared = (part.get_content_charset() or "utf-8").strip().lower()
    candidates = ["cp1252" if declared in _AS_CP1252 else declared, "utf-8", "cp1252"]
    for name in candidates:
        try:
            codecs.lookup(name)
            return data.decode(name)
        except (LookupError, UnicodeDecodeError, ValueError):
            continue
    return data.decode("latin-1")


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
    """The body, text/plain preferred; HTML-only mail (or an empty plain part) is converted."""
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
    return BodyText("", False, ids)


def strip_quoted(text: str) -> str:
    """The newest reply only: quoted history, reply headers and signatures removed."""
    if not text or len(text) > _STRIP_LIMIT:
        return text
    try:
        latest = _REPLY_PARSER.read(text).replies
    except Exception:  # the stripper is heuristics; on failure the full text is safe
        return text
    if not latest:
        return text
    body = latest[0].body.strip()
    return body or text
