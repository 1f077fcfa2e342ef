"""Triage of one customer message: language, frustration, and the flags policy acts on.

A pure function of the text, subject and channel metadata. Every flag carries the phrase
that raised it, so the approval card can say *why* a message went to a human instead of
showing an opaque score. Patterns favour precision for the auto-reply flag (a false hit
silences a customer) and recall for the others (a false hit only costs a human a look).
"""

from __future__ import annotations

import enum
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

ANGRY_AT = 0.6  # frustration at which a message is treated as angry and goes to a human


class Flag(enum.StrEnum):
    """What a finding says about the message."""

    FRUSTRATION = "frustration"  # a signal that adds to the frustration score only
    ANGRY = "angry"
    LEGAL = "legal"
    ACCOUNT_ACTION = "account_action"
    PROMPT_INJECTION = "prompt_injection"
    AUTO_REPLY = "auto_reply"


ESCALATING = (Flag.ANGRY, Flag.LEGAL, Flag.ACCOUNT_ACTION, Flag.PROMPT_INJECTION)


@dataclass(frozen=True, slots=True)
class Finding:
    """One matched signal: the flag it supports, a short name, and a readable reason."""

    flag: Flag
    signal: str
    reason: str


@dataclass(frozen=True, slots=True)
class Triage:
    """The triage of one message. ``language`` is an ISO 639-1 code or ``"und"``."""

    language: str
    frustration: float
    findings: tuple[Finding, ...] = ()

    @property
    def flags(self) -> frozenset[Flag]:
        return frozenset(f.flag for f in self.findings if f.flag is not Flag.FRUSTRATION)

    def has(self, flag: Flag) -> bool:
        return flag in self.flags

    @property
    def angry(self) -> bool:
        return self.has(Flag.ANGRY)

    @property
    def legal(self) -> bool:
        return self.has(Flag.LEGAL)

    @property
    def account_action(self) -> bool:
        return self.has(Flag.ACCOUNT_ACTION)

    @property
    def prompt_injection(self) -> bool:
        return self.has(Flag.PROMPT_INJECTION)

    @property
    def auto_reply(self) -> bool:
        return self.has(Flag.AUTO_REPLY)

    def reasons(self, flag: Flag) -> list[str]:
        """The reasons behind one flag, in the order they were found."""
        return [f.reason for f in self.findings if f.flag is flag]

    @property
    def escalation_reasons(self) -> list[str]:
        """Why a human must handle this message (empty when nothing escalates)."""
        return [
            f"{flag.value.replace('_', ' ')}: {'; '.join(self.reasons(flag))}"
            for flag in ESCALATING
            if self.has(flag)
        ]


def _rx(alternatives: str) -> re.Pattern[str]:
    """A case-insensitive whole-word pattern from ``a|b|c`` alternatives."""
    return re.compile(r"(?i)\b(?:" + alternatives + r")\b")


# (signal, weight, pattern); each signal counts once however often it matches.
_FRUSTRATION: tuple[tuple[str, float, re.Pattern[str]], ...] = (
    (
        "profanity",
        0.5,
        _rx(
            r"f+u+c+k\w*|shit\w*|bullshit|crap|damn|wtf|idiots?|stupid|useless|pathetic"
            r"|screw you|sucks|scheiße|scheisse|merde|mierda|cazzo"
        ),
    ),
    (
        "strong_words",
        0.25,
        _rx(
            r"unacceptable|ridiculous|outrageous|worst|terrible|horrible|disgusting|furious"
            r"|angry|scam|fraud|incompetent|fed up|sick of|joke"
        ),
    ),
    (
        "repeated_contact",
        0.2,
        _rx(
            r"(?:second|third|fourth|fifth|\d+(?:st|nd|rd|th)) time|again and again"
            r"|still (?:not|isn't|hasn't|doesn't|no)\b[^.!?\n]{0,30}"
            r"|no one (?:has )?(?:replied|answered|responded|helped)"
            r"|waiting (?:for )?(?:days|weeks|months)"
        ),
    ),
    ("cancel", 0.3, _rx(r"cancel (?:my|our|the) (?:account|subscription|plan|order)")),
    (
        "refund_demand",
        0.3,
        _rx(
            r"refund (?:now|immediately|asap|right now|today)|(?:want|need) my money back"
            r"|give me my money"
        ),
    ),
    ("legal_threat", 0.4, _rx(r"lawyers?|attorneys?|sue|lawsuit|legal action")),
    ("chargeback", 0.4, _rx(r"charge ?backs?|dispute (?:the|this) (?:charge|payment)")),
)
_EXCLAIM = re.compile(r"[!?]{3,}")
_CAPS_WORD = re.compile(r"\b[A-Z][A-Z']{2,}\b")
_CAPS_RUN = re.compile(r"\b[A-Z][A-Z']+(?:[\s,.!?]+[A-Z][A-Z']+\b){3,}")

