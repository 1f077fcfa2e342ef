"""Our SMTP protocol: aiosmtpd's ``SMTP`` with RFC 2034 ENHANCEDSTATUSCODES.

aiosmtpd answers many commands itself ("250 OK", "503 Error: need MAIL command",
"552 Error: Too much mail data") without the RFC 3463 enhanced code that lets a sending MTA
tell a full mailbox from a bad address. ``push`` is where every reply leaves, so the code is
added there: by the reply's wording where aiosmtpd's texts say more than the basic code,
else by the basic code. Replies that carry one already (our handler's) are left alone.

RFC 2034 section 3 exempts the greeting and the replies to HELO and EHLO (their first word
after the code is the server's name), and RFC 3463 has no class for 3xx (354, 334).
"""

from __future__ import annotations

import re
from typing import AnyStr

from aiosmtpd.smtp import SMTP, syntax

CAPABILITY = "ENHANCEDSTATUSCODES"
_HAS_CODE = re.compile(r"[245]\.\d{1,3}\.\d{1,3}(?:\s|$)")
_LINE = re.compile(r"(\d{3})([ -]?)(.*)", re.DOTALL)
# aiosmtpd's own wordings that need a more precise code than their basic code's default.
_BY_TEXT: tuple[tuple[str, re.Pattern[str], str], ...] = (
    ("500", re.compile(r"command .* not recognized", re.IGNORECASE), "5.5.1"),
    ("500", re.compile(r"too long", re.IGNORECASE), "5.5.2"),
    ("552", re.compile(r"size|too much", re.IGNORECASE), "5.3.4"),
)
# RFC 3463 codes for RFC 5321 basic codes (X.0.0 where nothing more precise applies).
_BY_CODE = {
    "211": "2.0.0", "214": "2.0.0", "220": "2.0.0", "221": "2.0.0", "235": "2.7.0",
    "250": "2.0.0", "251": "2.1.5", "252": "2.5.0",
    "421": "4.3.2", "450": "4.2.0", "451": "4.3.0", "452": "4.3.1", "454": "4.7.0",
    "455": "4.5.4",
    "500": "5.5.2", "501": "5.5.4", "502": "5.5.1", "503": "5.5.1", "504": "5.5.4",
    "530": "5.7.0", "534": "5.7.9", "535": "5.7.8", "538": "5.7.11", "550": "5.7.1",
    "551": "5.1.6", "552": "5.3.4", "553": "5.1.3", "554": "5.7.0", "555": "5.5.4",
}


def with_enhanced_code(line: str) -> str:
    """``line`` with an RFC 3463 code after its basic code, unless it has one or is 3xx."""
    match = _LINE.fullmatch(line)
    if match is None:
        return line
    code, separator, text = match.groups()
    if code[0] not in "245" or _HAS_CODE.match(text):
        return line
    enhanced = next((e for c, pattern, e in _BY_TEXT if c == code and pattern.search(text)),
                    None) or _BY_CODE.get(code) or f"{code[0]}.0.0"
    return f"{code}{separator or ' '}{enhanced} {text}".rstrip()


class EnhancedSMTP(SMTP):
    """aiosmtpd's ``SMTP`` offering ENHANCEDSTATUSCODES and keeping that promise."""

    _greeted = False
    _exempt = False

    async def push(self, status: AnyStr) -> None:
        line = status.decode("utf-8", "surrogateescape") if isinstance(status, bytes) else status
        if not self._greeted:  # the 220 greeting: its first word must be our name
            self._greeted = True
            await super().push(line)
            return
        if self._exempt:
            if self.session is not None and self.session.extended_smtp and line.startswith(
                    "250 "):
                await super().push(f"250-{CAPABILITY}")  # before the last EHLO line
            await super().push(line)
            return
        await super().push(with_enhanced_code(line))

    @syntax("HELO hostname")
    async def smtp_HELO(self, hostname: str) -> None:
        self._exempt = True
        try:
            await super().smtp_HELO(hostname)
        finally:
            self._exempt = False

    @syntax("EHLO hostname")
    async def smtp_EHLO(self, hostname: str) -> None:
        self._exempt = True
        try:
            await super().smtp_EHLO(hostname)
        finally:
            self._exempt = False
