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
from dataclasses import dataclass, field, replace
from types import MappingProxyType

from bot.domain import Inbound

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
    re.compile(r"\bhf_[A-Za-z0-9]{30,}"),  # Hugging Face
    re.compile(r"\bnpm_[A-Za-z0-9]{30,}"),  # npm
    re.compile(r"\bSG\.[A-Za-z0-9_\-]{16,}\.[A-Za-z0-9_\-]{16,}"),  # SendGrid
    re.compile(r"\b(?:SK|AC)[0-9a-f]{32}\b"),  # Twilio
    re.compile(r"\bkey-[0-9a-f]{32}\b"),  # Mailgun
    re.compile(r"\b(?:shpat|shpss|shpca)_[0-9a-fA-F]{32}\b"),  # Shopify
    re.compile(r"\bdop_v1_[0-9a-f]{64}\b"),  # DigitalOcean
)
# PEM blocks; an unterminated one (a paste cut short) is redacted to the end of the text.
_PEM = re.compile(
    r"-----BEGIN (?P<kind>[A-Z0-9 ]*PRIVATE KEY(?: BLOCK)?)-----.*?"
    r"(?:-----END [A-Z0-9 ]*PRIVATE KEY(?: BLOCK)?-----|\Z)",
    re.DOTALL,
)
# An HTTP Authorization header pasted from a debug log; the scheme stays readable.
_AUTH_HEADER = re.compile(
    r"(?i)\b(?P<head>(?:proxy-)?authori[sz]ation\s*[:=]\s*\"?"
    r"(?:(?:basic|bearer|token|digest|negotiate|ntlm|apikey)\s+)?)(?P<value>[^\s\"',;]{4,})"
)
# Card security codes: the label decides, the digits alone are too short to recognise.
_CVV = re.compile(
    r"(?i)\b(?P<label>cvv2?|cvc2?|cvn|csc|cid|security code|card verification (?:code|value)"
    r"|(?:karten)?prüfnummer|cryptogramme(?: visuel)?|código de seguridad)"
    r"(?P<sep>\s*(?:code|number|no\.?|nr\.?|#)?\s*(?:(?:is|was|ist|est|es)\b\s*)?[:=#-]?\s*)"
    r"(?P<value>\d{3,4})\b"
)

_SECRET_LABELS = (
    r"passwords?|passwort|kennwort|passwd|passcode|passphrase|pass ?word|pwd|pw|pin(?: code)?"
    r"|mot de passe|mdp|contraseña|contrasena|clave|senha|wachtwoord|hasło|haslo|lösenord"
    r"|one[- ]time (?:code|password)|otp|secret|client[_ -]?secret|secret[_ -]?key"
    r"|api[_ -]?key|api[_ -]?token|access[_ -]?(?:key|token)|auth[_ -]?token|private[_ -]?key"
    r"|token|credentials?"
)
# "label <sep> value": "password: x", "My password is: x", "pw=x", "api_key=x", and (when the
# value looks like a credential, see _password) no separator at all: "passcode 8812".
_PASSWORD = re.compile(
    r"(?i)(?<![\w\[-])(?P<label>" + _SECRET_LABELS + r")"
    r"(?P<sep>\s*(?:(?:is|was|ist|war|est|es|era|är)\b\s*[:=]?|=>|->|[:=]|\s)\s*)"
    r"(?P<value>[\"'`]?[^\s\"'`:=>][^\s\"'`]*[\"'`]?)"
)
# Words that follow "password is" in complaints rather than in disclosures.
_NOT_A_PASSWORD = frozenset(
    "not wrong incorrect invalid correct expired too being the still reset broken and also "
    "a an my your it required missing empty changed rejected".split()
)
_PUNCT_TAIL = ".,;:)!?"

_IBAN_CANDIDATE = re.compile(r"\b[A-Za-z]{2}\d{2}(?:[ \-.\u00a0]?[A-Za-z0-9]){11,40}")
# Card numbers are written with spaces, dashes, dots, no-break spaces or en dashes, even mixed.
_DIGIT_RUN = re.compile(r"\d+(?:(?:[ \-.\u00a0\u2009\u2013/]| {2})\d+)*")
# ISO 13616 registry lengths; where the country is known, only that length counts, so an
# IBAN written next to a word ("…3000 meine") is not extended by a letter that happens to
# keep mod 97 valid (1 chance in 97 per extra character).
IBAN_LENGTHS = {
    "AD": 24, "AE": 23, "AL": 28, "AT": 20, "AZ": 28, "BA": 20, "BE": 16, "BG": 22, "BH": 22,
    "BR": 29, "CH": 21, "CR": 22, "CY": 28, "CZ": 24, "DE": 22, "DK": 18, "DO": 28, "EE": 20,
    "EG": 29, "ES": 24, "FI": 18, "FO": 18, "FR": 27, "GB": 22, "GE": 22, "GI": 23, "GL": 18,
    "GR": 27, "GT": 28, "HR": 21, "HU": 28, "IE": 22, "IL": 23, "IS": 26, "IT": 27, "JO": 30,
    "KW": 30, "KZ": 20, "LB": 28, "LI": 21, "LT": 20, "LU": 20, "LV": 21, "MC": 27, "MD": 24,
    "ME": 22, "MK": 19, "MR": 27, "MT": 31, "MU": 30, "NL": 18, "NO": 15, "PK": 24, "PL": 28,
    "PS": 29, "PT": 25, "QA": 29, "RO": 24, "RS": 22, "SA": 24, "SE": 24, "SI": 19, "SK": 24,
    "SM": 27, "TN": 24, "TR": 26, "UA": 29, "VG": 24, "XK": 20,
}
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
    compact = re.sub(r"[ \-.\u00a0]", "", iban).upper()
    if not 15 <= len(compact) <= 34 or not compact.isalnum():
        return False
    if not (compact[:2].isalpha() and compact[2:4].isdigit()):
        return False
    if IBAN_LENGTHS.get(compact[:2], len(compact)) != len(compact):
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


