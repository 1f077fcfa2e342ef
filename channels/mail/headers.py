"""Pure helpers over mail header values: Message-IDs, subjects, addresses and reply tokens."""

from __future__ import annotations

import re
from collections.abc import Iterable
from email.errors import HeaderParseError
from email.header import decode_header, make_header
from email.utils import getaddresses

# RFC 5322 3.6.4: msg-id = "<" id-left "@" id-right ">". Real mail also carries ids without
# brackets, comments ("<id> (Your message of …)") and folded whitespace, so we scan for tokens.
_BRACKETED = re.compile(r"<([^<>\s]+)>")
_BARE = re.compile(r"[^\s<>(),;\"]+@[^\s<>(),;\"]+")
# "Re:", "RE :", "Aw:", "Sv:", "Fwd:", "FW:", "Re[2]:", "Re: Re:" … as clients stack them.
_PREFIX = re.compile(
    r"^\s*(?:(?:re|aw|sv|vs|antw|odp|tr|wg|fwd?|rv|ref)\s*(?:\[\d+\]|\(\d+\))?\s*[:：]\s*)+",
    re.IGNORECASE,
)
_TOKEN = re.compile(r"^[A-Za-z0-9_-]{4,32}$")
# RFC 2047 encoded-words, as a run separated by folding white space (2047 6.2 drops that
# white space). Real clients put unencoded "@", "," and quotes inside them, and some quote them.
_ENCODED_WORD = r"=\?[^?\s]+\?[QqBb]\?[^?\s]*\?="
_ENCODED_RUN = re.compile(
    rf'"\s*({_ENCODED_WORD}(?:\s+{_ENCODED_WORD})*)\s*"|({_ENCODED_WORD}(?:\s+{_ENCODED_WORD})*)'
)
# An address inside a display name ("Jane <jane@x.org>" <jane@x.org>, "jane@x.org" <…>).
_NAME_ADDRESS = re.compile(
    r"[<(\[]?\s*(?:mailto:)?[^\s<>()\[\]\"',;]+@[^\s<>()\[\]\"',;]+\s*[>)\]]?"
)
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")
OUR_ID_PREFIX = "supportbot."
_MAX_ID_LENGTH = 250


def normalize_message_id(value: str | None) -> str | None:
    """``<local@DOMAIN>`` → ``<local@domain>``; ``None`` when the value holds no id.

    The domain part is case-insensitive (RFC 5321 2.4) while the local part is not, so only the
    domain is lowercased; brackets are kept so stored ids match header text.
    """
    ids = message_ids(value)
    return ids[0] if ids else None


def message_ids(value: str | None) -> list[str]:
    """Every Message-ID in a header value (References, In-Reply-To), in order, normalised."""
    if not value:
        return []
    text = str(value)
    raw = _BRACKETED.findall(text) or _BARE.findall(text)
    found: list[str] = []
    for item in raw:
        local, at, domain = item.strip().rpartition("@")
        # Longer ids are hostile or broken; they would not fit the dedupe column either.
        if not at or not local or not domain or len(item) > _MAX_ID_LENGTH:
            continue
        ident = f"<{local}@{domain.lower()}>"
        if ident not in found:
            found.append(ident)
    return found


def id_domain(message_id: str) -> str:
    """The right-hand side of a normalised Message-ID."""
    return message_id.strip("<>").rpartition("@")[2]


def is_our_message_id(message_id: str | None, domains: Iterable[str]) -> bool:
    """True for ids minted by ``SmtpSender`` (``<supportbot.<reply_id>@<our domain>>``).

    A bare domain match is not enough: colleagues mailing from the company domain produce ids
    in that domain too, and their mail must still be ingested.
    """
    if not message_id:
        return False
    local = message_id.strip("<>").rpartition("@")[0]
    return local.startswith(OUR_ID_PREFIX) and id_domain(message_id) in set(domains)


def our_message_id(reply_id: str, domain: str) -> str:
    """The Message-ID of a reply: stable per ``reply_id`` so a retried send keeps it."""
    safe = re.sub(r"[^A-Za-z0-9._-]", "-", reply_id) or "reply"
    return f"<{OUR_ID_PREFIX}{safe}@{domain.lower()}>"