_LEGAL = _rx(
    r"lawyers?|attorneys?|solicitors?|sue|suing|lawsuit|legal action|court|small claims"
    r"|charge ?backs?|dispute (?:the|this) (?:charge|payment)|consumer protection|ombudsman"
    r"|regulator|police|subpoena|cease and desist|data protection authority"
    r"|anwalt|avocat|abogado"
)
_ACCOUNT_ACTION = _rx(
    r"(?:delete|close|cancel|terminate|deactivate|remove) (?:my|our|the|this) account"
    r"|(?:change|transfer) (?:the |my |our )?(?:account )?owner(?:ship)?"
    r"|transfer (?:my |our |the )?account"
    r"|change (?:my|the|our) (?:account |login )?e-?mail(?: address)?"
    r"|gdpr|dsar|(?:data|subject) access request|right to be forgotten"
    r"|(?:erase|delete|remove|export) (?:all )?(?:of )?my (?:personal )?data"
    r"|(?:disable|reset|turn off|remove) (?:my |the )?(?:2fa|mfa|two[- ]factor)"
)
_INJECTION = _rx(
    r"ignore (?:all |any |the )?(?:previous|prior|above|earlier|preceding)"
    r" (?:instructions|prompts?|rules|messages)"
    r"|disregard (?:all |any |the |your )?(?:previous |prior |above )?"
    r"(?:instructions|rules|guidelines|prompt)"
    r"|(?:reveal|show|print|repeat|output|tell me) (?:me )?(?:your|the) (?:system )?"
    r"(?:prompt|instructions)"
    r"|system prompt|you are now|developer mode|jailbreak|new instructions"
    r"|act as (?:an?|the) \w+|pretend (?:to be|you are)"
)
# Asking us to change what the reply carries or where it goes is an injection even in polite
# words: the reply would phish the customer (a link) or leak the conversation (an address).
# "an email to billing@…", "the reply to my other email": nouns in a story, not instructions.
_NOT_A_NOUN = r"(?<!\ban )(?<!\ba )(?<!\bthe )(?<!\bmy )(?<!\byour )(?<!\bour )(?<!\bthis )"
_REPLY_OBJECT = (
    r"(?:\s+(?:me|us))?(?:\s+(?:it|this|that|them|a copy|copies"
    r"|(?:the|your) (?:reply|answer|response|solution|details|information|info)))?"
    r"(?:\s+instead)?"
)
_LINK_WORD = r"(?:hyper)?links?|urls?|web ?address(?:es)?|website"
_URL = r"(?:https?://|www\.)[^\s<>\"']*[\w/]"
# An instruction, not a story ("I put the URL in my browser"): the verb starts the sentence
# or clause, or follows "please", "can you", "make sure to", …
_IMPERATIVE = (
    r"(?:^|(?<=[.!?:;,\n])|\b(?:please|pls|kindly|can you|could you|would you|will you"
    r"|you (?:should|must|need to|have to)|make sure (?:to|you)|(?:do not|don't) forget to"
    r"|remember to|also|and|then|just)\b)\s*"
)
_INJECTION_ASKS: tuple[tuple[str, str, re.Pattern[str]], ...] = (
    (
        "reply_link",
        "asks to put a link in the reply",
        re.compile(
            r"(?im)" + _IMPERATIVE + r"\b(?:add|include|insert|put|paste|embed|append|place)\s+"
            r"(?:(?:this|that|these|those|the following|following|my|our)\s+(?:\w+\s+)?"
            rf"(?:{_LINK_WORD})\b"
            rf"|(?:an?|the)\s+(?:\w+\s+)?(?:{_LINK_WORD})\b[^.!?\n]{{0,60}}?"
            rf"(?:{_URL}|\b(?:in|into|to|at the (?:end|bottom) of)\s+(?:your|the)\s+"
            r"(?:reply|answer|response|message|e-?mail)\b)"
            rf"|{_URL})"
        ),
    ),
    (
        "redirect_reply",
        "asks to send the reply to another address",
        _rx(
            _NOT_A_NOUN + r"(?:send|forward|reply|respond|answer|e-?mail|mail|write|deliver)"
            + _REPLY_OBJECT + r"\s+(?:to|at)\s+"
            # ... an address, after a few words ("to another address: bob@evil.example")
            r"(?:(?:(?:my|our|an?|another|the|this|that|other|different|second|alternate"
            r"|alternative|new|separate|personal|private|backup|following|e-?mail|address"
            r"|account|inbox|instead)\b[\s:]*){0,5}[\w.+-]+@[\w-]+\.[\w.-]+"
            # ... or another mailbox of theirs ("reply to my other email")
            r"|(?:(?:my|our|this|an?)\s+)?(?:other|another|different|second|alternate"
            r"|alternative|separate|personal|private|backup)\s+"
            r"(?:e-?mail(?: address)?|address|inbox|account|mailbox))"
        ),
    ),
)
# Our own fence tags in customer text can only be an attempt to break out of the fence.
_FENCE_TAG = re.compile(r"(?i)</?\s*(?:customer_message|passages?|conversation_history|system)\s*>")
_AUTO_SUBJECT = re.compile(
    r"(?i)^\s*(?:automatic reply|auto-?reply|autoreply|auto:|out of (?:the )?office|"
    r"abwesend|abwesenheitsnotiz|absence|réponse automatique|respuesta automática|"
    r"undeliverable|delivery status notification|mail delivery failed)"
)
_AUTO_BODY = re.compile(
    r"(?i)^\s*(?:(?:hello|hi)[,!.]?\s*)?(?:thank you for your (?:e-?mail|message)[.,!]?\s*)?"
    r"(?:i am|i'm) (?:currently )?(?:out of (?:the )?office|away|on (?:vacation|holiday|"
    r"leave|annual leave|parental leave))|^\s*this is an automatic(?:ally generated)? "
    r"(?:reply|response|message)"
)

