"""The commitment check: promises in a draft that the passages do not state go to review.

A draft may be fluent and grounded in its numbers and links and still promise a refund, a
credit, a cancellation or a deadline the knowledge base never offers, or claim an action
was taken ("Your refund is confirmed", "I've cancelled your plan") that no one took. Each
sentence of the draft that makes such a commitment must be backed by a passage: one that
speaks of the same kind of thing (refund, credit, cancellation, deadline, policy) and holds
every number the sentence uses. A claim that an action was already taken is never backed by
passages (they describe policy, not what happened to this customer) and always goes to review.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

# kind -> (words that make a sentence a commitment of that kind, words a passage must use)
_KINDS: dict[str, tuple[str, str]] = {
    "refund": (
        r"refund\w*|reimburs\w*|money back|pay(?:ing)? (?:you )?back|r[üu]ckerstatt\w*"
        r"|erstatt\w*|rembours\w*|reembols\w*|devoluci[oó]n|rimbors\w*",
        r"refund|reimburs|money back|erstatt|rembours|reembols|devoluci|rimbors",
    ),
    "credit": (
        r"credit(?:s|ed)?|voucher\w*|coupon\w*|discount\w*|free (?:month|months|upgrade)"
        r"|compensat\w*|gutschein\w*|gutschrift\w*|rabatt\w*|avoir|bon d'achat|r[ée]duction"
        r"|cr[ée]dito|descuento|cup[oó]n",
        r"credit|voucher|coupon|discount|free month|compensat|gutschein|gutschrift|rabatt"
        r"|avoir|réduction|reduction|crédito|credito|descuento|cupón|cupon",
    ),
    "cancellation": (
        r"cancel\w*|terminat\w*|k[üu]ndig\w*|storn\w*|r[ée]sili\w*|annul\w*|cancelad\w*"
        r"|dar de baja|de baja",
        r"cancel|terminat|kündig|kundig|storn|résili|resili|annul|baja",
    ),
    "deadline": (
        r"within \d+|in \d+ (?:business |working )?(?:days?|hours?|weeks?)|by (?:monday|tuesday"
        r"|wednesday|thursday|friday|saturday|sunday|tomorrow|tonight|end of (?:day|week))"
        r"|(?:today|tomorrow)|innerhalb (?:von )?\d+|bis (?:morgen|montag|freitag)|sous \d+"
        r"|d'ici (?:demain|\d+)|en \d+ (?:d[íi]as|horas)|antes del?",
        r"within|days|hours|weeks|business day|innerhalb|tage|stunden|sous|jours|heures|días"
        r"|dias|horas",
    ),
    "policy": (
        r"guarantee\w*|entitled|free of charge|no (?:extra )?(?:fee|charge|cost)|at no cost"
        r"|never (?:charge|bill)|always (?:refund|free)|lifetime|exception|waive\w*"
        r"|kostenlos|gratuit\w*|gratis|sin costo|garanti\w*",
        r"guarantee|entitled|free of charge|no fee|no charge|at no cost|lifetime|waive"
        r"|kostenlos|gratuit|gratis|garanti",
    ),
}
_KIND_PATTERNS = {k: re.compile(rf"(?i)(?<!\w)(?:{w})(?!\w)") for k, (w, _) in _KINDS.items()}
_BACKING = {k: re.compile(rf"(?i){b}") for k, (_, b) in _KINDS.items()}

# "I have refunded", "we've issued a credit", "your refund is confirmed", "has been cancelled",
# "ich habe erstattet", "nous avons remboursé", "hemos reembolsado".
_ACTION_TAKEN = re.compile(
    r"(?i)\b(?:i|we)(?:'ve| have| just| already)+ (?:\w+ ){0,2}(?:refunded|issued|processed"
    r"|cancell?ed|credited|applied|approved|waived|sent|reversed|terminated|added|arranged"
    r"|initiated|asked billing|escalated)"
    r"|\b(?:has|have) (?:now |already |just )?been (?:\w+ )?(?:refunded|issued|processed|cancell?ed"
    r"|credited|applied|approved|waived|reversed|terminated|initiated)"
    r"|\b(?:is|are) (?:now )?(?:confirmed|approved|processed|cancell?ed|on (?:its|the) way)"
    r"|\b(?:ich habe|wir haben) (?:\w+ ){0,4}(?:erstattet|storniert|gekündigt|gutgeschrieben"
    r"|zurückerstattet)|\bwurde (?:\w+ )?(?:erstattet|storniert|gekündigt|gutgeschrieben)"
    r"|\b(?:j'ai|nous avons) (?:\w+ ){0,3}(?:rembours|annul|résili|crédit)\w*"
    r"|\b(?:he|hemos) (?:\w+ ){0,3}(?:reembolsado|cancelado|abonado|acreditado)"
)
_SENTENCE = re.compile(r"[^.!?\n]+[.!?]?")
_NUMBER = re.compile(r"\d+(?:[.,]\d+)?")


@dataclass(frozen=True, slots=True)
class Commitment:
    """One unbacked commitment: its kind, the sentence, and why it is not backed."""

    kind: str
    sentence: str
    reason: str


def unbacked_commitments(draft: str, passages: Iterable[str]) -> tuple[Commitment, ...]:
    """Commitments in ``draft`` that no passage states (empty when the draft makes none)."""
    texts = [p for p in passages if p]
    found: list[Commitment] = []
    for match in _SENTENCE.finditer(draft):
        sentence = " ".join(match.group(0).split())
        if not sentence:
            continue
        if _ACTION_TAKEN.search(sentence) and any(
            p.search(sentence) for p in _KIND_PATTERNS.values()
        ):
            found.append(Commitment("action_taken", sentence,
                                    "claims an action was taken; passages cannot back that"))
            continue
        for kind, pattern in _KIND_PATTERNS.items():
            if not pattern.search(sentence):
                continue
            numbers = _NUMBER.findall(sentence)
            backed = any(
                _BACKING[kind].search(text) and all(n in text for n in numbers)
                for text in texts
            )
            if not backed:
                why = (f"{kind} not stated in the passages" if not numbers
                       else f"{kind} with {', '.join(numbers)} not stated in the passages")
                found.append(Commitment(kind, sentence, why))
                break
    return tuple(found)
