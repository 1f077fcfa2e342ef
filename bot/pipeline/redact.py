"""Redaction of secrets and payment data before text leaves the process or reaches a log.

Pure functions over strings. Numbers are only treated as payment data when their check
digits say so (Luhn for cards, ISO 7064 mod-97 for IBANs): support mail is full of order,
invoice and tracking numbers that agents and the drafter must still see.

``redact(text)`` is the one call sites need; ``RedactingFilter`` applies it to log records.
"""

from __future__ import annotations

import logging
import re
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

MASK = "••••"

# Vendor token shapes. Prefixes are kept out of the replacement on purpose: even "sk-ant-"
# plus a few characters narrows a search in leaked-key dumps.
_TOKEN_PATTERNS: tuple[re.Pattern[str], ...] = (
    re.compile(r"\bsk-(?:ant-|proj-|live-|test-)?[A-Za-z0-9_\-]{16,}"),  # Anthropic, OpenAI
    re.compile(r"\b(?:sk|rk|pk)_(?:live|test)_[A-Za-z0-9]{16,}"),  # Stripe
    re.compile(r"\bxox[bpaors]-[A-Za-z0-9\-]{10,}"),  # Slack bot/user/app tokens
    re.compile(r"\bxapp-[A-Za-z0-9\-]{10,}"),  # Slack app-level tokens
    re.compile(r"\b(?:AKIA|ASIA)[0-9A-Z]{16}\b"),  # AWS access key ids
    re.compile(r"\bgh[pousr]_[A-Za-z0-9]{30,}"),  # GitHub tokens
    re.compile(r"\bgithub_pat_[A-Za-z0-9_]{30,}"),
    re.compile(r"\bglpat-[A-Za-z0-9_\-]{20,}"),  # GitLab
    re.compile(r"\bAIza[0-9A-Za-z_\-]{35}"),  # Google API keys
    re.compile(r"\beyJ[A-Za-z0-9_\-]{8,}\.eyJ[A-Za-z0-9_\-]{8,}\.[A-Za-z0-9_\-]{8,}"),  # JWT
    re.compile(r"(?i)(?<=\bbearer )[A-Za-z0-9._~+/\-]{20,}=*"),
)

_PASSWORD = re.compile(
    r"(?i)\b(?P<label>password|passwort|passwd|passcode|passphrase|pwd|pin|mot de passe"
    r"|contraseña)(?P<sep>\s*(?:[:=]|\bis\b|\bwas\b)\s*)(?P<value>[\"']?[^\s\"']+[\"']?)"
)
# Words that follow "password is" in complaints rather than in disclosures.
_NOT_A_PASSWORD = frozenset(
    "not wrong incorrect invalid correct expired too being the still reset broken and also "
    "a an my your it required missing empty changed rejected".split()
)

_IBAN_CANDIDATE = re.compile(r"\b[A-Za-z]{2}\d{2}(?:[ ]?[A-Za-z0-9]){11,40}")
_DIGIT_RUN = re.compile(r"\d+(?:[ \-]\d+)*")
_DIGIT_GROUP = re.compile(r"\d+")
_SSN = re.compile(r"\b(?!000|666|9\d\d)(\d{3})([- ])(?!00)\d{2}\2(?!0000)(\d{4})\b")


@dataclass(frozen=True, slots=True)
class Redacted:
    """Redacted text and how many findings of each kind were replaced."""

    text: str
    counts: Mapping[str, int] = field(default_factory=lambda: MappingProxyType({}))

    @property
    def changed(self) -> bool:
        return bool(self.counts)


def luhn_valid(digits: str) -> bool:
    """The Luhn (mod 10) check every payment card number carries."""
    if not digits.isdigit():
        return False
    total = 0
    for index, char in enumerate(reversed(digits)):
        value = int(char)
        if index % 2 == 1:
            value = value * 2 - 9 if value > 4 else value * 2
        total += value
    return total % 10 == 0


def iban_valid(iban: str) -> bool:
    """ISO 13616 IBAN check: 15-34 alphanumerics whose rearranged value is 1 mod 97."""
    compact = iban.replace(" ", "").upper()
    if not 15 <= len(compact) <= 34 or not compact.isalnum():
        return False
    if not (compact[:2].isalpha() and compact[2:4].isdigit()):
        return False
    rearranged = compact[4:] + compact[:4]
    return int("".join(str(int(c, 36)) for c in rearranged)) % 97 == 1