_STOPWORDS: dict[str, frozenset[str]] = {
    "en": frozenset("the and is are you my to of it for have with not this that can i".split()),
    "de": frozenset("der die das und ist nicht ich mein sie ein eine mit für zu bitte".split()),
    "fr": frozenset("le la les et est je mon ma vous pas une pour avec ne merci des".split()),
    "es": frozenset("el la los las y es mi no que una para con por gracias hola".split()),
    "it": frozenset("il lo la gli e è non mio mia che per con una grazie ciao sono".split()),
    "nl": frozenset("de het een en is niet ik mijn je met voor dat van alstublieft".split()),
    "pt": frozenset("o os as e é não eu meu minha que para com uma obrigado olá".split()),
}
_SCRIPTS: tuple[tuple[str, re.Pattern[str]], ...] = (
    ("ja", re.compile(r"[\u3040-\u30ff]")),  # kana first: Japanese also uses Han characters
    ("ko", re.compile(r"[\uac00-\ud7af]")),
    ("zh", re.compile(r"[\u4e00-\u9fff]")),
    ("ru", re.compile(r"[\u0400-\u04ff]")),
    ("el", re.compile(r"[\u0370-\u03ff]")),
    ("ar", re.compile(r"[\u0600-\u06ff]")),
    ("he", re.compile(r"[\u0590-\u05ff]")),
    ("hi", re.compile(r"[\u0900-\u097f]")),
    ("th", re.compile(r"[\u0e00-\u0e7f]")),
)


