"""Generalise an agent's answer before it is stored as a learned answer for other customers.

Pure and deterministic (it is what runs offline, and it runs after Claude when Claude
generalises first). From the answer it removes what belongs to the one customer's case:

* greetings and sign-offs however written ("Hi frank,", "Dear Ms Diaz", "Hallo Frau Weber",
  "Best, Bob", "Kind regards,\\nThe Acme team", "Cordialement", "Saludos"), also a second
  greeting the agent typed under the drafter's own;
* sentences that claim an action was taken or promise one for this customer ("I have
  refunded…", "I've cancelled…", "I've asked billing to…", "We will credit…");
* names (the customer's and agent's, given as ``names``), e-mail addresses, phone numbers,
  order / invoice / ticket ids, card endings, amounts and dates, replaced by placeholders
  such as ``[amount]``. Amounts, dates and numbers that the knowledge base itself states
  (``keep``: the passages the answer rests on) are policy, not the customer's case, and stay.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Protocol

from bot.pipeline.redact import redact

_GREETING_WORDS = (
    r"hi|hello|hey|hiya|dear|good (?:morning|afternoon|evening)|greetings|hallo|guten tag"
    r"|liebe[rs]?|sehr geehrte[rs]?|moin|servus|bonjour|bonsoir|salut|cher|ch[èe]re|hola"
    r"|buenos d[íi]as|buenas tardes|estimad[oa]|querid[oa]|ciao|buongiorno|gentile|ol[áa]|hej"
)
# A greeting with up to four following words (the name, "there", "Mr Smith") and its
# punctuation, at the start of the text or of a line.
_GREETING = re.compile(
    rf"(?im)^[ \t]*(?:{_GREETING_WORDS})\b(?:[ \t]+(?:[\w.'’-]+)){{0,4}}?[ \t]*[,!.:;—–-]+[ \t]*"
    rf"(?:\n|(?=\S))|^[ \t]*(?:{_GREETING_WORDS})\b(?:[ \t]+[\w.'’-]+){{0,3}}[ \t]*$\n?"
)
_SIGN_OFF_WORDS = (
    r"best(?: regards| wishes)?|regards|kind regards|warm regards|many thanks|thanks(?: again)?"
    r"|thank you|cheers|all the best|sincerely|yours(?: sincerely| truly)?|take care|talk soon"
    r"|viele gr[üu](?:ß|ss)e|beste gr[üu](?:ß|ss)e|mit freundlichen gr[üu](?:ß|ss)en|lg|vg"
    r"|gru(?:ß|ss)"
    r"|cordialement|bien [àa] vous|bonne journ[ée]e|amicalement|merci"
    r"|saludos(?: cordiales)?|un saludo|atentamente|gracias|un abrazo"
    r"|cordiali saluti|distinti saluti|atenciosamente|abra[çc]os"
)
# A sign-off line (alone, or followed by a name) and everything after it.
_SIGN_OFF = re.compile(
    rf"(?is)(?:^|\n|(?<=[.!?])[ \t]+)[ \t]*(?:{_SIGN_OFF_WORDS})\b[ \t]*[,.!—–-]*[ \t]*"
    r"(?:[A-Z][\w.'’-]*(?:[ \t]+[A-Z][\w.'’-]*){0,3}[ \t]*)?(?:\n.*)?$"
)
# Sentences that say something was done, or will be done, for this customer by us.
_ACTION = re.compile(
    r"(?i)\b(?:i|we)(?:'ve|’ve|'ll|’ll|'d|’d| have| had| will| just| already| now)+[ \t]+"
    r"(?:\w+[ \t]+){0,2}?(?:refund|issu|process|cancel|credit|appl|approv|waiv|sen[dt]|revers"
    r"|terminat|add|arrang|initiat|ask|escalat|forward|reset|updat|chang|fix|remov|delet"
    r"|upgrad|downgrad|extend|mov|creat|pass|notif|contact|check|look|reactivat|activat"
    r"|unlock|restor|shipp|replac|book|schedul|set)\w*"
    r"|\b(?:has|have) (?:now |already |just )?been (?:\w+ )?(?:refunded|issued|processed"
    r"|cancell?ed|credited|applied|approved|waived|reversed|terminated|sent|reset|updated"
    r"|shipped|removed|deleted|restored|extended|upgraded|escalated|forwarded)"
    r"|\b(?:is|are) (?:now )?(?:confirmed|approved|on (?:its|the) way)"
    r"|\b(?:ich habe|wir haben|habe ich|haben wir)\b[^.!?\n]*\b\w+(?:t|en)\b"
    r"|\b(?:j'ai|nous avons|je vais|nous allons)\b|\b(?:he|hemos|voy a|vamos a)\b"
)
# A period inside "a.weber@example.de", "2.50" or "e.g." does not end a sentence.
_SENTENCE = re.compile(r"(?:[^.!?\n]|[.!?](?![\s\"')]|$))*(?:[.!?]+[\"')]*|\n|$)")

_EMAIL = re.compile(r"(?i)\b[\w.+-]+@[\w-]+(?:\.[\w-]+)+\b")
# At least one separator and seven digits (checked in ``generalise``): "+49 30 1234567",
# "(555) 010-4477"; a bare "48213" is an order number, not a phone.
_PHONE = re.compile(
    r"(?<![\w/])(?:\+\d{1,3}[ .\-]?)?\(?\d{2,5}\)?(?:[ .\-/]\d{2,8}){1,4}(?![\w/])"
)
_CARD_ENDING = re.compile(
    r"(?i)\[card •+ ?\d{4}\]|(?:card |visa |mastercard |amex )?(?:ending|ends)(?: in| with)?"
    r"[ \t:]*\d{4}\b|last (?:four|4)(?: digits)?[ \t:]*(?:are |of )?\d{4}\b|•+ ?\d{4}"
)
_IDS: tuple[tuple[str, re.Pattern[str]], ...] = (
    ("[invoice id]", re.compile(
        r"(?i)\b(?:inv(?:oice)?|rechnung|facture|factura)(?:[ \t]*(?:no\.?|nr\.?|number|#|n°))?"
        r"[ \t:#-]*(?P<id>(?=[\w-]*\d)[A-Z0-9][\w-]{2,})\b|\b(?P<inv>INV-[\w-]+)\b")),
    ("[order id]", re.compile(
        r"(?i)\b(?:order|bestellung|commande|pedido|ordine)(?:[ \t]*(?:no\.?|nr\.?|number|#|n°))?"
        r"[ \t:#-]*(?P<id>(?=[\w-]*\d)[A-Z0-9][\w-]{2,})\b")),
    ("[ticket id]", re.compile(
        r"(?i)\b(?:ticket|case|request|incident|ref(?:erence)?)(?:[ \t]*(?:no\.?|nr\.?|number"
        r"|#|id))?[ \t:#-]*(?P<id>(?=[\w-]*\d)[A-Z0-9][\w-]{2,})\b")),
    ("[reference]", re.compile(r"#\d{3,}\b|\b(?=[A-Z0-9-]*\d)(?=[A-Z0-9-]*[A-Z])[A-Z0-9]{2,}"
                               r"(?:-[A-Z0-9]+){1,4}\b|\b\d{6,}\b")),
)
_CURRENCY = r"(?:[$€£¥]|usd|eur|gbp|chf|dollars?|euros?|pounds?)"
_AMOUNT = re.compile(
    rf"(?i){_CURRENCY}[ \t]?\d[\d,.']*(?:[ \t]?(?:k|m))?\b|\b\d[\d,.']*[ \t]?{_CURRENCY}(?!\w)"
)
_MONTHS = (r"jan(?:uary|uar|vier)?|feb(?:ruary|ruar)?|f[ée]v(?:rier)?|m[aä]r(?:ch|z|s)?|apr(?:il)?"
           r"|avr(?:il)?|may|mai|mayo|june?|juni|juin|july?|juli|juil(?:let)?|aug(?:ust)?|ao[uû]t"
           r"|sep(?:t(?:ember)?)?|oct(?:ober)?|okt(?:ober)?|nov(?:ember)?|dec(?:ember)?"
           r"|dez(?:ember)?|d[ée]c(?:embre)?|enero|febrero|marzo|abril|junio|julio|agosto"
           r"|septiembre|octubre|noviembre|diciembre")
_DATE = re.compile(
    rf"(?i)\b\d{{4}}-\d{{1,2}}-\d{{1,2}}\b|\b\d{{1,2}}[./]\d{{1,2}}[./]\d{{2,4}}\b"
    rf"|\b\d{{1,2}}(?:st|nd|rd|th|\.)?[ \t]+(?:of[ \t]+)?(?:{_MONTHS})\b\.?(?:[ \t]+\d{{4}})?"
    rf"|\b(?:{_MONTHS})\.?[ \t]+\d{{1,2}}(?:st|nd|rd|th)?\b(?:,?[ \t]+\d{{4}})?"
)


@dataclass(frozen=True, slots=True)
class Generalised:
    """The generalised answer and what was taken out (for the card and the tests)."""

    text: str
    removed_sentences: tuple[str, ...] = ()
    replaced: tuple[str, ...] = ()


def strip_greeting_and_sign_off(text: str) -> str:
    """``text`` without its greetings (also a second one) and its sign-off."""
    body = text.strip()
    for _ in range(3):  # "Hi frank,\n\nHi Erin, yes: ..." carries two
        stripped = _GREETING.sub("", body, count=1).lstrip() if _GREETING.match(body) else body
        if stripped == body:
            break
        body = stripped
    return _SIGN_OFF.sub("", body).strip()


def generalise(
    answer: str, *, names: Iterable[str] = (), keep: Iterable[str] = ()
) -> Generalised:
    """See the module docstring. ``names``: the customer's and agent's names (any parts);
    ``keep``: passages whose amounts, dates and ids are policy and may stay."""
    kept = "\n".join(keep)
    body = strip_greeting_and_sign_off(answer)
    replaced: list[str] = []

    def swap(placeholder: str, min_digits: int = 0) -> Callable[[re.Match[str]], str]:
        def apply(m: re.Match[str]) -> str:
            whole = m.group(0)
            if sum(c.isdigit() for c in whole) < min_digits:
                return whole
            group = next((g for g in ("id", "inv") if g in m.re.groupindex and m.group(g)), None)
            value = m.group(group) if group else whole
            if value.strip() and value.strip() in kept:
                return whole
            replaced.append(value.strip())
            if group is None:
                return placeholder
            start, end = m.start(group) - m.start(), m.end(group) - m.start()
            return whole[:start] + placeholder + whole[end:]

        return apply

    body = _EMAIL.sub(swap("[email]"), body)
    removed: list[str] = []
    pieces: list[str] = []
    for match in _SENTENCE.finditer(body):
        sentence = match.group(0)
        if sentence.strip() and _ACTION.search(sentence):
            removed.append(" ".join(sentence.split()))
            continue
        pieces.append(sentence)
    body = "".join(pieces)
    body = _CARD_ENDING.sub(swap("[card ending]"), body)
    body = _DATE.sub(swap("[date]"), body)
    body = _AMOUNT.sub(swap("[amount]"), body)
    body = _PHONE.sub(swap("[phone]", min_digits=7), body)
    for placeholder, pattern in _IDS:
        body = pattern.sub(swap(placeholder), body)
    parts = {p for name in names for p in re.split(r"[\s,]+", name or "") if len(p) >= 2}
    if parts:
        name_rx = re.compile(
            r"(?i)(?<!\w)(?:" + "|".join(re.escape(p) for p in sorted(parts, key=len, reverse=True))
            + r")(?!\w)"
        )
        body = name_rx.sub(swap("[name]"), body)
    text = re.sub(r"[ \t]+\n", "\n", re.sub(r"\n{3,}", "\n\n", body)).strip()
    text = re.sub(r"[ \t]{2,}", " ", text)
    return Generalised(text=text, removed_sentences=tuple(removed), replaced=tuple(replaced))


class Generaliser(Protocol):
    """Generalises an answer before it is stored as a learned answer."""

    async def generalise(self, answer: str, *, names: Iterable[str] = (),
                         keep: Iterable[str] = ()) -> Generalised: ...


class ScrubberGeneraliser:
    """The offline generaliser: the deterministic scrubber alone."""

    async def generalise(self, answer: str, *, names: Iterable[str] = (),
                         keep: Iterable[str] = ()) -> Generalised:
        """``generalise`` on the redacted answer."""
        return generalise(redact(answer), names=names, keep=keep)