def _sub(
    pattern: re.Pattern[str], text: str, replace: Callable[[re.Match[str]], str | None]
) -> tuple[str, int]:
    """Like ``pattern.subn`` but ``replace`` may return None to keep a match unchanged."""
    count = 0

    def apply(match: re.Match[str]) -> str:
        nonlocal count
        replacement = replace(match)
        if replacement is None:
            return match.group(0)
        count += 1
        return replacement

    return pattern.sub(apply, text), count


def _redact_tokens(text: str) -> tuple[str, int]:
    total = 0
    for pattern in _TOKEN_PATTERNS:
        text, count = pattern.subn("[secret redacted]", text)
        total += count
    return text, total


def _password(match: re.Match[str]) -> str | None:
    value = match.group("value").strip("\"'")
    prose = match.group("sep").strip().lower() in {"is", "was"}
    if prose and value.lower().rstrip(".,!?") in _NOT_A_PASSWORD:
        return None
    if value.startswith("["):  # already redacted by an earlier rule
        return None
    return f"{match.group('label')}{match.group('sep')}[password redacted]"


def _iban(match: re.Match[str]) -> str | None:
    candidate = match.group(0)
    # The loose pattern may swallow a following word ("... 3000 THANKS"); shrink from the
    # right until the check digits agree, so the longest valid IBAN wins.
    for end in range(len(candidate), 14, -1):
        prefix = candidate[:end]
        if prefix[-1] != " " and iban_valid(prefix):
            compact = prefix.replace(" ", "").upper()
            return f"[IBAN {compact[:2]}{MASK}{compact[-4:]}]" + candidate[end:]
    return None


def _cards(match: re.Match[str]) -> str | None:
    run = match.group(0)
    groups = list(_DIGIT_GROUP.finditer(run))
    pieces: list[str] = []
    cursor = 0
    found = False
    i = 0
    # A run may glue an order number to a card ("order 12345 4242 4242 4242 4242"); try the
    # longest sub-run of whole groups that is 13-19 digits and passes Luhn.
    while i < len(groups):
        for j in range(len(groups), i, -1):
            digits = "".join(g.group(0) for g in groups[i:j])
            if 13 <= len(digits) <= 19 and luhn_valid(digits):
                pieces.append(run[cursor : groups[i].start()])
                pieces.append(f"[card {MASK} {digits[-4:]}]")
                cursor = groups[j - 1].end()
                found = True
                i = j
                break
        else:
            i += 1
    if not found:
        return None
    pieces.append(run[cursor:])
    return "".join(pieces)


def _ssn(match: re.Match[str]) -> str:
    return f"[SSN {MASK} {match.group(3)}]"


def redact_text(text: str) -> Redacted:
    """Replace secrets, passwords, IBANs, card numbers and US SSNs; report what was found.

    Order matters: tokens first (they contain digit runs), then passwords, IBANs (which
    contain digit runs that could look like cards), cards, and SSNs last.
    """
    counts: Counter[str] = Counter()
    text, counts["secret"] = _redact_tokens(text)
    text, counts["password"] = _sub(_PASSWORD, text, _password)
    text, counts["iban"] = _sub(_IBAN_CANDIDATE, text, _iban)
    text, counts["card"] = _sub(_DIGIT_RUN, text, _cards)
    text, counts["ssn"] = _sub(_SSN, text, _ssn)
    found = {kind: n for kind, n in counts.items() if n}
    return Redacted(text=text, counts=MappingProxyType(found))


def redact(text: str) -> str:
    """``text`` with secrets and payment data replaced, e.g. ``[card •••• 4242]``."""
    return redact_text(text).text


class RedactingFilter(logging.Filter):
    """A logging filter that redacts the formatted message and any exception text.

    The message is formatted here (``getMessage``) and the args dropped, because a card
    number may sit in an argument as easily as in the format string.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except (TypeError, ValueError):
            message = str(record.msg)  # a broken format call: keep what we can, redacted
        record.msg = redact(message)
        record.args = None
        if record.exc_info and not record.exc_text:
            # Formatters reuse exc_text when set, so the traceback is redacted too.
            record.exc_text = redact(logging.Formatter().formatException(record.exc_info))
        elif record.exc_text:
            record.exc_text = redact(record.exc_text)
        return True
