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

from bot.pipeline import injection, intents
from bot.pipeline.language import detect_language

ANGRY_AT = 0.6  # frustration at which a message is treated as angry and goes to a human


class Flag(enum.StrEnum):
    """What a finding says about the message."""

    FRUSTRATION = "frustration"  # a signal that adds to the frustration score only
    ANGRY = "angry"
    LEGAL = "legal"
    ACCOUNT_ACTION = "account_action"
    PROMPT_INJECTION = "prompt_injection"
    AUTO_REPLY = "auto_reply"
    WANTS_HUMAN = "wants_human"
    CHURN = "churn"  # leaving, or a chargeback / payment dispute
    ACKNOWLEDGEMENT = "acknowledgement"  # thanks / "it works": closes quietly
    URGENT = "urgent"  # outage, many users, a deadline: a priority, not an escalation


ESCALATING = (
    Flag.ANGRY, Flag.LEGAL, Flag.ACCOUNT_ACTION, Flag.PROMPT_INJECTION, Flag.WANTS_HUMAN,
    Flag.CHURN,
)


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

    @property
    def wants_human(self) -> bool:
        return self.has(Flag.WANTS_HUMAN)

    @property
    def acknowledgement(self) -> bool:
        """Only thanks or "it works": no draft, no card, the conversation stays answered."""
        return (self.has(Flag.ACKNOWLEDGEMENT) and not self.escalation_reasons
                and not self.has(Flag.URGENT))

    @property
    def urgent(self) -> bool:
        return self.has(Flag.URGENT)

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
# One unmistakable phrase of anger in any language ("Frechheit", "c'est inadmissible", "thanks
# for nothing") is enough on its own; milder words above need company.
ANGER_PER_PHRASE = ANGRY_AT
_EXCLAIM = re.compile(r"[!?]{3,}")
_CAPS_WORD = re.compile(r"\b[A-Z][A-Z']{2,}\b")
_CAPS_RUN = re.compile(r"\b[A-Z][A-Z']+(?:[\s,.!?]+[A-Z][A-Z']+\b){3,}")

_ACCOUNT_ACTION = _rx(
    r"(?:delete|close|cancel|terminate|deactivate|remove) (?:my|our|the|this) account"
    r"|(?:change|transfer) (?:the |my |our )?(?:account )?owner(?:ship)?"
    r"|transfer (?:my |our |the )?account"
    r"|change (?:my|the|our) (?:account |login )?e-?mail(?: address)?"
    r"|gdpr|dsar|(?:data|subject) access request|right to be forgotten"
    r"|(?:erase|delete|remove) (?:all )?(?:of )?my (?:personal )?data"
    # "export my data to CSV" is a product feature; "my personal data" is a GDPR request
    r"|(?:export|copy of|send me) (?:all )?(?:of )?my personal data"
    r"|(?:disable|reset|turn off|remove) (?:my |the )?(?:2fa|mfa|two[- ]factor)"
)
_INJECTION = _rx(
    r"ignore (?:all |any |the )?(?:previous|prior|above|earlier|preceding)"
    r" (?:instructions|prompts?|rules|messages)"
    r"|disregard (?:all |any |the |your )?(?:previous |prior |above )?"
    r"(?:instructions|rules|guidelines|prompt)"
    r"|(?:reveal|show|print|repeat|output|tell me) (?:me )?(?:your|the) (?:system )?"
    r"(?:prompt|instructions)"
    r"|system prompt|jailbreak|pretend (?:to be|you are)"
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

def guess_language(text: str) -> str:
    """ISO 639-1 code of ``text`` or ``"und"``; see ``bot.pipeline.language``."""
    return detect_language(text)


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
    strong = list(dict.fromkeys(m.group(0).lower() for m in intents.ANGER.finditer(whole)))[:2]
    for phrase in strong:
        frustration += ANGER_PER_PHRASE
        findings.append(Finding(Flag.FRUSTRATION, "anger", f'"{phrase}" (+{ANGER_PER_PHRASE:.2f})'))
    if (praise := intents.sarcasm(whole)) is not None:
        frustration += ANGRY_AT
        findings.append(Finding(Flag.FRUSTRATION, "sarcasm",
                                f'praise next to a complaint: "{praise}" (+{ANGRY_AT:.2f})'))
    frustration = min(1.0, frustration)
    if frustration >= ANGRY_AT:
        signals = ", ".join(f.signal for f in findings if f.flag is Flag.FRUSTRATION)
        findings.append(
            Finding(Flag.ANGRY, "frustration", f"frustration {frustration:.2f} ({signals})")
        )

    legal_context = intents.NOT_LEGAL.sub(" ", whole)
    for flag, pattern, where in (
        (Flag.LEGAL, intents.LEGAL_THREAT, whole),
        (Flag.LEGAL, intents.LEGAL, legal_context),
        (Flag.WANTS_HUMAN, intents.WANTS_HUMAN, intents.NOT_WANTS_HUMAN.sub(" ", whole)),
        (Flag.CHURN, intents.CHURN, intents.NOT_CHURN.sub(" ", whole)),
    ):
        findings.extend(Finding(flag, flag.value, f'"{hit}"')
                        for hit in intents.affirmed(pattern, where))
    # Urgency is not negation-aware like the others: "orders aren't syncing for any of our
    # 300 stores" is urgent; only "not urgent" / "no rush" itself is taken back.
    calm = intents.NOT_URGENT.sub(" ", whole)
    hits = dict.fromkeys(" ".join(m.group(0).split()).lower()
                         for m in intents.URGENT.finditer(calm))
    findings.extend(Finding(Flag.URGENT, "urgent", f'"{hit}"') for hit in hits)
    if (thanks := intents.acknowledgement(text)) is not None:
        findings.append(Finding(Flag.ACKNOWLEDGEMENT, "acknowledgement", f'"{thanks}"'))
    for flag, pattern, where in (
        # "the GDPR data processing agreement" is paperwork, not a data-subject request
        (Flag.ACCOUNT_ACTION, _ACCOUNT_ACTION, legal_context),
        (Flag.PROMPT_INJECTION, _INJECTION, whole),
        (Flag.PROMPT_INJECTION, _FENCE_TAG, whole),
    ):
        hits = dict.fromkeys(m.group(0).strip().lower() for m in pattern.finditer(where))
        findings.extend(Finding(flag, flag.value, f'"{hit}"') for hit in hits)
    # The same and more on the folded text (NFKC, zero-width, look-alikes, several languages).
    known = {f.reason.strip('"') for f in findings if f.flag is Flag.PROMPT_INJECTION}
    for seen in injection.detect(whole):
        if seen.phrase not in known:
            findings.append(Finding(Flag.PROMPT_INJECTION, seen.signal, f'"{seen.phrase}"'))
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