def guess_language(text: str) -> str:
    """A cheap language guess: non-Latin scripts by code points, Latin ones by stopwords."""
    letters = sum(ch.isalpha() for ch in text)
    if letters == 0:
        return "und"
    for code, pattern in _SCRIPTS:
        if len(pattern.findall(text)) / letters > 0.3:
            return code
    tokens = re.findall(r"[^\W\d_]+", text.lower())
    hits = sorted(
        ((sum(t in words for t in tokens), code) for code, words in _STOPWORDS.items()),
        reverse=True,
    )
    (best, code), (second, _) = hits[0], hits[1]
    return code if best >= 2 and best > second else "und"


def _first(pattern: re.Pattern[str], text: str) -> str | None:
    match = pattern.search(text)
    return match.group(0).strip() if match else None


def _shouting(text: str) -> str | None:
    caps = _CAPS_WORD.findall(text)
    words = re.findall(r"\b[^\W\d_]{3,}\b", text)
    # Four or more shouted words that make up most of the message; three-letter acronyms
    # (API, SDK, URL) alone never count.
    if len(caps) >= 4 and len(caps) >= 0.5 * len(words):
        return " ".join(caps[:4])
    # ...or a run of four shouted words inside an otherwise calm message.
    return _first(_CAPS_RUN, text)


def _auto_reply(text: str, subject: str) -> str | None:
    # Mail headers (Auto-Submitted, Precedence, X-Autoreply) are judged by the mail channel
    # (``channels/mail/loops.py``), which stops such mail before it is answered; here only
    # what any channel carries: the subject and the body.
    if (hit := _first(_AUTO_SUBJECT, subject)) is not None:
        return f'subject starts with "{hit}"'
    if (hit := _first(_AUTO_BODY, text)) is not None:
        return f'message starts with "{hit}"'
    return None


def triage(
    text: str, subject: str | None = None, metadata: Mapping[str, Any] | None = None
) -> Triage:
    """Triage one customer message; see ``Triage`` and ``Flag`` for what comes back."""
    subject = subject or ""
    metadata = metadata or {}
    whole = f"{subject}\n{text}" if subject else text
    findings: list[Finding] = []
    frustration = 0.0

    for signal, weight, pattern in _FRUSTRATION:
        if (hit := _first(pattern, whole)) is not None:
            frustration += weight
            findings.append(Finding(Flag.FRUSTRATION, signal, f'"{hit}" (+{weight:.2f})'))
    if (shout := _shouting(whole)) is not None:
        frustration += 0.3
        findings.append(Finding(Flag.FRUSTRATION, "all_caps", f'shouting "{shout}" (+0.30)'))
    if (bang := _first(_EXCLAIM, whole)) is not None:
        frustration += 0.15
        findings.append(Finding(Flag.FRUSTRATION, "exclamations", f'"{bang}" (+0.15)'))
    frustration = min(1.0, frustration)
    if frustration >= ANGRY_AT:
        signals = ", ".join(f.signal for f in findings if f.flag is Flag.FRUSTRATION)
        findings.append(
            Finding(Flag.ANGRY, "frustration", f"frustration {frustration:.2f} ({signals})")
        )

    for flag, pattern in (
        (Flag.LEGAL, _LEGAL),
        (Flag.ACCOUNT_ACTION, _ACCOUNT_ACTION),
        (Flag.PROMPT_INJECTION, _INJECTION),
        (Flag.PROMPT_INJECTION, _FENCE_TAG),
    ):
        hits = dict.fromkeys(m.group(0).strip().lower() for m in pattern.finditer(whole))
        findings.extend(Finding(flag, flag.value, f'"{hit}"') for hit in hits)
    for signal, why, pattern in _INJECTION_ASKS:
        hits = dict.fromkeys(" ".join(m.group(0).split()) for m in pattern.finditer(whole))
        findings.extend(
            Finding(Flag.PROMPT_INJECTION, signal, f'{why}: "{hit}"') for hit in hits
        )
    if (auto := _auto_reply(text, subject)) is not None:
        findings.append(Finding(Flag.AUTO_REPLY, "auto_reply", auto))

    return Triage(
        language=guess_language(text or subject),
        frustration=round(frustration, 3),
        findings=tuple(findings),
    )