def _looks_like_credential(value: str) -> bool:
    """A value given without a separator is a credential only if it is not a plain word."""
    return any(c.isdigit() for c in value) or (
        any(c.isalpha() for c in value) and any(not c.isalnum() for c in value)
    ) or (any(c.isupper() for c in value[1:]) and any(c.islower() for c in value))


def _password(match: re.Match[str]) -> str | None:
    raw = match.group("value")
    tail = ""
    while len(raw) > 1 and raw[-1] in _PUNCT_TAIL:
        raw, tail = raw[:-1], raw[-1] + tail
    value = raw.strip("\"'`")
    if not value or value[0] in "[•":
        return None  # already redacted by an earlier rule
    sep = match.group("sep")
    explicit = any(c in sep for c in ":=>")
    if not explicit:
        # "password reset", "token expired", "my password is not working": prose, not a
        # disclosure, unless the value looks like a credential ("passcode 8812").
        if value.lower() in _NOT_A_PASSWORD or not _looks_like_credential(value):
            return None
    return f"{match.group('label')}{sep}[{_kind(match.group('label'))} redacted]{tail}"


def _kind(label: str) -> str:
    low = label.lower()
    if any(w in low for w in ("key", "token", "secret", "credential")):
        return "secret"
    return "password"


def _pem(match: re.Match[str]) -> str:
    return "[private key redacted]"


def _auth_header(match: re.Match[str]) -> str | None:
    if match.group("value").startswith("["):
        return None
    return f"{match.group('head')}[secret redacted]"


def _cvv(match: re.Match[str]) -> str:
    return f"{match.group('label')}{match.group('sep')}[CVV redacted]"


def _iban(match: re.Match[str]) -> str | None:
    candidate = match.group(0)
    # The loose pattern may swallow a following word ("... 3000 THANKS"); shrink from the
    # right until the check digits agree, so the longest valid IBAN wins.
    for end in range(len(candidate), 14, -1):
        prefix = candidate[:end]
        if prefix[-1].isalnum() and iban_valid(prefix):
            compact = re.sub(r"[ \-.\u00a0]", "", prefix).upper()
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

    Order matters: private keys and tokens first (they contain digit runs), then
    Authorization headers, card security codes, passwords and labelled secrets, IBANs (which
    contain digit runs that could look like cards), cards, and SSNs last.
    """
    counts: Counter[str] = Counter()
    text, counts["private_key"] = _PEM.subn(_pem, text)
    text, counts["secret"] = _redact_tokens(text)
    text, auth = _sub(_AUTH_HEADER, text, _auth_header)
    counts["secret"] += auth
    text, counts["cvv"] = _CVV.subn(_cvv, text)
    text, counts["password"] = _sub(_PASSWORD, text, _password)
    text, counts["iban"] = _sub(_IBAN_CANDIDATE, text, _iban)
    text, counts["card"] = _sub(_DIGIT_RUN, text, _cards)
    text, counts["ssn"] = _sub(_SSN, text, _ssn)
    found = {kind: n for kind, n in counts.items() if n}
    return Redacted(text=text, counts=MappingProxyType(found))


def redact(text: str) -> str:
    """``text`` with secrets and payment data replaced, e.g. ``[card •••• 4242]``."""
    return redact_text(text).text


def redact_values(value: object) -> object:
    """``value`` with every string inside it (dicts, lists, tuples) redacted."""
    if isinstance(value, str):
        return redact(value)
    if isinstance(value, Mapping):
        return {key: redact_values(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [redact_values(item) for item in value]
    return value


# Metadata that carries the customer's prose (the mail's subject and unquoted text, a webhook
# source's free-form extra fields) is redacted like the text; identifiers (Message-IDs,
# references, Slack ts) are not, since a long digit run there may pass Luhn by chance.
PROSE_METADATA = frozenset({"subject", "full_text", "text", "body", "html", "extra"})


def redact_inbound(inbound: Inbound) -> Inbound:
    """Redaction at the door: ``inbound`` as it may be stored. The stored message is what the
    card, thread posts, logs, the LLM request and learned answers all read, so none of them
    sees a raw card number, IBAN, password or key."""
    metadata = {key: redact_values(value) if key in PROSE_METADATA else value
                for key, value in inbound.metadata.items()}
    return replace(inbound, text=redact(inbound.text),
                   subject=redact(inbound.subject) if inbound.subject else inbound.subject,
                   metadata=metadata)


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
