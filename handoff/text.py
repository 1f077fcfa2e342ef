"""Text for Slack surfaces: mrkdwn escaping, fitting Block Kit limits, dates.

Slack's documented limits (docs.slack.dev/reference/block-kit): section text 3000, section
field 2000, header 150, button text 75, button value 2000, context elements 10, message 50
blocks, modal 100 blocks, modal title/submit/close 24, private_metadata 3000,
plain_text_input max_length 3000, block_id/action_id/callback_id 255.
"""

from __future__ import annotations

import re
from datetime import datetime

SECTION_TEXT = 3000
FIELD_TEXT = 2000
HEADER_TEXT = 150
BUTTON_TEXT = 75
BUTTON_VALUE = 2000
CONTEXT_ELEMENTS = 10
MESSAGE_BLOCKS = 50
MODAL_BLOCKS = 100
MODAL_TITLE = 24
PRIVATE_METADATA = 3000
INPUT_MAX = 3000
#: How much of a customer message or draft a card shows; the rest goes into the thread.
CARD_EXCERPT = 1400
#: A message's top-level ``text`` (notification fallback): Slack truncates at 40,000.
MESSAGE_TEXT = 39_000
#: One thread post of a long text: Slack advises at most 4,000 characters per message.
THREAD_CHUNK = 3_900
ELLIPSIS = "…"
_ESCAPES = {"&": "&amp;", "<": "&lt;", ">": "&gt;"}


#: Slack's link markup ``<target|label>`` (customer text from Slack arrives in this form).
_DISGUISED = re.compile(r"<([a-zA-Z][a-zA-Z0-9+.-]*:[^|<>\s]+)\|([^<>]*)>")


def reveal_links(text: str) -> str:
    """Spell out a link whose label hides its target: ``<https://evil.example|acme.example>``
    becomes ``acme.example (https://evil.example)``; a label that is the target stays as is."""
    def spell(match: re.Match[str]) -> str:
        target, label = match.group(1), match.group(2).strip()
        bare = target.split("://", 1)[-1].removeprefix("mailto:").rstrip("/")
        if not label or label.rstrip("/") in (target, bare):
            return target
        return f"{label} ({target})"

    return _DISGUISED.sub(spell, text)


def escape(text: str) -> str:
    """Escape the three characters Slack mrkdwn treats as control characters: mentions
    (``<@U…>``), broadcasts (``<!channel>``, ``<!here>``) and links in ``text`` become plain
    characters."""
    return "".join(_ESCAPES.get(ch, ch) for ch in text)


def safe(text: str) -> str:
    """Someone else's text made harmless for mrkdwn: disguised links spelled out with their
    real target, then escaped (no mention, broadcast or link markup survives)."""
    return escape(reveal_links(text))


def fit(text: str, limit: int, *, mrkdwn: bool = True, suffix: str = ELLIPSIS) -> str:
    """``text`` (escaped for mrkdwn) cut so that the result, suffix included, is ≤ ``limit``.

    Escaping grows text (``&`` → ``&amp;``), so the cut is made on the escaped form without
    splitting an entity in half.
    """
    out: list[str] = []
    size = 0
    budget = limit - len(suffix)
    if mrkdwn:
        text = reveal_links(text)
    full = escape(text) if mrkdwn else text
    if len(full) <= limit:
        return full
    for ch in text:
        piece = _ESCAPES.get(ch, ch) if mrkdwn else ch
        if size + len(piece) > budget:
            break
        out.append(piece)
        size += len(piece)
    return "".join(out).rstrip() + suffix


def plain(text: str, limit: int) -> str:
    """Plain text (no escaping) cut to ``limit`` characters."""
    return fit(text, limit, mrkdwn=False)


def quote(text: str, limit: int) -> tuple[str, bool]:
    """A mrkdwn block quote of ``text`` within ``limit``; True when it had to be shortened."""
    lines = reveal_links(text).strip().splitlines() or [""]
    quoted = "\n".join("> " + escape(line) for line in lines)
    if len(quoted) <= limit:
        return quoted, False
    cut = quoted[: limit - len(ELLIPSIS)]
    amp = cut.rfind("&")
    if amp != -1 and ";" not in cut[amp:]:
        cut = cut[:amp]  # never leave half an entity such as "&am"
    return cut.rstrip() + ELLIPSIS, True


def chunks(text: str, limit: int = THREAD_CHUNK) -> list[str]:
    """``text`` made safe for mrkdwn (``safe``) and split into pieces of at most ``limit``
    characters, at a paragraph, line or word boundary where there is one in the second half
    of a piece, and never inside an entity such as ``&amp;``."""
    rest = safe(text).strip()
    pieces: list[str] = []
    while len(rest) > limit:
        cut = -1
        for boundary in ("\n\n", "\n", " "):
            cut = rest.rfind(boundary, limit // 2, limit)
            if cut != -1:
                break
        if cut == -1:
            cut = limit
            amp = rest.rfind("&", cut - 5, cut)
            if amp != -1 and ";" not in rest[amp:cut]:
                cut = amp
        pieces.append(rest[:cut].rstrip())
        rest = rest[cut:].lstrip()
    if rest or not pieces:
        pieces.append(rest)
    return pieces


def slack_date(when: datetime | None) -> str:
    """A date Slack renders in the reader's time zone, with a UTC fallback."""
    if when is None:
        return "?"
    fallback = when.strftime("%Y-%m-%d %H:%M UTC")
    return f"<!date^{int(when.timestamp())}^{{date_short_pretty}} {{time}}|{fallback}>"


def user(user_id: str | None) -> str:
    """A mention of a Slack user id (or the word as is: ``auto``, ``customer``)."""
    if not user_id:
        return "someone"
    return f"<@{user_id}>" if user_id[:1] in ("U", "W") else user_id
