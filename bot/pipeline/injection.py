"""Prompt-injection detection on normalised text.

Customer text is data; a message that tries to instruct the model, change its role, speak as
the system or assistant, or set the decision the model returns goes to a human and the
drafter is told what was found. Detection runs on a folded copy of the text so that the
usual disguises do not help: Unicode NFKC (full-width and styled letters), zero-width and
soft-hyphen characters removed, Cyrillic and Greek look-alikes folded to Latin, accents
stripped, ``1gn0re``-style digits folded inside words, spaced-out letters joined, HTML and
markdown comments opened up, whitespace collapsed. Patterns cover English, German, French,
Spanish, Italian, Portuguese, Dutch, Polish, Russian and Japanese.
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
_LEET_WORD = re.compile(r"(?<![\d.,])\b(?=[\w@$]*[a-zA-Z])(?=[\w@$]*[013457@$])[\w@$]{3,}\b")


_LATIN = re.compile(r"[a-zA-Z]")
_WORD = re.compile(r"[^\W\d_]+")
# "i g n o r e": four or more single letters in a row, spaced out to dodge word patterns.
_SPACED = re.compile(r"(?<!\S)(?:[^\W\d_] ){3,}[^\W\d_](?!\S)")
# Hidden text: HTML comments and markdown reference-comments start a sentence of their own,
# so that "<!-- system: ... -->" reads like the role marker it hides.
_HIDDEN = re.compile(r"<!--|-->|\[//\]:\s*#")


def _fold_look_alikes(word: re.Match[str]) -> str:
    # Only words that mix scripts are disguises ("Ignоrе" with Cyrillic о and е); a word
    # wholly in Cyrillic or Greek is Russian or Greek and must stay readable to its patterns.
    text = word.group(0)
    return text.translate(_HOMOGLYPHS) if _LATIN.search(text) else text


def normalise(text: str) -> str:
    """The folded copy of ``text`` that injection patterns are matched against."""
    folded = unicodedata.normalize("NFKC", text).translate(_INVISIBLE)
    folded = _WORD.sub(_fold_look_alikes, folded)
    folded = "".join(
        c for c in unicodedata.normalize("NFKD", folded) if not unicodedata.combining(c)
    )
    folded = _LEET_WORD.sub(lambda m: m.group(0).translate(_LEET), folded)
    folded = _SPACED.sub(lambda m: m.group(0).replace(" ", ""), folded)
    folded = _HIDDEN.sub(" . ", folded)
    return " ".join(folded.split()).lower()


def _rx(alternatives: str, unspaced: str = "") -> re.Pattern[str]:
    spaced = r"(?<![\w-])(?:" + alternatives + r")(?![\w-])"
    return re.compile(spaced + (f"|(?:{unspaced})" if unspaced else ""))


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
        rf"(?:\w+ )?{_RULES}"
        r"|new (?:instruction|rule|task|directive|polic(?:y|ie))s?\b[^.:]{0,40}:"
        r"|(?:forget|vergiss|oublie|olvida|dimentica|esqueca) (?:everything|all|alles|tout|todo"
        r"|tutto|tudo)[ ,]+(?:(?:that )?you (?:were|have been|'ve been) told|was (?:man )?dir"
        r" (?:gesagt|befohlen)|ce qu'on t'a dit|lo que te (?:dijeron|han dicho)|quello che ti"
        r" (?:hanno detto|e stato detto)|o que te disseram|above|before)"
        r"|(?:ignore|disregard|forget) (?:the |your |all )?(?:knowledge base|articles?"
        r"|documentation"
        r"|docs|help ?cent(?:er|re)|sources|passages|polic(?:y|ies)|faq)"
        r"|(?:the )?(?:above|previous) (?:instructions|rules) (?:are|were) (?:void|cancelled|fake)"
    )),
    ("role_play", _rx(
        r"from now on,? you(?: are|'re| will| shall| must)"
        r"|(?:you are|you're) now (?:an?|in|the|my|free|allowed|unrestricted|\w+bot|dan)\b"
        r"|you are no longer|you're no longer|(?:^|[.!?:;] |please |you (?:will |must |should "
        r"|shall |now |are to |must now )?)act as|(?:you(?:'re| are) (?:now )?|start )acting as"
        r"|pretend (?:to be|you are|you're|that)|role-?play"
        r"|roleplay as|new persona|simulate (?:a|an|being)|(?:behave|respond) as (?:if|though"
        r"|an?)\b"
        r"|play the role|jailbreak|(?:enter|enable|activate|switch to|in) developer mode"
        r"|developer mode (?:enabled|on|activated)|dan mode|do anything now"
        r"|(?:stay|remain) in character"
        r"|you (?:are|will be) \w+bot\b"
    )),
    ("speaks_as_system", re.compile(
        r"(?:^|[\n(\[{<\"'>]|[.!?] )\s*(?:system|assistant|developer|admin|administrator|root"
        r"|operator|ai|model|claude|gpt|chatgpt)\s*(?:prompt|message|note|override)?\s*[:>]"
        # ... unless it is a bug report's "System: Windows 11" or "Model: iPhone 14"
        r"(?!\s*(?:windows|mac\w*|os x|linux|ubuntu|debian|ios|ipados|android|chrome\w*|firefox"
        r"|safari|edge|iphone|ipad|galaxy|pixel|samsung|dell|lenovo|v?\d))"
        r"|<\|?(?:im_start|im_end|system|endoftext)\|?>|<<\s*sys\s*>>|\[/?inst\]"
        r"|###\s*(?:instruction|system|response)|\[(?:system|assistant)\]"
        r"|[\"']role[\"']\s*:\s*[\"'](?:system|assistant|developer)[\"']"
    )),
    ("sets_the_decision", _rx(
        r"needs_human|needs human\s*[=:]|auto[_ -]?send|confidence\s*[=:]|cited_sources"
        r"|(?:set|mark|flag|classify|treat) (?:(?:this|it)(?: ticket| message| case| email"
        r"| conversation"
        r"| thread| request)?|the (?:ticket|message|case|email|conversation|thread|request))"
        r"(?: as)? (?:resolved|approved|safe|low risk|not (?:urgent|sensitive)|auto)"
        r"|(?:do not|don't|dont|never) (?:escalate|flag|forward|send|hand|pass|give|route)"
        r" (?:this|it)(?: ticket| message| case| conversation| email)?(?: (?:on |over )?to (?:an? "
        r"|the )?"
        r"(?:humans?|agents?|review|staff|people|person|support team))?"
        r"|skip (?:the )?(?:review|approval|human)|answer (?:it|this) yourself"
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
        r"|(?:^|[.!?:;] )(?:say|write|reply|respond|answer)(?: with| exactly)?\s*:?\s*[\"'“‘]"
        r"|(?:promise|guarantee) (?:an?|the|them|him|her|me|the customer) (?:\w+ )?(?:full )?"
        r"(?:refund|credit|discount|compensation)"
    )),
    ("addresses_the_model", _rx(
        # A note to "the AI" inside a customer's message is written for us, not for a person.
        r"(?:note|message|instructions?|hinweis|nachricht|anweisung(?:en)?|remarque|nota|mensaje)"
        r" (?:to|for|an|fur|pour|a|para|per) (?:the |den |die |das |l'|le |la |el |il |lo |o |a )?"
        r"(?:ai|ki|ia|llm|chat ?bot|bot|gpt|claude|model|modell|language model|assistant"
        r"|assistenten|asistente|assistente|ki-assistenten|ai assistant)\b"
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
        # Any of them with words in between ("vergiss alle vorherigen Anweisungen"), and
        # Dutch, Polish and Russian
        r"|(?:ignor\w*|zignoruj\w*|negeer|vergiss|vergeet|oublie\w*|olvida|dimentica|esqueca"
        r"|zapomnij|забудь|игнориру\w*) (?:\w+ ){0,3}(?:instructions?|anweisungen|instrucciones"
        r"|istruzioni|instrucoes|instructies|instrukcj\w*|инструкци\w*|consignes|regeln|reglas"
        r"|regole|regras|regels|zasad\w*|polecen\w*|правил\w*|указани\w*)"
        r"|haz caso omiso|omite (?:las |tus )?instrucciones|(?:da|d') ?ora in (?:poi"
        r"|avanti),? (?:sei|tu sei)"
        r"|a partir de agora,? (?:voce e|voce sera|seja)|vanaf nu ben je|od teraz jestes|теперь ты",
        r"(?:指示|命令|ルール|プロンプト|設定)[^。]{0,8}無視|これまでの指示|今から(?:あなた|君)は"
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
