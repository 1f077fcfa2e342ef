"""Prompt-injection detection on normalised text.

Customer text is data; a message that tries to instruct the model, change its role, speak as
the system or assistant, or set the decision the model returns goes to a human and the
drafter is told what was found. Detection runs on a folded copy of the text so that the
usual disguises do not help: Unicode NFKC (full-width and styled letters), zero-width and
soft-hyphen characters removed, Cyrillic and Greek look-alikes folded to Latin, accents
stripped, ``1gn0re``-style digits folded inside words, whitespace collapsed. Patterns cover
English, German, French, Spanish, Italian and Portuguese.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

# Characters that render as nothing; inserted to split trigger words ("Ig\u200bnore").
_INVISIBLE = dict.fromkeys(
    map(ord, "\u00ad\u034f\u061c\u115f\u1160\u17b4\u17b5\u180e\u200b\u200c\u200d\u200e\u200f"
        "\u202a\u202b\u202c\u202d\u202e\u2060\u2061\u2062\u2063\u2064\u2066\u2067\u2068"
        "\u2069\u206a\u206b\u206c\u206d\u206e\u206f\u3164\ufeff\uffa0"),
)
# Cyrillic and Greek letters that look like Latin ones (Unicode confusables, the common part).
_HOMOGLYPHS = str.maketrans({
    "а": "a", "в": "b", "с": "c", "е": "e", "ё": "e", "һ": "h", "і": "i", "ї": "i", "ј": "j",
    "к": "k", "м": "m", "н": "h", "о": "o", "р": "p", "ѕ": "s", "т": "t", "у": "y", "х": "x",
    "ԁ": "d", "ԛ": "q", "ԝ": "w", "ɡ": "g", "ɪ": "i", "ʏ": "y",
    "А": "A", "В": "B", "С": "C", "Е": "E", "Н": "H", "І": "I", "Ј": "J", "К": "K", "М": "M",
    "О": "O", "Р": "P", "Ѕ": "S", "Т": "T", "У": "Y", "Х": "X",
    "α": "a", "ο": "o", "ρ": "p", "τ": "t", "υ": "u", "ν": "v", "ι": "i", "κ": "k", "ε": "e",
    "Α": "A", "Β": "B", "Ε": "E", "Η": "H", "Ι": "I", "Κ": "K", "Μ": "M", "Ν": "N", "Ο": "O",
    "Ρ": "P", "Τ": "T", "Υ": "Y", "Χ": "X", "Ζ": "Z",
})
_LEET = str.maketrans({"0": "o", "1": "i", "3": "e", "4": "a", "5": "s", "7": "t", "@": "a",
                       "$": "s"})
_LEET_WORD = re.compile(r"(?<![\d.,])\b(?=[\w@$]*[a-zA-Z])(?=[\w@$]*[013457@$])[\w@$]{4,}\b")


def normalise(text: str) -> str:
    """The folded copy of ``text`` that injection patterns are matched against."""
    folded = unicodedata.normalize("NFKC", text).translate(_INVISIBLE).translate(_HOMOGLYPHS)
    folded = "".join(
        c for c in unicodedata.normalize("NFKD", folded) if not unicodedata.combining(c)
    )
    folded = _LEET_WORD.sub(lambda m: m.group(0).translate(_LEET), folded)
    return " ".join(folded.split()).lower()


def _rx(alternatives: str) -> re.Pattern[str]:
    return re.compile(r"(?<![\w-])(?:" + alternatives + r")(?![\w-])")


_PRIOR = (r"(?:all |any |the |your |my |of the |everything )*(?:previous|prior|above|earlier"
          r"|preceding|former|original|initial|system|developer|default|existing|current)?")
_RULES = r"(?:instructions?|prompts?|rules|messages|context|guidelines|directions|orders|commands"
_RULES += r"|programming|constraints|policies|guardrails|directives|settings|training)"

# (signal, pattern) on the normalised text.
PATTERNS: tuple[tuple[str, re.Pattern[str]], ...] = (
    ("override", _rx(
        rf"(?:ignore|disregard|forget|override|bypass|skip|drop|abandon|discard) {_PRIOR} ?{_RULES}"
        r"|(?:ignore|disregard|forget) (?:all |everything )?(?:the )?(?:above|before|previous"
        r"|prior|earlier)(?: text| message| content)?"
        r"|(?:do not|don't|dont|never) (?:follow|obey|listen to) (?:your|the|any) "
        rf"(?:\w+ )?{_RULES}|new (?:instructions|rules|task|directive)s?\s*:"
        r"|(?:the )?(?:above|previous) (?:instructions|rules) (?:are|were) (?:void|cancelled|fake)"
    )),
    ("role_play", _rx(
        r"from now on,? you(?: are|'re| will| shall| must)|you are now|you're now|you are no longer"
        r"|you're no longer|act as|acting as|pretend (?:to be|you are|you're|that)|role-?play"
        r"|roleplay as|new persona|simulate (?:a|an|being)|behave as|respond as|play the role"
        r"|jailbreak|developer mode|dan mode|do anything now|(?:stay|remain) in character"
        r"|you (?:are|will be) \w+bot\b"
    )),
    ("speaks_as_system", re.compile(
        r"(?:^|[\n(\[{<\"'>]|[.!?] )\s*(?:system|assistant|developer|admin|administrator|root"
        r"|operator|ai|model|claude|gpt|chatgpt)\s*(?:prompt|message|note|override)?\s*[:>]"
        r"|<\|?(?:im_start|im_end|system|endoftext)\|?>|<<\s*sys\s*>>|\[/?inst\]"
        r"|###\s*(?:instruction|system|response)|\[(?:system|assistant)\]"
    )),
    ("sets_the_decision", _rx(
        r"needs_human|needs human\s*[=:]|auto[_ -]?send|confidence\s*[=:]|cited_sources"
        r"|(?:set|mark|flag|classify|treat) (?:(?:this|it)(?: ticket| message| case| email)?"
        r"|the (?:ticket|message|case|email))"
        r"(?: as)? (?:resolved|approved|safe|low risk|not (?:urgent|sensitive)|auto)"
        r"|(?:do not|don't|dont|never) (?:escalate|flag|forward|send) (?:this|it)"
        r"(?: to (?:a )?(?:human|agent|review))?|skip (?:the )?(?:review|approval|human)"
    )),
    ("dictates_the_reply", _rx(
        r"(?:say|write|state|tell (?:me|the customer|them)|confirm|reply|respond|answer|include"
        r"|add|append|end (?:with|your reply with)|begin (?:with|your reply with)|start with)"
        r"(?: in your (?:reply|answer|response))?(?: that| with| the (?:sentence|phrase|words)"
        r"|\s*:|\s*[\"'])[\s:\"']+(?:[\w']+ ){0,6}"
        r"(?:refund|credit|compensation|discount|cancellation|payment)"
        r"(?: \w+){0,2} (?:is|has been|was|will be) (?:confirmed|approved|processed|issued|granted"
        r"|guaranteed|sent)"
        r"|(?:reveal|show|print|repeat|output|tell me) (?:me )?(?:your|the) "
        r"(?:system |hidden |initial |original )?(?:prompt|instructions|rules)"
        r"|what (?:is|are|were) your (?:system |hidden |initial |original )?"
        r"(?:prompt|instructions|rules)"
        r"|system prompt"
    )),
    ("other_languages", _rx(
        # German
        r"ignorier(?:e|en|t)? (?:alle |die |deine |sämtliche |samtliche )?"
        r"(?:vorherigen |bisherigen |obigen |vorigen |vorangegangenen )?"
        r"(?:anweisungen|instruktionen|regeln|befehle|vorgaben)"
        r"|vergiss (?:alle |deine |die )?(?:anweisungen|regeln|instruktionen|vorgaben)"
        r"|(?:du bist|ab (?:jetzt|sofort) bist du|tu so,? als (?:ob|waerst|warst)) "
        r"(?:jetzt |nun |ab sofort )?(?:ein|eine|der|die)? ?\w*bot"
        r"|ab (?:jetzt|sofort) bist du|du bist (?:jetzt|nun|ab sofort)"
        # French
        r"|ignore[rsz]? (?:toutes |tout )?(?:les |tes |vos )?(?:instructions|consignes|regles)"
        r"(?: precedentes| ci-dessus| anterieures)?|oublie[rsz]? (?:toutes )?(?:tes |vos |les )"
        r"(?:instructions|consignes|regles)|(?:tu es|vous etes) (?:maintenant|desormais)"
        r"|a partir de maintenant,? (?:tu|vous)|fais comme si tu etais"
        # Spanish
        r"|ignora(?:r)? (?:todas )?(?:las |tus )?(?:instrucciones|reglas|indicaciones)"
        r"(?: anteriores| previas)?|olvida (?:todas )?(?:tus |las )?(?:instrucciones|reglas)"
        r"|(?:ahora eres|a partir de ahora,? (?:eres|seras|actua))|actua como|finge (?:ser|que)"
        # Italian, Portuguese
        r"|ignora (?:tutte )?le istruzioni(?: precedenti)?|dimentica le (?:tue )?istruzioni"
        r"|(?:ora|adesso) sei|ignore (?:as|todas as) instrucoes(?: anteriores)?"
        r"|esque(?:ca|ça) (?:as )?(?:suas )?instrucoes|agora voce e"
    )),
)


@dataclass(frozen=True, slots=True)
class InjectionFinding:
    """One injection signal and the (normalised) phrase that raised it."""

    signal: str
    phrase: str


def detect(text: str) -> tuple[InjectionFinding, ...]:
    """Every injection signal in ``text`` (empty when there is none), first phrase each."""
    folded = normalise(text)
    findings: list[InjectionFinding] = []
    for signal, pattern in PATTERNS:
        match = pattern.search(folded)
        if match is not None:
            findings.append(InjectionFinding(signal, " ".join(match.group(0).split())[:80]))
    return tuple(findings)