def strip_reply_prefixes(subject: str | None) -> str:
    """The subject without stacked ``Re:``/``Aw:``/``Fwd:`` prefixes."""
    return _PREFIX.sub("", subject or "").strip()


def reply_subject(subject: str | None) -> str:
    """``Re: <subject>`` exactly once (RFC 5322 3.6.5 suggests "Re: " on replies)."""
    base = strip_reply_prefixes(subject)
    return f"Re: {base}" if base else "Re: your message"


def split_address(address: str) -> tuple[str, str]:
    """``Local@Domain`` → ``("Local", "domain")``; ``("", "")`` when there is no ``@``."""
    local, at, domain = address.strip().strip("<>").rpartition("@")
    if not at:
        return "", ""
    return local, domain.lower().rstrip(".")


def plus_address(support_address: str, token: str) -> str:
    """``support@d`` + token → ``support+<token>@d``: the Reply-To that threads by itself."""
    local, domain = split_address(support_address)
    base = local.split("+", 1)[0]
    return f"{base}+{token}@{domain}" if token else f"{base}@{domain}"


def find_token(
    addresses: Iterable[str], *, support_local: str | Iterable[str] | None,
    domains: Iterable[str],
) -> str | None:
    """The conversation token of the first ``<support>+<token>@<our domain>`` recipient.

    ``support_local`` is the local part of the support address (or of each of several:
    ``billing+<token>@`` threads like ``support+<token>@``); when it is unknown any local
    part with a ``+`` suffix in one of our domains counts.
    """
    ours = {d.lower() for d in domains}
    wanted = [support_local] if isinstance(support_local, str) else list(support_local or [])
    bases = {w.split("+", 1)[0].lower() for w in wanted if w}
    for address in addresses:
        local, domain = split_address(address)
        if domain not in ours or "+" not in local:
            continue
        base, _, token = local.partition("+")
        if bases and base.lower() not in bases:
            continue
        if _TOKEN.match(token):
            return token
    return None


def addressed_to(recipients: Iterable[str], support_addresses: Iterable[str]) -> str | None:
    """Which of our support addresses a mail was written to: the first recipient (envelope,
    then ``Delivered-To``, ``To``, ``Cc``, as the caller orders them) that is one of them or a
    plus-address of one (``billing+<token>@``), as configured; None when none is."""
    configured = {a.lower(): a for a in support_addresses}
    for address in recipients:
        local, domain = split_address(address)
        if not domain:
            continue
        found = configured.get(f"{local.split('+', 1)[0].lower()}@{domain}")
        if found is not None:
            return found
    return None


def _decoded_run(match: re.Match[str]) -> str:
    run = match.group(1) or match.group(2)
    try:
        text = str(make_header(decode_header(run)))
    except (HeaderParseError, LookupError, UnicodeError, ValueError):
        text = run  # an unknown charset or broken base64: keep it, but as a name
    # Decoded CR/LF (a header-injection attempt) or other controls would end the quoted name
    # early and let text inside it be read as an address.
    text = _CONTROL.sub(" ", text)
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def parse_addresses(raw: str) -> list[tuple[str, str]]:
    """``[(display name, addr-spec)]`` of a raw address header the header registry refused.

    Each encoded-word run is decoded into a quoted string *before* splitting, so a decoded
    name holding ``@`` or ``,`` stays a name and is never taken for an address or split.
    """
    unfolded = re.sub(r"\r?\n[ \t]", " ", raw)
    return getaddresses([_ENCODED_RUN.sub(_decoded_run, unfolded)])


def clean_display_name(name: str) -> str:
    """A display name fit to greet someone with: raw 8-bit (RFC 6532) text decoded, addresses
    that clients copy into the name ("Jane <jane@x.org>", "jane@x.org") removed, white space
    collapsed; ``""`` when nothing is left."""
    if any("\udc80" <= ch <= "\udcff" for ch in name):  # undecoded 8-bit header bytes
        raw = name.encode("utf-8", "surrogateescape")
        try:
            name = raw.decode("utf-8")
        except UnicodeDecodeError:
            name = raw.decode("cp1252", "replace")
    name = _NAME_ADDRESS.sub(" ", _CONTROL.sub(" ", name))
    return " ".join(name.split()).strip(" '\"-,;:|")
